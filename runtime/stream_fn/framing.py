"""Every byte the runtime frames, without any I/O, and the checks on every value framed.

Two layers, both turned into exact bytes here so that they can be tested byte for byte:

* the HTTP/1.1 requests to the Runtime API (RFC 9112): request heads, one chunk per body part, the
  last chunk with its trailer section (section 7.1);
* the HTTP integration response a function URL reads from a streamed body: a JSON prelude
  (``statusCode``, ``headers``, ``cookies``), then 8 NUL bytes, then the body.

The socket code (:mod:`stream_fn.runtime_api`) sends exactly the buffers these functions return. The
checks on what users give (header names and values, cookies, status codes, content types) live here
too, one rule each, so the stream, the decorator and the web adapters refuse the same things with
the same words: a bad value raises :class:`~stream_fn.errors.InvalidMetadataError` (a ``ValueError``)
saying what was wrong and what to do instead. Values are refused, never escaped: a CR or LF inside a
header value would end the header early and let the rest be read as framing.
"""

from __future__ import annotations

import json

from stream_fn.errors import InvalidMetadataError

TYPE_CHECKING = False
if (
    TYPE_CHECKING
):  # collections.abc and typing are not imported at run time: each is one more module per cold start
    from collections.abc import Iterable, Mapping
    from typing import Any

CRLF = b"\r\n"
LAST_CHUNK = b"0\r\n\r\n"
"""The zero-size chunk that ends a chunked body, with an empty trailer section."""

MAX_TRAILER_SECTION_BYTES = 4000
"""The most bytes the runtime puts in a trailer section (every field line and the final empty line).

RAPID, the Runtime API server, is a Go ``net/http`` server, and Go reads a request's trailer section
only within its 4 KiB read buffer (``net/http/transfer.go``, ``body.readTrailer`` and
``seeUpcomingDoubleCRLF``: "This limits the trailer to the underlying buffer size, typically 4kB").
Measured against RAPID built from aws/aws-lambda-runtime-interface-emulator: 4,095 bytes were
accepted, 4,099 bytes were answered ``400 TruncatedHTTPRequest`` and the caller saw
``Runtime.TruncatedResponse`` without the error. 4,000 leaves a margin under 4,096.
"""

DEFAULT_CONTENT_TYPE = "application/octet-stream"
"""A streamed response's content type unless the handler sets one (Node.js's default too)."""
HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
"""The content type that makes a function URL read the body as prelude + delimiter + HTTP body."""
PRELUDE_DELIMITER = b"\0" * 8
"""What ends the JSON prelude of an HTTP integration response (NUL cannot occur inside the JSON)."""

_PRELUDE_KEYS = ("statusCode", "headers", "cookies", "multiValueHeaders")
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TARGET_CHARS = frozenset(chr(code) for code in range(0x21, 0x7F))
_REQUEST_VALUE_CHARS = frozenset(chr(code) for code in range(0x20, 0x7F)) | {"\t"}
# RFC 9110 section 5.5: field-value = HTAB, SP, VCHAR (0x21-0x7E) and obs-text (0x80-0xFF).
_FIELD_VALUE_CHARS = _REQUEST_VALUE_CHARS | frozenset(chr(code) for code in range(0x80, 0x100))
_OUTSIDE_LATIN_1_ADVICE = (
    "HTTP field values are Latin-1 (tab, space, visible ASCII and 0x80-0xFF). Percent-encode the value "
    "(urllib.parse.quote), or for a parameter such as a file name use RFC 8187's encoding "
    "(filename*=UTF-8''caf%C3%A9)"
)


# -- HTTP/1.1 requests to the Runtime API -----------------------------------------------------------


def chunk_header(size: int) -> bytes:
    """Return the line that opens a chunk of ``size`` bytes (lower-case hex, as Node.js writes it)."""
    if size <= 0:
        raise ValueError(f"a chunk must hold at least one byte, got size {size} (a zero size ends the body)")
    return b"%x\r\n" % size


def chunk(data: Any, size: int) -> list[Any]:
    """Return the buffers of one chunk holding ``data`` (``size`` bytes, at least one), without copying it.

    Sent together in one ``sendmsg``: chunk header, ``data`` itself, CRLF. This is the hot path of
    every write, so ``size`` is the caller's (the stream never frames an empty write).
    """
    return [b"%x\r\n" % size, data, CRLF]


def chunks(parts: Iterable[Any]) -> tuple[list[Any], int]:
    """Return the buffers that frame each of ``parts`` as one chunk, and their size in bytes.

    Each part is a flat, non-empty byte buffer (bytes, bytearray, a one-dimensional ``B``
    memoryview), so ``len()`` is its size in bytes.
    """
    buffers: list[Any] = []
    size = 0
    for part in parts:
        part_size = len(part)
        header = b"%x\r\n" % part_size
        buffers += (header, part, CRLF)
        size += len(header) + part_size + 2
    return buffers, size


def encode_chunk(data: bytes) -> bytes:
    """Return ``data`` framed as one chunk, joined (the runtime sends :func:`chunk`'s buffers instead)."""
    return chunk_header(len(data)) + data + CRLF


def last_chunk(trailers: Iterable[tuple[str, str]] = ()) -> bytes:
    """Return the bytes that end a chunked body, carrying ``trailers`` as trailer fields."""
    fields = b"".join(_encode_field(name, value) for name, value in trailers)
    return b"0\r\n" + fields + CRLF


def trailer_section_size(trailers: Iterable[tuple[str, str]]) -> int:
    """The bytes of the trailer section :func:`last_chunk` frames for ``trailers``.

    That is every trailer field line and the final empty line, the part RAPID must hold in its read
    buffer (see :data:`MAX_TRAILER_SECTION_BYTES`); the ``0`` line before it is not counted.
    """
    return len(last_chunk(trailers)) - len(b"0\r\n")


def request_head(method: str, target: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """Return an HTTP/1.1 request line and header section, ending with the blank line."""
    return request_line(method, target) + encode_fields(headers) + CRLF


def request_line(method: str, target: str) -> bytes:
    """Return ``METHOD target HTTP/1.1`` and its CRLF."""
    if not method or not set(method) <= _TOKEN_CHARS:
        raise ValueError(f"invalid HTTP method {method!r}")
    if not target.startswith("/") or not set(target) <= _TARGET_CHARS:
        raise ValueError(f"invalid request target {target!r}: it must be an absolute path of visible ASCII")
    return f"{method} {target} HTTP/1.1\r\n".encode("ascii")


def encode_fields(headers: Iterable[tuple[str, str]]) -> bytes:
    """Return header fields as ``Name: value`` lines, each checked and ended with CRLF."""
    return b"".join(_encode_field(name, value) for name, value in headers)


def check_request_field_value(name: str, value: str) -> str:
    """Return ``value`` if the runtime can send it in its own requests as header ``name``, else raise.

    Stricter than :func:`check_header_value`: visible ASCII, space and tab only, with no leading or
    trailing whitespace (RFC 9110 field-value without obs-text), so that every byte the runtime
    writes to the Runtime API is plain ASCII.
    """
    if not isinstance(value, str):
        raise TypeError(f"the value of header {name!r} must be a str, not {type(value).__name__!r}")
    if not set(value) <= _REQUEST_VALUE_CHARS or value != value.strip(" \t"):
        raise InvalidMetadataError(
            f"invalid value for header {name!r}: {value!r}; use printable ASCII only, without line breaks "
            "or control characters, and without leading or trailing spaces"
        )
    return value


def check_field_name(name: Any) -> str:
    """Return ``name`` if it is a valid header field name (an RFC 9110 token), else raise."""
    if not isinstance(name, str) or not name or not set(name) <= _TOKEN_CHARS:
        raise InvalidMetadataError(
            f"invalid header name {name!r}: a header name is an RFC 9110 token, so use letters, digits and "
            "-!#$%&'*+.^_`|~ only"
        )
    return name


def _encode_field(name: str, value: str) -> bytes:
    check_field_name(name)
    check_request_field_value(name, value)
    return f"{name}: {value}\r\n".encode("ascii")


# -- what users set: status, headers, cookies, content type ----------------------------------------


def check_status(status: Any, what: str = "status_code") -> int:
    """Return ``status`` if a function URL can answer with it (an int from 200 to 599), else raise.

    The prelude carries the one status line the caller gets. An interim status (1xx: 100 Continue,
    101 Switching Protocols, 103 Early Hints) would reach the caller as an interim response with no
    final response after it (RFC 9110 section 15.2), so it is refused with what to use instead.
    AWS documents no handling of 1xx in a prelude.
    """
    if type(status) is not int or not 100 <= status <= 599:
        raise InvalidMetadataError(f"{what} must be an int from 200 to 599, got {status!r}")
    if status < 200:
        raise InvalidMetadataError(
            f"{what} must be an int from 200 to 599, got {status}: 1xx statuses are interim responses, "
            "which a function URL cannot send (the response has exactly one status). Give the final "
            "status, e.g. 200; for 103 Early Hints, send the Link headers with the final response"
        )
    return status


def check_header_value(name: str, value: Any) -> str:
    """Return ``value`` if it can be the value of response header ``name``, else raise.

    RFC 9110's field-value range: tab, space, visible ASCII and 0x80-0xFF (obs-text, so Latin-1
    letters such as é pass). No CR, LF, NUL or other control character, and nothing beyond Latin-1,
    which no HTTP/1.1 header can carry.
    """
    if not isinstance(value, str):
        raise InvalidMetadataError(
            f"the value of header {name!r} must be a str, got {type(value).__name__!r}; "
            "join repeated values with ', ' or pass cookies separately"
        )
    bad = _first_bad_field_char(value)
    if bad is not None:
        raise InvalidMetadataError(_bad_char_message(f"the value of header {name!r}", value, bad))
    return value


def check_cookie(cookie: Any) -> str:
    """Return ``cookie`` (one ``Set-Cookie`` value) if it can be sent, else raise (the header value rules)."""
    if not isinstance(cookie, str):
        raise InvalidMetadataError(f"each cookie must be a Set-Cookie str, got {cookie!r}")
    bad = _first_bad_field_char(cookie)
    if bad is not None:
        raise InvalidMetadataError(_bad_char_message("a cookie", cookie, bad))
    return cookie


def check_content_type(content_type: Any) -> str:
    """Return ``content_type`` if it can be sent as the Content-Type header, else raise."""
    try:
        if content_type == "":
            raise ValueError("it is empty; give a media type such as text/plain")
        return check_request_field_value("Content-Type", content_type)
    except (TypeError, ValueError) as error:
        raise InvalidMetadataError(f"invalid content type: {error}") from None


def _first_bad_field_char(value: str) -> int | None:
    """The index of the first character outside the field-value range, or None."""
    if value.isascii() and value.isprintable():  # the common case: 0x20-0x7E only
        return None
    for index, char in enumerate(value):
        if char not in _FIELD_VALUE_CHARS:
            return index
    return None


def _bad_char_message(what: str, value: str, index: int) -> str:
    char = value[index]
    found = f"{char!r} (U+{ord(char):04X}) at position {index} of {value!r}"
    if ord(char) > 0xFF:
        return f"{what} has {found}, a character outside Latin-1: {_OUTSIDE_LATIN_1_ADVICE}"
    return (
        f"{what} must not contain CR, LF or NUL, nor any other control character: found {found}; remove it "
        "(a line break would end the header and let the rest be read as another one)"
    )


# -- the HTTP integration prelude ------------------------------------------------------------------


def encode_prelude(
    status_code: int | None = None,
    headers: Mapping[str, str] | None = None,
    cookies: Iterable[str] | None = None,
    multi_value_headers: Mapping[str, Iterable[str]] | None = None,
) -> bytes:
    """Check the HTTP metadata and return the JSON prelude (without the delimiter).

    The JSON is ASCII (non-ASCII characters escaped), so the NUL delimiter cannot occur inside it.
    """
    document: dict[str, Any] = {"statusCode": check_status(200 if status_code is None else status_code)}
    if headers is not None:
        document["headers"] = _check_headers(headers)
    if cookies is not None:
        document["cookies"] = _check_cookies(cookies)
    if multi_value_headers is not None:
        document["multiValueHeaders"] = _check_multi_value_headers(multi_value_headers)
    return json.dumps(document, separators=(",", ":")).encode()


def prelude_from_mapping(prelude: Mapping[str, Any]) -> bytes:
    """Check Node's prelude dict (``statusCode``, ``headers``, ``cookies``, ``multiValueHeaders``)."""
    if not hasattr(prelude, "keys"):
        raise InvalidMetadataError(f"the HTTP prelude must be a dict, got {type(prelude).__name__!r}")
    unknown = [key for key in prelude if key not in _PRELUDE_KEYS]
    if unknown:
        raise InvalidMetadataError(
            f"unknown HTTP prelude key(s) {', '.join(map(repr, unknown))}: use {', '.join(_PRELUDE_KEYS)} "
            "(or the keyword arguments status_code, headers, cookies)"
        )
    return encode_prelude(
        prelude.get("statusCode"),
        prelude.get("headers"),
        prelude.get("cookies"),
        prelude.get("multiValueHeaders"),
    )


def _check_headers(headers: Any) -> dict[str, str]:
    if not hasattr(headers, "items"):
        raise InvalidMetadataError(f"headers must be a dict of str to str, got {type(headers).__name__!r}")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        check_field_name(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        checked[name] = check_header_value(name, value)
    return checked


def _check_cookies(cookies: Any) -> list[str]:
    if isinstance(cookies, (str, bytes)) or not hasattr(cookies, "__iter__"):
        raise InvalidMetadataError(
            f"cookies must be a list of Set-Cookie strings, got {type(cookies).__name__!r}"
        )
    return [check_cookie(cookie) for cookie in cookies]


def _check_multi_value_headers(headers: Any) -> dict[str, list[str]]:
    if not hasattr(headers, "items"):
        raise InvalidMetadataError(
            f"multiValueHeaders must be a dict of str to lists of str, got {type(headers).__name__!r}"
        )
    checked: dict[str, list[str]] = {}
    for name, values in headers.items():
        if not isinstance(name, str) or isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise InvalidMetadataError(f"multiValueHeaders[{name!r}] must be a list of str, got {values!r}")
        check_field_name(name)
        checked[name] = [_check_headers({name: value})[name] for value in values]
    return checked
