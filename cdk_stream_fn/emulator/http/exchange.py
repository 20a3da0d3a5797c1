"""One request and its response: what is left to read, what may still be sent, and the bytes that frame it.

Sans-IO, as h11 is: the connection feeds it the request and asks it for the bytes of each part of the
response, which it then writes. A response goes out either whole (`whole_response`: a Content-Length
body) or in pieces (`start_response`, `body`, `end_response`: chunked for HTTP/1.1, delimited by the
close for HTTP/1.0).

Some responses have no body whatever their headers say (RFC 9112 6.3): the answer to HEAD (RFC 9110
9.3.2: the head a GET would get), and 204 and 304 (RFC 9110 15.3.5, 15.4.5), which get neither
Content-Length nor Transfer-Encoding and end with their head, so the connection stays usable. Body bytes
given for them are dropped here; the caller logs them if they came from a function. A final response is
never 1xx. Each head is built, and so checked, before the exchange counts the response as started: a
header that cannot be sent leaves the exchange free to answer with an error instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn

from cdk_stream_fn.emulator.http.framing import (
    BODYLESS_STATUSES,
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
        "sends_body",
        "trailers",
    )

    def __init__(self, request: Request | None = None, reading_body: bool = False) -> None:
        self.begin(request, reading_body)

    def begin(self, request: Request | None, reading_body: bool = False) -> None:
        """Start over for the connection's next request (h11's `start_next_cycle`: one object per
        connection rather than one per request, which the Runtime API's two requests per invocation feel)."""
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
        #: The started response carries body bytes (not for HEAD, 204 or 304).
        self.sends_body = False
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
        """The bytes of a whole response with a Content-Length body; `close` ends the connection after it.

        A 204 or 304 gets no Content-Length and must come without a body.
        """
        if self.response_started or not 200 <= status <= 999:
            self._refuse(status)
        close = close or self.must_close
        has_body = status not in BODYLESS_STATUSES  # 1xx was refused above
        if has_body and not headers:
            head = plain_response_head(status, content_type, len(body), close)
        else:
            if body and not has_body:
                raise ValueError(f"a {status} response has no body, got {len(body)} bytes")
            fields = [("content-type", content_type)]
            if has_body:
                fields.append(("content-length", str(len(body))))
            fields += headers
            if close:
                fields.append(("connection", "close"))
            head = response_head(status, fields)
        # Only now, with the head built and checked, has the response started.
        self.response_started = True
        self.awaiting_continue = False
        self.must_close = close
        return (head, body) if body and not self.head_only else (head,)

    def start_response(
        self, status: int, headers: Iterable[tuple[str, str]], body: bytes = b""
    ) -> list[bytes]:
        """The head of a response whose body follows in pieces, and its first piece `body`."""
        if self.response_started or not 200 <= status <= 999:
            self._refuse(status)
        fields = list(headers)
        has_body = status not in BODYLESS_STATUSES  # 1xx was refused above
        chunked = has_body and (self.request is None or self.request.http_version == "1.1")
        close = self.must_close or (has_body and not chunked)  # HTTP/1.0: the close ends the body
        if chunked:
            fields.append(("transfer-encoding", "chunked"))
        if close:
            fields.append(("connection", "close"))
        head = response_head(status, fields)
        self.response_started = True
        self.awaiting_continue = False
        self.must_close = close
        self.chunked = chunked
        self.sends_body = has_body and not self.head_only
        return [head, *self.body(body)]

    def body(self, data: bytes) -> list[bytes]:
        """The bytes that carry `data` as the next piece of a started body (nothing for empty data, and
        nothing for a response without a body)."""
        if not data or not self.sends_body:
            return []
        return [chunk_header(len(data)), data, CRLF] if self.chunked else [data]

    def end_response(self, data: bytes = b"") -> list[bytes]:
        """The last piece `data` of a started body, and what ends the body."""
        parts = self.body(data)
        if self.chunked and self.sends_body:
            parts.append(LAST_CHUNK)
        return parts

    @property
    def close_after_response(self) -> bool:
        """The connection must close after this response (either side said so, or the body is unread)."""
        return self.must_close or self.reading_body

    def _refuse(self, status: int) -> NoReturn:
        if self.response_started:
            raise RuntimeError("a response was already sent for this request")
        raise ValueError(f"a final response needs a status from 200 to 999, got {status}")
