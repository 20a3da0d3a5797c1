"""One server-side HTTP/1.1 connection: an asyncio protocol that parses as bytes arrive (uvicorn's
`HttpToolsProtocol` is the model).

The connection owns the transport, the parser and its queue of parsed input, keep-alive and closing.
Each request starts an `Exchange` (http/exchange.py), which frames its response; `FlowControl`
(http/flow.py) applies backpressure both ways. Its core is synchronous: `take` hands out the next parsed
request head, body piece or end of body, and `send_response` / `start_response` / `send_body` /
`end_response` write at once. A server consumes it in one of two ways (see `HttpServer`):

- `serve`: a coroutine per connection (`next_request`, `receive`, `read_body`, `respond`, ...), woken
  when input arrives. Clear and sequential; the function URL and the Lambda API use it.
- `attach`: a callback run inside the protocol whenever input arrives (`on_input`), which answers on
  the spot. No task and no event-loop hop between a request's last byte and its answer; the Runtime API,
  which every invocation crosses twice, uses it.

Timeouts (`ServerSettings`) apply while the serving coroutine waits for the peer, and only then: for a
request head (`header_timeout`: 408 once part of a head came, a quiet close if nothing did), between
requests (`keep_alive_timeout`: a quiet close), for the next piece of a body (`body_timeout`: 408), and
while the peer reads none of the response (`send_timeout`: the connection is dropped). While the server
itself works on an answer, nothing is timed: that is the function's timeout's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import cast

from cdk_stream_fn.emulator import limits
from cdk_stream_fn.emulator.http.exchange import Exchange
from cdk_stream_fn.emulator.http.flow import PAUSE_ABOVE, FlowControl
from cdk_stream_fn.emulator.http.framing import CONTINUE
from cdk_stream_fn.emulator.http.parsing import BadRequest, EndOfMessage, Request, RequestParser
from cdk_stream_fn.emulator.http.settings import ServerSettings

log = logging.getLogger("cdk_stream_fn.emulator")

#: How long a connection we are closing keeps swallowing an unread request body.
LINGER_SECONDS = 2.0
#: How long closing waits for the transport to flush what is buffered.
CLOSE_SECONDS = 2.0
#: The event loop runs a timer up to its clock's resolution early; a deadline that close has passed.
_CLOCK_SLACK = 0.001

__all__ = [
    "BadRequest",
    "BodyTooLarge",
    "ClientGone",
    "EndOfMessage",
    "HttpConnection",
    "Request",
    "RequestTimeout",
    "SendTimeout",
    "reject",
    "reject_bad_request",
]


class BodyTooLarge(Exception):
    """A request body went over the limit the route allows."""

    def __init__(self, limit: int, size: int) -> None:
        super().__init__(f"body of at least {size} bytes exceeds the {limit} byte limit")
        self.limit = limit
        self.size = size


class ClientGone(Exception):
    """The peer closed the connection (or reset it) while we were reading or writing."""


class SendTimeout(ClientGone):
    """The peer read none of the response for `send_timeout` seconds; the connection was dropped."""


class RequestTimeout(Exception):
    """The peer did not send what it owes in time.

    `status` is the answer it gets (408), or None where there is nobody to answer: the connection sent
    nothing of a next request, and is closed quietly.
    """

    def __init__(self, message: str, status: int | None = 408) -> None:
        super().__init__(message)
        self.status = status


#: What a peer did when waiting for its next request timed out, and the answer it gets.
_REQUEST_TIMEOUTS: dict[str, tuple[str, int | None]] = {
    "head": ("sent no complete request head within {0.header_timeout:g} s", 408),
    "first": ("sent no request within {0.header_timeout:g} s of connecting", None),
    "idle": ("was idle for {0.keep_alive_timeout:g} s after its last response", None),
}


class HttpConnection(asyncio.BufferedProtocol):
    """One server-side HTTP/1.1 connection; `on_open` is called once it is connected."""

    transport: asyncio.Transport
    _flow: FlowControl

    def __init__(
        self, on_open: Callable[[HttpConnection], None], settings: ServerSettings | None = None
    ) -> None:
        self._on_open = on_open
        self._settings = settings or ServerSettings.unbounded()
        self.peer: tuple[str, int] = ("127.0.0.1", 0)
        #: Called inside the protocol whenever input (or its end) is waiting to be taken; see `attach`.
        self.on_input: Callable[[], None] | None = None
        #: The coroutine serving this connection, for `serve`-style servers.
        self.task: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()
        #: Resolved once the connection is closed both ways.
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self._parser = RequestParser()
        self._buffer = memoryview(bytearray(limits.READ_SIZE))
        self._exchange = Exchange()
        self._waiter: asyncio.Future[bool] | None = None
        #: When the wait in progress times out, and the timer that checks it (see `_wait_for_input`).
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._discarding = False
        self._eof = False
        self._lost = False
        self._opened_at = self._loop.time()
        #: Requests started on this connection so far.
        self._requests = 0
        #: Since when the serving coroutine has waited for a request of which nothing has arrived yet;
        #: None while a request is read or answered. The server closes its oldest idle connection first.
        self.idle_since: float | None = None
        #: Called when the connection turns idle (a server at its cap can then close it to make room).
        self.on_idle: Callable[[], None] | None = None
        self._head_started_at: float | None = None

    # -- asyncio protocol callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self._flow = FlowControl(self.transport, self._loop)
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
        if parser.queued_bytes > PAUSE_ABOVE:
            self._flow.input_queued(parser.queued_bytes)
        self._input_arrived()

    def eof_received(self) -> bool:
        self._eof = True
        self._input_arrived()
        return True  # keep our side open: a peer that only shut down writing still reads the answer

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = self._lost = True
        self._flow.connection_lost()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.closed.done():
            self.closed.set_result(None)
        self._input_arrived()

    def pause_writing(self) -> None:
        self._flow.pause_writing()

    def resume_writing(self) -> None:
        self._flow.resume_writing()

    def serve_input(self) -> None:
        """Run `on_input` now: an `attach` handler that stopped taking input calls this to go on."""
        self._input_arrived()

    def _input_arrived(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)
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
        flow = self._flow
        if flow.reading_paused:
            flow.input_taken(parser.queued_bytes)
        if event is None or type(event) is bytes:
            return event
        if isinstance(event, Request):
            self._exchange.begin(event, parser.take_end() is None)
            self._requests += 1
        elif isinstance(event, EndOfMessage):
            exchange = self._exchange
            exchange.reading_body = False
            exchange.trailers = event.trailers
        elif isinstance(event, BadRequest):
            if not self._exchange.reading_body:
                self._exchange.begin(None)  # a new, malformed request: the previous exchange is over
            raise event
        return event

    @property
    def request(self) -> Request | None:
        """The request being answered (its head; the body is read with `take`, `receive` or `read_body`)."""
        return self._exchange.request

    @property
    def trailers(self) -> list[tuple[bytes, bytes]]:
        """The trailers of the current request, once its body has been read to the end."""
        return self._exchange.trailers

    @property
    def input_ended(self) -> bool:
        """Nothing more will arrive: the peer closed its side, or what it sent can no longer be parsed."""
        return self._eof or self._parser.closed

    @property
    def connected(self) -> bool:
        """The transport is set up (the server accepted the socket a moment before)."""
        return hasattr(self, "transport")

    @property
    def lost(self) -> bool:
        """The connection is closed both ways (by the peer, or by us)."""
        return self._lost

    @property
    def reading_body(self) -> bool:
        """The current request's body has not been taken to its end yet."""
        return self._exchange.reading_body

    def accept_body(self) -> None:
        """Send `100 Continue` if the peer waits for it before sending the body it announced."""
        exchange = self._exchange
        if exchange.awaiting_continue and not self._parser.has_events:
            exchange.awaiting_continue = False
            self._write(CONTINUE)

    # -- reading: coroutines ----------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """The connection waits for a request of which nothing has arrived: closing it loses nothing."""
        return self.idle_since is not None and not self._parser.reading_head and not self._lost

    async def next_request(self) -> Request | None:
        """The next request head, or None when the peer is done (it closed, or upgraded the connection).

        Raises `BadRequest` for malformed input and `RequestTimeout` when the peer takes too long (see
        `ServerSettings`). A request without a body is read to its end here.
        """
        try:
            while (event := self.take()) is None:
                if self.input_ended:
                    return None
                deadline, why = self._request_deadline()
                if not await self._wait_for_input(deadline):
                    self._exchange.begin(None)  # the answer, if any, is to the unfinished request
                    message, status = _REQUEST_TIMEOUTS[why]
                    raise RequestTimeout(message.format(self._settings), status)
        finally:
            self.idle_since = self._head_started_at = None
        assert isinstance(event, Request), f"the previous request's body was not read: {event!r}"
        return event

    def _request_deadline(self) -> tuple[float | None, str]:
        """When waiting for the next request times out, and why (a key of `_REQUEST_TIMEOUTS`)."""
        settings = self._settings
        first = self._requests == 0
        if self._parser.reading_head:
            self.idle_since = None
            if self._head_started_at is None:
                self._head_started_at = self._loop.time()
            if settings.header_timeout is None:
                return None, "head"
            start = self._opened_at if first else self._head_started_at
            return start + settings.header_timeout, "head"
        since = self.idle_since
        if since is None:
            since = self.idle_since = self._loop.time()
            if self.on_idle is not None:
                self.on_idle()  # which may close this connection at once to make room
        if first:
            if settings.header_timeout is None:
                return None, "first"
            return self._opened_at + settings.header_timeout, "first"
        if settings.keep_alive_timeout is None:
            return None, "idle"
        return since + settings.keep_alive_timeout, "idle"

    async def receive(self) -> bytes | None:
        """The next piece of the request body as it arrives; None at its end (`trailers` is then set).

        Raises `BadRequest` for a malformed body, `RequestTimeout` when no body bytes came for
        `body_timeout` seconds, and `ClientGone` when the peer closes before its end.
        """
        if not self._exchange.reading_body:
            return None
        self.accept_body()
        body_timeout = self._settings.body_timeout
        while (event := self.take()) is None:
            if self.input_ended:
                raise ClientGone("the peer closed the connection before the request body ended")
            deadline = None if body_timeout is None else self._loop.time() + body_timeout
            if not await self._wait_for_input(deadline):
                raise RequestTimeout(f"sent no request body bytes for {body_timeout:g} s")
        return event if type(event) is bytes else None

    async def read_body(self, limit: int) -> bytes:
        """The rest of the request body, raising `BodyTooLarge` as soon as it passes `limit`."""
        request = self._exchange.request
        declared = request.content_length if self._exchange.reading_body and request else None
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

    async def _wait_for_input(self, deadline: float | None = None) -> bool:
        """Wait until input (or its end) arrives: True, or False once the loop's clock passes `deadline`.

        One timer per connection serves every wait: a wait sets `_deadline`, and the timer, when it
        fires early (the deadline moved on since), sets itself again. So a keep-alive connection costs
        a float per request rather than a timer, and a timer fires at most once per timeout.
        """
        waiter: asyncio.Future[bool] = self._loop.create_future()
        self._waiter = waiter
        if deadline is not None:
            self._deadline = deadline
            timer = self._timer
            if timer is None or timer.when() > deadline:
                if timer is not None:
                    timer.cancel()
                self._timer = self._loop.call_at(deadline, self._time_up)
        try:
            return await waiter
        finally:
            self._waiter = self._deadline = None

    def _time_up(self) -> None:
        self._timer = None
        waiter, deadline = self._waiter, self._deadline
        if waiter is None or deadline is None or waiter.done():
            return  # no wait with a deadline now: the next one sets the timer
        if self._loop.time() >= deadline - _CLOCK_SLACK:
            waiter.set_result(False)
        else:
            self._timer = self._loop.call_at(deadline, self._time_up)

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
        self._ensure_open()
        parts = self._exchange.whole_response(
            status, body, content_type=content_type, headers=headers, close=close
        )
        if len(parts) == 1:
            self.transport.write(parts[0])
        else:
            self.transport.writelines(parts)

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
        self._ensure_open()
        self.transport.writelines(self._exchange.start_response(status, headers, body))
        await self.drain()

    async def send_body(self, data: bytes) -> None:
        """Send one piece of the body started by `start_response` (one chunk; empty data sends nothing)."""
        parts = self._exchange.body(data)
        if parts:
            self._ensure_open()
            self.transport.writelines(parts)
            await self.drain()

    async def end_response(self, data: bytes = b"") -> None:
        """End the body started by `start_response`, after its last piece `data` if any (one write)."""
        self._ensure_open()
        parts = self._exchange.end_response(data)
        if parts:
            self.transport.writelines(parts)
        await self.drain()

    async def drain(self) -> None:
        """Wait while the transport holds more than its high-water mark; `ClientGone` if the peer left,
        `SendTimeout` (after dropping the connection) if it read nothing for `send_timeout` seconds."""
        if (
            self._flow.writing_paused
            and not self._lost
            and not await self._flow.drain(self._settings.send_timeout)
        ):
            self.abort()
            raise SendTimeout(f"read none of the response for {self._settings.send_timeout:g} s")
        if self._lost:
            raise ClientGone("the peer closed the connection")

    @property
    def response_started(self) -> bool:
        """A response head went out for the current request (an error can then only cut the connection)."""
        return self._exchange.response_started

    def close_after_response(self) -> bool:
        """Whether the connection must close now (either side said so, or the request body is unread)."""
        exchange = self._exchange
        return exchange.must_close or exchange.reading_body

    def _write(self, data: bytes) -> None:
        self._ensure_open()
        self.transport.write(data)

    def _ensure_open(self) -> None:
        if self._lost or self.transport.is_closing():
            raise ClientGone("connection already closed")

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
            if self._exchange.reading_body and not self._eof and not self.transport.is_closing():
                self._discarding = True
                self._flow.resume_reading()
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

    def close_idle(self) -> None:
        """Close a connection that waits for a request (`idle`): the serving coroutine sees the input end."""
        self.idle_since = None
        self.transport.close()


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
