"""HTTP/1.1 server plumbing shared by the emulator's three servers: httptools parsing on an asyncio Protocol.

One `HttpConnection` per TCP connection: a `BufferedProtocol` that reads into one reusable buffer and
parses with `RequestParser` as bytes arrive. Its core is synchronous: `take` hands out the next parsed
request head, body piece or end of body, and `send_response` / `start_response` / `send_body` /
`end_response` write at once. A server consumes it in one of two ways:

- `serve`: a coroutine per connection (`next_request`, `receive`, `read_body`, `respond`, ...), woken
  when input arrives. Clear and sequential; the function URL and the Lambda API use it.
- `attach`: a callback run inside the protocol whenever input arrives, which answers on the spot.
  No task and no event-loop hop between a request's last byte and its answer; the Runtime API, which
  every invocation crosses twice, uses it.

Flow control works both ways: more than `READ_SIZE` of parsed but untaken input pauses reading from
the socket, so a slow consumer holds the peer back (whether it streams a body or piles up requests);
`drain` waits while the transport's buffer is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from http import HTTPStatus
from typing import cast

from cdk_stream_fn.emulator import limits
from cdk_stream_fn.emulator.http.framing import (
    CONTINUE,
    CRLF,
    LAST_CHUNK,
    chunk_header,
    plain_response_head,
    response_head,
)
from cdk_stream_fn.emulator.http.parsing import BadRequest, EndOfMessage, Request, RequestParser

log = logging.getLogger("cdk_stream_fn.emulator")

#: How long a connection we are closing keeps swallowing an unread request body.
LINGER_SECONDS = 2.0
#: How long closing waits for the transport to flush what is buffered.
CLOSE_SECONDS = 2.0
#: Reading resumes once the untaken input is down to this (it pauses above `READ_SIZE`).
_RESUME_BELOW = limits.READ_SIZE // 2

__all__ = [
    "BadRequest",
    "BodyTooLarge",
    "ClientGone",
    "EndOfMessage",
    "HttpConnection",
    "HttpServer",
    "Request",
]


class BodyTooLarge(Exception):
    """A request body went over the limit the route allows."""

    def __init__(self, limit: int, size: int) -> None:
        super().__init__(f"body of at least {size} bytes exceeds the {limit} byte limit")
        self.limit = limit
        self.size = size


class ClientGone(Exception):
    """The peer closed the connection (or reset it) while we were reading or writing."""


class HttpConnection(asyncio.BufferedProtocol):
    """One server-side HTTP/1.1 connection; `on_open` is called once it is connected."""

    transport: asyncio.Transport

    def __init__(self, on_open: Callable[[HttpConnection], None]) -> None:
        self._on_open = on_open
        self.peer: tuple[str, int] = ("127.0.0.1", 0)
        #: Called inside the protocol whenever input (or its end) is waiting to be taken; see `attach`.
        self.on_input: Callable[[], None] | None = None
        #: The request being answered (its head; the body is read with `take`, `receive` or `read_body`).
        self.request: Request | None = None
        #: The trailers of the current request, once its body has been read to the end.
        self.trailers: list[tuple[bytes, bytes]] = []
        #: The coroutine serving this connection, for `serve`-style servers.
        self.task: asyncio.Task[None] | None = None
        self._parser = RequestParser()
        self._buffer = memoryview(bytearray(limits.READ_SIZE))
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[None] | None = None
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self._reading_paused = False
        self._discarding = False
        self._eof = False
        self._lost = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        # The exchange in progress.
        self._in_body = False
        self._awaiting_continue = False
        self._head_only = False
        self._chunked = False
        self._response_started = False
        self._must_close = False

    # -- asyncio protocol callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.peer = (peer[0], peer[1])
        self._on_open(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self._discarding:
            return
        parser = self._parser
        parser.feed(self._buffer[:nbytes])
        if parser.queued_bytes > limits.READ_SIZE and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()
        self._input_arrived()

    def eof_received(self) -> bool:
        self._eof = True
        self._input_arrived()
        return True  # keep our side open: a peer that only shut down writing still reads the answer

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = self._lost = True
        self._wake_drain()
        if not self.closed.done():
            self.closed.set_result(None)
        self._input_arrived()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drain()

    def serve_input(self) -> None:
        """Run `on_input` now: an `attach` handler that stopped taking input calls this to go on."""
        self._input_arrived()

    def _input_arrived(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self.on_input is not None:
            try:
                self.on_input()
            except Exception:
                log.exception("unexpected error while serving %s:%s", *self.peer)
                reject(self, 500, b"Internal Server Error")

    # -- reading: the synchronous core ------------------------------------------------------------

    def take(self) -> Request | bytes | EndOfMessage | None:
        """The next parsed input without waiting, or None when nothing is parsed yet.

        A `Request` starts a new exchange; a request without a body is complete with its head (no
        `EndOfMessage` follows it). Then come the body's pieces (`bytes`) and its `EndOfMessage`, whose
        trailers are also kept in `trailers`. Raises `BadRequest` where the input is malformed.
        """
        parser = self._parser
        event = parser.next_event()
        if event is None:
            self._resume_reading()
            return None
        if self._reading_paused and parser.queued_bytes <= _RESUME_BELOW:
            self._resume_reading()
        if type(event) is bytes:
            return event
        if isinstance(event, Request):
            self._start_exchange(event)
        elif isinstance(event, EndOfMessage):
            self._in_body = False
            self.trailers = event.trailers
        elif isinstance(event, BadRequest):
            if not self._in_body:
                self._response_started = False  # a new, malformed request: the previous exchange is over
            raise event
        return event

    @property
    def input_ended(self) -> bool:
        """Nothing more will arrive: the peer closed its side, or what it sent can no longer be parsed."""
        return self._eof or self._parser.closed

    @property
    def lost(self) -> bool:
        """The connection is closed both ways (by the peer, or by us)."""
        return self._lost

    @property
    def reading_body(self) -> bool:
        """The current request's body has not been taken to its end yet."""
        return self._in_body

    def accept_body(self) -> None:
        """Send `100 Continue` if the peer waits for it before sending the body it announced."""
        if self._awaiting_continue and not self._parser.has_events:
            self._awaiting_continue = False
            self._write(CONTINUE)

    def _start_exchange(self, request: Request) -> None:
        self.request = request
        self.trailers = []
        self._response_started = self._chunked = False
        self._head_only = request.method == "HEAD"
        if not request.keep_alive:
            self._must_close = True
        self._in_body = self._parser.take_end() is None
        self._awaiting_continue = self._in_body and request.expects_continue

    def _resume_reading(self) -> None:
        if self._reading_paused and not self._lost:
            self._reading_paused = False
            self.transport.resume_reading()

    # -- reading: coroutines ----------------------------------------------------------------------

    async def next_request(self) -> Request | None:
        """The next request head, or None when the peer is done (it closed, or upgraded the connection).

        Raises `BadRequest` for malformed input. A request without a body is read to its end here.
        """
        event = await self._next()
        if event is None:
            return None
        assert isinstance(event, Request), f"the previous request's body was not read: {event!r}"
        return event

    async def receive(self) -> bytes | None:
        """The next piece of the request body as it arrives; None at its end (`trailers` is then set).

        Raises `BadRequest` for a malformed body and `ClientGone` when the peer closes before its end.
        """
        if not self._in_body:
            return None
        self.accept_body()
        event = await self._next()
        if event is None:
            raise ClientGone("the peer closed the connection before the request body ended")
        return event if type(event) is bytes else None

    async def read_body(self, limit: int) -> bytes:
        """The rest of the request body, raising `BodyTooLarge` as soon as it passes `limit`."""
        declared = self.request.content_length if self._in_body and self.request else None
        if declared is not None and declared > limit:
            raise BodyTooLarge(limit, declared)
        parts: list[bytes] = []
        size = 0
        while (data := await self.receive()) is not None:
            size += len(data)
            if size > limit:
                raise BodyTooLarge(limit, size)
            parts.append(data)
        return b"".join(parts)

    async def _next(self) -> Request | bytes | EndOfMessage | None:
        while (event := self.take()) is None:
            if self.input_ended:
                return None
            await self._wait_for_input()
        return event

    async def _wait_for_input(self) -> None:
        """Wait until input (or its end) arrives."""
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    # -- writing ----------------------------------------------------------------------------------

    def send_response(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: str = "application/json",
        headers: Iterable[tuple[str, str]] = (),
        close: bool = False,
    ) -> None:
        """Write a whole response (Content-Length body) at once; `close` ends the connection after it."""
        close = self._start_response(close)
        if headers:
            fields = [("content-type", content_type), ("content-length", str(len(body))), *headers]
            if close:
                fields.append(("connection", "close"))
            head = response_head(status, fields)
        else:
            head = plain_response_head(status, content_type, len(body), close)
        if body and not self._head_only:
            self.transport.writelines((head, body))
        else:
            self.transport.write(head)

    async def respond(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: str = "application/json",
        headers: Iterable[tuple[str, str]] = (),
        close: bool = False,
    ) -> None:
        """`send_response`, then wait while the peer is slow to read it."""
        self.send_response(status, body, content_type=content_type, headers=headers, close=close)
        await self.drain()

    async def respond_json(
        self, status: int, document: object, *, headers: Iterable[tuple[str, str]] = (), close: bool = False
    ) -> None:
        """`respond` with `document` as a JSON body."""
        await self.respond(status, json.dumps(document).encode(), headers=headers, close=close)

    async def start_response(
        self, status: int, headers: Iterable[tuple[str, str]], body: bytes = b""
    ) -> None:
        """Send a response head whose body follows in pieces (chunked, or up to the close for HTTP/1.0),
        with the body's first piece if it is at hand: one write for both."""
        fields = list(headers)
        if self.request is None or self.request.http_version == "1.1":
            fields.append(("transfer-encoding", "chunked"))
            self._chunked = True
        else:
            self._must_close = True
        if self._start_response(False):
            fields.append(("connection", "close"))
        self._write_body(response_head(status, fields), body)
        await self.drain()

    async def send_body(self, data: bytes) -> None:
        """Send one piece of the body started by `start_response` (one chunk; empty data sends nothing)."""
        if data and not self._head_only:
            self._write_body(b"", data)
            await self.drain()

    async def end_response(self, data: bytes = b"") -> None:
        """End the body started by `start_response`, after its last piece `data` if any (one write)."""
        self._write_body(b"", data, end=True)
        await self.drain()

    def _write_body(self, head: bytes, data: bytes, *, end: bool = False) -> None:
        """Write `head` (if any), then `data` as one chunk (if any), then the last chunk (if `end`)."""
        self._ensure_open()
        parts = [head] if head else []
        if data and not self._head_only:
            parts += (chunk_header(len(data)), data, CRLF) if self._chunked else (data,)
        if end and self._chunked and not self._head_only:
            parts.append(LAST_CHUNK)
        if parts:
            self.transport.writelines(parts)

    async def drain(self) -> None:
        """Wait while the transport holds more than its high-water mark; `ClientGone` if the peer left."""
        if self._write_paused and not self._lost:
            self._drain_waiter = self._loop.create_future()
            try:
                await self._drain_waiter
            finally:
                self._drain_waiter = None
        if self._lost:
            raise ClientGone("the peer closed the connection")

    @property
    def response_started(self) -> bool:
        """A response head went out for the current request (an error can then only cut the connection)."""
        return self._response_started

    def close_after_response(self) -> bool:
        """Whether the connection must close now (either side said so, or the request body is unread)."""
        return self._must_close or self._in_body

    def _start_response(self, close: bool) -> bool:
        """Check that a response may start now and note that it did; return whether the connection
        closes after it (`close`, or either side said so before): its head then says `connection: close`."""
        self._ensure_open()
        if self._response_started:
            raise RuntimeError("a response was already sent for this request")
        self._response_started = True
        self._awaiting_continue = False
        if close:
            self._must_close = True
        return self._must_close

    def _write(self, data: bytes) -> None:
        self._ensure_open()
        self.transport.write(data)

    def _ensure_open(self) -> None:
        if self._lost or self.transport.is_closing():
            raise ClientGone("connection already closed")

    def _wake_drain(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- closing ----------------------------------------------------------------------------------

    async def close(self) -> None:
        """Close gracefully: FIN after buffered data.

        If the peer is still sending a request we did not read (a rejected upload), keep reading and
        dropping it for a moment after our FIN ("lingering close", as nginx does): closing a socket
        with unread data makes the kernel send a reset that can destroy our answer in flight.
        """
        self.on_input = None
        if self._lost:
            return
        try:
            if self._in_body and not self._eof and not self.transport.is_closing():
                self._discarding = True
                self._resume_reading()
                with contextlib.suppress(Exception):
                    self.transport.write_eof()
                    await asyncio.wait_for(self._until_eof(), LINGER_SECONDS)
            self.transport.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.closed), CLOSE_SECONDS)
        except asyncio.CancelledError:
            self.transport.abort()
            raise

    def close_soon(self) -> None:
        """`close` in the background, for callers that cannot wait (an `attach` handler): no input is
        handed on from now."""
        self.on_input = None
        if self.task is None or self.task.done():
            self.task = self._loop.create_task(self.close())

    async def _until_eof(self) -> None:
        while not self._eof:
            await self._wait_for_input()

    def abort(self) -> None:
        """Drop the connection at once, so an unfinished chunked body reads as truncated."""
        self.transport.abort()


def reject(connection: HttpConnection, status: int, body: bytes) -> None:
    """Answer with an error if no response has started yet (else cut the connection), and close it."""
    if connection.response_started:
        connection.abort()
        return
    try:
        connection.send_response(status, body, content_type="text/plain", close=True)
    except ClientGone:
        connection.abort()
        return
    connection.close_soon()


def reject_bad_request(connection: HttpConnection, error: BadRequest) -> None:
    """`reject` malformed input with the status it calls for, and log it."""
    log.warning("%s:%s sent malformed HTTP: %s", *connection.peer, error)
    reason = HTTPStatus(error.status).phrase
    reject(connection, error.status, f"{reason}: {error}\n".encode())


Handler = Callable[[HttpConnection], Awaitable[None]]


class HttpServer:
    """A TCP listener on loopback whose connections are served one of two ways, and can all be stopped.

    `serve`: a coroutine run for each connection (errors it raises become 400/500 answers);
    `attach`: a callback given each new connection, which then handles its `on_input` itself.
    """

    def __init__(
        self,
        *,
        name: str,
        serve: Handler | None = None,
        attach: Callable[[HttpConnection], object] | None = None,
    ) -> None:
        if (serve is None) == (attach is None):
            raise ValueError("give exactly one of serve and attach")
        self._serve_with = serve
        self._attach = attach
        self.name = name
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[HttpConnection] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> HttpServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: HttpConnection(self._open), host, port)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def host(self) -> str:
        assert self._server is not None, "server not started"
        return str(self._server.sockets[0].getsockname()[0])

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _open(self, connection: HttpConnection) -> None:
        self._connections.add(connection)
        connection.closed.add_done_callback(lambda _: self._connections.discard(connection))
        if self._attach is not None:
            self._attach(connection)
        else:
            connection.task = asyncio.get_running_loop().create_task(self._serve(connection))

    async def _serve(self, connection: HttpConnection) -> None:
        assert self._serve_with is not None
        try:
            await self._serve_with(connection)
        except ClientGone as gone:
            log.debug("%s: %s:%s went away: %s", self.name, *connection.peer, gone)
        except BadRequest as error:
            reject_bad_request(connection, error)
        except asyncio.CancelledError:
            # Stopped by close_connections(); this task is the connection's root, so it ends here quietly.
            connection.abort()
        except Exception:
            log.exception("%s: unexpected error while serving %s:%s", self.name, *connection.peer)
            reject(connection, 500, b"Internal Server Error")
        finally:
            await connection.close()

    async def close_connections(self) -> None:
        """Drop every open connection (the listener stays)."""
        connections = list(self._connections)
        tasks = [c.task for c in connections if c.task is not None and not c.task.done()]
        for connection in connections:
            if connection.task is not None:
                connection.task.cancel()
            connection.abort()
        await asyncio.gather(*tasks, *(c.closed for c in connections), return_exceptions=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self.close_connections()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
