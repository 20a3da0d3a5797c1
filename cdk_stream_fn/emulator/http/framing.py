"""The bytes of HTTP/1.1 responses: status line and headers, chunked body framing.

Sans-IO and small on purpose: the emulator's servers send few kinds of responses, and building them here
costs a fraction of a general HTTP library's event machinery. Whatever reaches a head is checked whole
before any of it is sent: names must be tokens and values field values (RFC 9110 5.1 and 5.5: no CR, LF,
NUL or other control character, nothing outside Latin-1), so a header from a function, a runtime or a
client can never smuggle a header, end the head early, or fail half-way through the head.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from http import HTTPStatus

#: `100 Continue`, sent when a client that asked for it (`Expect: 100-continue`) may send its body.
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
#: The zero-length chunk that ends a chunked body (no trailers).
LAST_CHUNK = b"0\r\n\r\n"
#: What ends every chunk's data.
CRLF = b"\r\n"

_REASONS = {status.value: status.phrase for status in HTTPStatus}
#: RFC 9110 5.6.2: what a header name is made of.
_TOKEN_CHARS = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_TOKEN = re.compile(_TOKEN_CHARS)
#: RFC 9110 5.5: a field value is visible ASCII, space, tab and obs-text (bytes 0x80-0xFF, Latin-1 here).
_NOT_IN_VALUE = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
#: Header names already found to be tokens (a server sends few distinct names), so most heads check no
#: name again; bounded, as a client can choose names a function echoes.
_TOKENS_SEEN: set[str] = set()
_MAX_TOKENS_SEEN = 1024
#: Final statuses whose responses never have a body, whatever their headers say (RFC 9112 6.3).
BODYLESS_STATUSES = frozenset({204, 304})


class UnsafeHeaderError(ValueError):
    """A header cannot go into a response head: its name is not a token or its value not a field value."""


def status_has_body(status: int) -> bool:
    """Whether a response with `status` may have a body: not 1xx, 204 or 304 (RFC 9112 6.3, RFC 9110 15.3.5
    and 15.4.5). The answer to HEAD has none either, whatever its status."""
    return status >= 200 and status not in BODYLESS_STATUSES


def is_token(name: str) -> bool:
    """Whether `name` may be a header name (an RFC 9110 token)."""
    return _TOKEN.fullmatch(name) is not None


def value_problem(value: str) -> str | None:
    """What makes `value` unfit for a header value, worded to follow "header 'x-name' ", or None."""
    bad = _NOT_IN_VALUE.search(value)
    if bad is None:
        return None
    char = bad.group()
    if char in "\r\n\0":
        return "contains CR, LF or NUL"
    if ord(char) > 0xFF:
        return (
            f"has {char!r} (U+{ord(char):04X}) at position {bad.start()}, outside Latin-1: header values "
            "are bytes, so encode such text (percent-encoding, or RFC 8187 for parameters)"
        )
    return f"contains the control character {char!r}"


def response_head(status: int, headers: Sequence[tuple[str, str]]) -> bytes:
    """The status line and headers of a response, with the standard reason phrase, ready to send.

    The head is checked whole, so that it is well-formed HTTP or not sent at all: each name a token, each
    value a field value. Raises `UnsafeHeaderError`, naming the header, for a name that is not a token or
    a value with CR, LF, NUL, another control character or text outside Latin-1.
    """
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n"]
    for name, value in headers:
        if name not in _TOKENS_SEEN:
            if _TOKEN.fullmatch(name) is None:
                raise UnsafeHeaderError(f"header name {name[:80]!r} is not a valid HTTP token")
            if len(_TOKENS_SEEN) < _MAX_TOKENS_SEEN:
                _TOKENS_SEEN.add(name)
        # Printable ASCII, the common value, is decided by two C calls; the rest by the full rule.
        if not (value.isascii() and value.isprintable()) and _FIELD_VALUE.fullmatch(value) is None:
            raise UnsafeHeaderError(f"header {name!r} {value_problem(value)}")
        lines.append(f"{name}: {value}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


@functools.lru_cache(maxsize=256)
def plain_response_head(status: int, content_type: str, content_length: int, close: bool) -> bytes:
    """`response_head` for a response with only a content type, a length and maybe `connection: close`:
    most of the emulator's answers (RAPID's 202 above all), so each shape is built once."""
    headers = [("content-type", content_type), ("content-length", str(content_length))]
    if close:
        headers.append(("connection", "close"))
    return response_head(status, headers)


def chunk_header(size: int) -> bytes:
    """What precedes `size` bytes of data in a chunked body (the data is followed by `CRLF`)."""
    return b"%x\r\n" % size
