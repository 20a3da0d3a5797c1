"""Incremental parsing of HTTP/1.1 requests: bytes in, an ordered queue of request events out.

httptools (llhttp, the C parser behind Node.js and uvicorn) does the protocol: request line and headers,
Content-Length and chunked bodies, trailers (reported through `on_header` after the last body piece),
keep-alive, request smuggling checks. This module turns its callbacks into events a connection consumes
at its own pace (`Request`, body `bytes`, `EndOfMessage`), adds the limits llhttp leaves to its user
(header bytes, trailer bytes, HTTP versions), and puts malformed input in the queue as a `BadRequest`
at the place it was found, so everything that came before it is still served.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import httptools

from cdk_stream_fn.emulator import limits

#: The HTTP versions served; llhttp also accepts HTTP/0.9 and 2.0 request lines.
_SUPPORTED_VERSIONS = frozenset({"1.0", "1.1"})


class BadRequest(Exception):
    """The peer sent something that is not a valid HTTP/1.1 request; `status` is the answer it gets."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class Request:
    """A request head. Header names are lower-case; values are the bytes the peer sent."""

    method: str
    target: str
    http_version: str
    headers: list[tuple[bytes, bytes]]
    #: The peer lets the connection carry another request after this one (HTTP/1.1 without `close`).
    keep_alive: bool

    def header(self, name: bytes) -> str | None:
        """The first value of header `name` (lower-case), decoded as Latin-1, or None."""
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None

    @property
    def content_length(self) -> int | None:
        """The body size the peer announced (`Content-Length`, which llhttp has checked), or None."""
        declared = self.header(b"content-length")
        return int(declared) if declared is not None else None

    @property
    def expects_continue(self) -> bool:
        """The peer waits for `100 Continue` before it sends the body (`Expect: 100-continue`)."""
        expect = self.header(b"expect")
        return expect is not None and expect.lower() == "100-continue"


@dataclass(slots=True)
class EndOfMessage:
    """The end of a request body, with the trailers that followed a chunked body."""

    trailers: list[tuple[bytes, bytes]]


#: What a `RequestParser` queues: a head, a body piece, the end of a body, or the input's first error.
RequestEvent = Request | bytes | EndOfMessage | BadRequest


class RequestParser:
    """Feed bytes as they arrive; take the events they complete with `next_event`.

    After a `BadRequest` or an upgrade request (`Upgrade:`, `CONNECT`), `closed` is True: what follows
    is not HTTP, so nothing more is parsed and the connection must close after its last answer.
    """

    def __init__(
        self,
        *,
        max_header_bytes: int = limits.MAX_HEADER_BYTES,
        max_trailer_bytes: int = limits.MAX_TRAILER_BYTES,
    ) -> None:
        self.closed = False
        #: Part of a request head has arrived, not all of it (what a header timeout watches).
        self.reading_head = False
        #: Bytes parsed and not yet taken (body pieces, request heads, trailers): what a connection
        #: bounds to apply backpressure, whether a peer streams a body or piles up requests.
        self.queued_bytes = 0
        self._events: collections.deque[RequestEvent] = collections.deque()
        #: The size of each queued event that is not a body piece, in order.
        self._sizes: collections.deque[int] = collections.deque()
        self._max_header_bytes = max_header_bytes
        self._max_trailer_bytes = max_trailer_bytes
        #: Bytes of the trailer section so far, as framed (`None` until the head is complete).
        self._trailer_bytes: int | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._url: list[bytes] = []
        self._fields: list[tuple[bytes, bytes]] = []
        self._field_bytes = 0
        self._head_bytes = 0

    def feed(self, data: bytes | memoryview) -> None:
        """Parse `data`, queueing every event it completes."""
        if self.closed:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # The upgrade request itself is queued; the bytes after it belong to another protocol.
            self.closed = True
        except httptools.HttpParserCallbackError as error:
            if not isinstance(error.__context__, BadRequest):
                raise
            self._fail(error.__context__)
        except httptools.HttpParserError as error:
            self._fail(BadRequest(f"malformed HTTP: {error}"))

    def next_event(self) -> RequestEvent | None:
        """The oldest event not yet taken, or None when the input so far holds no more."""
        if not self._events:
            return None
        event = self._events.popleft()
        self.queued_bytes -= len(event) if type(event) is bytes else self._sizes.popleft()
        return event

    def take_end(self) -> EndOfMessage | None:
        """The next event if it ends a message (a request without a body has it queued with its head)."""
        if self._events:
            event = self._events[0]
            if isinstance(event, EndOfMessage):
                self._events.popleft()
                self.queued_bytes -= self._sizes.popleft()
                return event
        return None

    @property
    def has_events(self) -> bool:
        """Events are queued that were not taken yet."""
        return bool(self._events)

    def _fail(self, error: BadRequest) -> None:
        self._queue(error, 0)
        self.closed = True

    def _queue(self, event: Request | EndOfMessage | BadRequest, size: int) -> None:
        self._events.append(event)
        self._sizes.append(size)
        self.queued_bytes += size

    # -- httptools callbacks ------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.reading_head = True
        self._url = []
        self._fields = []
        self._field_bytes = 0
        self._trailer_bytes = None

    def on_url(self, part: bytes) -> None:
        self._field_bytes += len(part)
        if self._field_bytes > self._max_header_bytes:
            raise self._headers_too_large()
        self._url.append(part)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._trailer_bytes is not None:
            # A trailer field, counted as framed ("name: value" and its CRLF) plus the section's final
            # CRLF. llhttp reports a value without the whitespace around it, so a field is counted as
            # if written with one space after the colon, as runtime clients write it.
            self._trailer_bytes += len(name) + len(value) + 4
            if self._trailer_bytes + 2 > self._max_trailer_bytes:
                raise BadRequest(f"request trailers over {self._max_trailer_bytes} bytes")
        self._field_bytes += len(name) + len(value)
        if self._field_bytes > self._max_header_bytes:
            raise self._headers_too_large()
        self._fields.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        version = self._parser.get_http_version()
        if version not in _SUPPORTED_VERSIONS:
            raise BadRequest(f"HTTP/{version} is not supported; use HTTP/1.1", 505)
        self.reading_head = False
        self._head_bytes = self._field_bytes
        self._queue(
            Request(
                method=self._parser.get_method().decode("ascii"),
                target=b"".join(self._url).decode("latin-1"),
                http_version=version,
                headers=self._fields,
                keep_alive=version == "1.1" and self._parser.should_keep_alive(),
            ),
            self._head_bytes,
        )
        self._fields = []  # from here on, header callbacks are trailers
        self._trailer_bytes = 0

    def on_body(self, data: bytes) -> None:
        self.queued_bytes += len(data)
        self._events.append(data)

    def on_message_complete(self) -> None:
        self._queue(EndOfMessage(self._fields), self._field_bytes - self._head_bytes)

    def _headers_too_large(self) -> BadRequest:
        return BadRequest(f"request headers over {self._max_header_bytes} bytes", 431)
