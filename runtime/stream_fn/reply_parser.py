"""The Runtime API's replies, parsed without I/O: bytes in, whole replies out (h11's shape).

The blocking client (:mod:`stream_fn.runtime_api`) reads a reply by calling ``recv`` until it has one;
a connection driven by an event loop (:mod:`stream_fn.loop_client`) cannot, so it hands whatever
arrived to a :class:`ReplyParser` and asks for a reply when the bytes are complete. The parser knows
just enough HTTP/1.1 for the Runtime API: a status line, header fields, and a body framed by
``Content-Length``, by chunked transfer coding (trailers are read and dropped), or by the end of the
connection; interim 1xx replies are skipped. Anything else is a :class:`RuntimeApiUnavailableError`
that says what was wrong, as the blocking client raises it.
"""

from __future__ import annotations

from stream_fn.runtime_api import Response, RuntimeApiUnavailableError, parse_chunk_size, parse_reply_head

MAX_HEAD_BYTES = 65536
MAX_CHUNK_LINE_BYTES = 1024

_HEAD = 0
_LENGTH = 1
_CHUNK_SIZE = 2
_CHUNK_DATA = 3
_CHUNK_END = 4
_TRAILERS = 5
_TO_EOF = 6


class ReplyParser:
    """Parses the replies of one connection, one after the other.

    ``feed(data)`` takes what arrived; ``next_reply()`` returns a complete :class:`Response` or None
    while more bytes are needed; ``feed_eof()`` says the server closed the connection (which completes
    a reply framed by the end of the connection, and is an error in the middle of any other).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._state = _HEAD
        self._status = 0
        self._headers: dict[str, str] = {}
        self._keep_alive = True
        self._remaining = 0
        self._body: list[bytes] = []
        self._eof = False

    @property
    def idle(self) -> bool:
        """True between replies with nothing buffered (bytes now would be a reply nobody asked for)."""
        return self._state == _HEAD and not self._buffer

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def feed_eof(self) -> None:
        self._eof = True

    def next_reply(self) -> Response | None:
        """The next complete reply, or None until more bytes arrive; raise if the bytes are not a reply."""
        while True:
            state = self._state
            if state == _HEAD:
                if not self._parse_head():
                    return None
            elif state == _LENGTH:
                if len(self._buffer) < self._remaining:
                    self._unless_ended("in the middle of a reply")
                    return None
                self._take_body(self._remaining)
                return self._complete()
            elif state == _CHUNK_SIZE:
                line = self._line(MAX_CHUNK_LINE_BYTES, "a chunk size line")
                if line is None:
                    return None
                self._start_chunk(line)
            elif state == _CHUNK_DATA:
                if len(self._buffer) < self._remaining:
                    self._unless_ended("in the middle of a chunk")
                    return None
                self._take_body(self._remaining)
                self._state = _CHUNK_END
            elif state == _CHUNK_END:
                if len(self._buffer) < 2:
                    self._unless_ended("in the middle of a chunk")
                    return None
                if self._buffer[:2] != b"\r\n":
                    raise RuntimeApiUnavailableError("a chunk in a reply was not followed by CRLF")
                del self._buffer[:2]
                self._state = _CHUNK_SIZE
            elif state == _TRAILERS:
                line = self._line(MAX_HEAD_BYTES, "the trailers of a reply")
                if line is None:
                    return None
                if not line:
                    return self._complete()  # trailer fields of a reply carry nothing the runtime needs
            else:  # _TO_EOF
                if not self._eof:
                    return None
                self._take_body(len(self._buffer))
                self._keep_alive = False
                return self._complete()

    # -- the parts of a reply ---------------------------------------------------------------------

    def _parse_head(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD_BYTES:
                raise RuntimeApiUnavailableError("the Runtime API sent a reply head that is too large")
            if self._eof:
                raise RuntimeApiUnavailableError(
                    "the Runtime API closed the connection before replying"
                    if not self._buffer
                    else "the Runtime API closed the connection in the middle of a reply head"
                )
            return False
        head = bytes(self._buffer[:end])
        del self._buffer[: end + 4]
        code, headers, keep_alive = parse_reply_head(head)
        if code < 200:
            return True  # an interim reply: the real one follows
        self._status = code
        self._headers = headers
        self._keep_alive = keep_alive
        self._body = []
        if code in (204, 304):
            self._state, self._remaining = _LENGTH, 0
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._state = _CHUNK_SIZE
        elif "content-length" in headers:
            length = headers["content-length"]
            if not length.isdigit():
                raise RuntimeApiUnavailableError(f"invalid Content-Length {length!r}")
            self._state, self._remaining = _LENGTH, int(length)
        else:
            self._state = _TO_EOF
        return True

    def _start_chunk(self, line: bytes) -> None:
        size = parse_chunk_size(line)
        if size == 0:
            self._state = _TRAILERS
        else:
            self._state, self._remaining = _CHUNK_DATA, size

    def _line(self, limit: int, what: str) -> bytes | None:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > limit:
                raise RuntimeApiUnavailableError(f"the Runtime API sent {what} that is too long")
            self._unless_ended(f"in {what}")
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    def _take_body(self, size: int) -> None:
        if size:
            self._body.append(bytes(self._buffer[:size]))
            del self._buffer[:size]

    def _unless_ended(self, where: str) -> None:
        """More bytes are needed: fine, unless the connection has ended."""
        if self._eof:
            raise RuntimeApiUnavailableError(f"the Runtime API closed the connection {where}")

    def _complete(self) -> Response:
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        response = Response(self._status, self._headers, body, self._keep_alive)
        self._state = _HEAD
        self._body = []
        self._headers = {}
        return response
