"""The bytes of HTTP/1.1 responses: status line and headers, chunked body framing.

Sans-IO and small on purpose: the emulator's servers send few kinds of responses, and building them here
costs a fraction of a general HTTP library's event machinery. Whatever reaches a head is checked once for
the characters that would break framing (CR, LF, NUL), so a header value from a function, a runtime or a
client can never smuggle a header or end the head early.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from http import HTTPStatus

#: `100 Continue`, sent when a client that asked for it (`Expect: 100-continue`) may send its body.
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
#: The zero-length chunk that ends a chunked body (no trailers).
LAST_CHUNK = b"0\r\n\r\n"
#: What ends every chunk's data.
CRLF = b"\r\n"

_REASONS = {status.value: status.phrase for status in HTTPStatus}
_BREAKS_FRAMING = re.compile(r"[\r\n\0]")


class UnsafeHeaderError(ValueError):
    """A header name or value contains CR, LF or NUL."""


def response_head(status: int, headers: Iterable[tuple[str, str]]) -> bytes:
    """The status line and headers of a response, with the standard reason phrase, ready to send.

    Raises `UnsafeHeaderError` for CR, LF or NUL in a header, `UnicodeEncodeError` for text that is not
    Latin-1 (HTTP header bytes).
    """
    fields = [f"{name}: {value}" for name, value in headers]
    if _BREAKS_FRAMING.search("".join(fields)):
        unsafe = next(field for field in fields if _BREAKS_FRAMING.search(field))
        raise UnsafeHeaderError(f"header contains CR, LF or NUL: {unsafe[:80]!r}")
    status_line = f"HTTP/1.1 {status} {_REASONS.get(status, '')}"
    return "\r\n".join([status_line, *fields, "", ""]).encode("latin-1")


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
