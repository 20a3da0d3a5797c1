"""One request and its response: what is left to read, what may still be sent, and the bytes that frame it.

Sans-IO, as h11 is: the connection feeds it the request and asks it for the bytes of each part of the
response, which it then writes. A response goes out either whole (`whole_response`: a Content-Length
body) or in pieces (`start_response`, `body`, `end_response`: chunked for HTTP/1.1, delimited by the
close for HTTP/1.0). The answer to HEAD carries the head only.
"""

from __future__ import annotations

from collections.abc import Iterable

from cdk_stream_fn.emulator.http.framing import (
    CRLF,
    LAST_CHUNK,
    chunk_header,
    plain_response_head,
    response_head,
)
from cdk_stream_fn.emulator.http.parsing import Request


class Exchange:
    """The state of one request and its response on a connection.

    `request` is None for an exchange that answers input which is not a request (malformed bytes): its
    answer is HTTP/1.1 and closes the connection.
    """

    __slots__ = (
        "awaiting_continue",
        "chunked",
        "head_only",
        "must_close",
        "reading_body",
        "request",
        "response_started",
        "trailers",
    )

    def __init__(self, request: Request | None = None, *, reading_body: bool = False) -> None:
        self.request = request
        #: The request's body has not been read to its end yet.
        self.reading_body = reading_body
        #: Its trailers, once the body was read to its end.
        self.trailers: list[tuple[bytes, bytes]] = []
        #: The peer waits for `100 Continue` before it sends the body.
        self.awaiting_continue = reading_body and request is not None and request.expects_continue
        self.head_only = request is not None and request.method == "HEAD"
        #: The connection closes after this response (either side said so).
        self.must_close = request is None or not request.keep_alive
        self.response_started = False
        self.chunked = False

    def whole_response(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str,
        headers: Iterable[tuple[str, str]] = (),
        close: bool = False,
    ) -> tuple[bytes, ...]:
        """The bytes of a whole response with a Content-Length body; `close` ends the connection after it."""
        close = self._start(close)
        if headers:
            fields = [("content-type", content_type), ("content-length", str(len(body))), *headers]
            if close:
                fields.append(("connection", "close"))
            head = response_head(status, fields)
        else:
            head = plain_response_head(status, content_type, len(body), close)
        return (head, body) if body and not self.head_only else (head,)

    def start_response(
        self, status: int, headers: Iterable[tuple[str, str]], body: bytes = b""
    ) -> list[bytes]:
        """The head of a response whose body follows in pieces, and its first piece `body`."""
        fields = list(headers)
        if self.request is None or self.request.http_version == "1.1":
            fields.append(("transfer-encoding", "chunked"))
            self.chunked = True
        else:
            self.must_close = True
        if self._start(False):
            fields.append(("connection", "close"))
        return [response_head(status, fields), *self.body(body)]

    def body(self, data: bytes) -> list[bytes]:
        """The bytes that carry `data` as the next piece of a started body (nothing for empty data)."""
        if not data or self.head_only:
            return []
        return [chunk_header(len(data)), data, CRLF] if self.chunked else [data]

    def end_response(self, data: bytes = b"") -> list[bytes]:
        """The last piece `data` of a started body, and what ends the body."""
        parts = self.body(data)
        if self.chunked and not self.head_only:
            parts.append(LAST_CHUNK)
        return parts

    @property
    def close_after_response(self) -> bool:
        """The connection must close after this response (either side said so, or the body is unread)."""
        return self.must_close or self.reading_body

    def _start(self, close: bool) -> bool:
        """Note that the response starts (once only); return whether the connection closes after it."""
        if self.response_started:
            raise RuntimeError("a response was already sent for this request")
        self.response_started = True
        self.awaiting_continue = False
        if close:
            self.must_close = True
        return self.must_close
