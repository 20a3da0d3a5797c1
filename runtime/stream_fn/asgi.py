"""ASGI apps (FastAPI, Starlette, Quart, ...) as streaming Lambda handlers: ``asgi_handler(app)``.

The app runs in the runtime process, on the runtime's event loop; no web server, no extra HTTP hop::

    from fastapi import FastAPI
    from stream_fn import asgi_handler

    app = FastAPI()
    handler = asgi_handler(app)          # the Lambda handler: module.handler

Per invocation, the function URL (or API Gateway REST) event becomes an ASGI ``http`` scope and the
whole request body one ``http.request`` message. ``http.response.start`` becomes the HTTP prelude
(every ``Set-Cookie`` moved into ``cookies``, other repeated headers joined with ``", "``), sent with
the first body bytes; each ``http.response.body`` is written to the caller at once, and the one with
``more_body=False`` ends the response. So ``StreamingResponse`` and server-sent events reach the
client part by part; an empty body message with ``more_body=True`` sends the status and headers at once.

Errors: an exception before any byte was sent becomes a ``500 Internal Server Error`` (text/plain,
no details) and is logged with the request id; while the body streams, the exception goes to the
runtime, which ends the stream with Lambda's error trailers (the client sees a truncated response);
after the response is complete (Starlette's own 500 page, a failing background task), it is logged.

Disconnects: Lambda tells a function nothing when its client goes away (the function runs on, and
is billed, to its end). ``receive()`` therefore waits until the response is complete and then
returns ``http.disconnect``; ``request.is_disconnected()`` is False while the response streams. Bound
long streams by the time left (``scope["aws.context"].get_remaining_time_in_millis()``) or a count.
If the stream to the Runtime API breaks, ``send()`` raises :class:`~stream_fn.StreamConnectionError`
(an ``OSError``, as ASGI 2.4 asks) and ``receive()`` returns ``http.disconnect``.

The scope also carries the Lambda event and context as ``scope["aws.event"]`` and
``scope["aws.context"]`` (Mangum's names), and a shallow copy of the lifespan ``state``.
"""

from __future__ import annotations

import asyncio
import logging

from stream_fn.decorator import streamify_response
from stream_fn.errors import StreamConnectionError
from stream_fn.http_request import request_from_event
from stream_fn.http_response import PendingResponse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, MutableMapping
    from typing import Any, Literal

    from stream_fn.context import LambdaContext
    from stream_fn.http_request import HttpRequest
    from stream_fn.streams import ResponseStream

    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]
    App = Callable[[Message, Receive, Send], Awaitable[None]]
    Handler = Callable[[Any, ResponseStream, LambdaContext], Awaitable[None]]

log = logging.getLogger("stream_fn.asgi")

ASGI_VERSION = "3.0"
#: 2.4: ``send()`` raises an ``OSError`` once the response cannot be delivered any more.
HTTP_SPEC_VERSION = "2.4"
_LIFESPAN_MODES = ("auto", "on", "off")


def asgi_handler(
    app: App, *, lifespan: Literal["auto", "on", "off"] = "auto", compress: bool = False
) -> Handler:
    """Return a streaming Lambda handler that serves the ASGI 3 ``app``.

    :param lifespan: ``"auto"`` runs the app's lifespan startup now (at init, on the runtime's event
        loop) and its shutdown on SIGTERM, and serves apps without lifespan support without it;
        ``"on"`` makes missing lifespan support an error; ``"off"`` never runs it. Default: ``"auto"``.
    :param compress: compress responses as the request's ``Accept-Encoding`` allows, every
        ``http.response.body`` flushed at once (``streamify_response``'s ``compress``). Default: False.
    :raises LifespanStartupError: the app's startup failed (an init error on Lambda).
    """
    if not callable(app):
        raise TypeError(f"asgi_handler needs an ASGI application (a callable), got {type(app).__name__!r}")
    if lifespan not in _LIFESPAN_MODES:
        raise ValueError(f"lifespan must be one of {', '.join(map(repr, _LIFESPAN_MODES))}, got {lifespan!r}")
    state: dict[str, Any] | None = None
    if lifespan != "off":
        from stream_fn.asgi_lifespan import Lifespan
        from stream_fn.event_loop import process_event_loop

        manager = Lifespan(app, process_event_loop(), required=lifespan == "on")
        manager.startup()
        if manager.supported:
            state = manager.state

    async def handler(event: Any, response_stream: ResponseStream, context: LambdaContext) -> None:
        request = request_from_event(event)
        exchange = AsgiExchange(request.body, response_stream)
        try:
            await app(_scope(request, state, event, context), exchange.receive, exchange.send)
        except Exception as error:
            if exchange.complete:  # e.g. Starlette answered 500 itself and re-raised: nothing left to tell
                log.error("Exception in the ASGI app after its response was complete", exc_info=error)
                return
            exchange.finish()
            if response_stream.started or exchange.prelude_applied:
                raise
            log.error("Exception in the ASGI app; answering 500 Internal Server Error", exc_info=error)
            exchange.send_error_response()
            return
        exchange.finish()
        if not exchange.prelude_applied:
            log.error(
                "The ASGI app returned without starting a response; answering 500 Internal Server Error"
            )
            exchange.send_error_response()
        elif not exchange.complete:
            raise IncompleteResponseError(
                "the ASGI app returned before the response was complete: its last http.response.body "
                "message must have more_body=False"
            )

    streaming_handler: Handler = streamify_response(compress=compress)(handler)
    return streaming_handler


class IncompleteResponseError(RuntimeError):
    """The app returned after starting a response it never finished."""


class AsgiExchange(PendingResponse):
    """One request's ``receive`` and ``send``: the request body in, the response out to the stream."""

    PROTOCOL = "ASGI"
    HEADER_PAIRS = "(bytes, bytes)"

    __slots__ = ("_body", "_done", "_over", "_request_taken", "complete")

    def __init__(self, body: bytes, stream: ResponseStream) -> None:
        super().__init__(stream)
        self._body = body
        self._request_taken = False
        self._done: asyncio.Future[None] | None = None
        self._over = False
        self.complete = False

    async def receive(self) -> Message:
        """The request body (whole, the event holds all of it), then ``http.disconnect`` once the response is over."""
        if not self._request_taken:
            self._request_taken = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        if not self._over:
            if self._done is None:
                self._done = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._done)
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            if self.status is None:
                raise RuntimeError("the ASGI app sent 'http.response.body' before 'http.response.start'")
            if self.complete:
                raise RuntimeError("the ASGI app sent 'http.response.body' after the response was complete")
            if self._over:
                raise StreamConnectionError(
                    "the response cannot be delivered any more: its stream to the Lambda Runtime API broke"
                )
            self._write(message.get("body", b""), message.get("more_body", False))
        elif kind == "http.response.start":
            if self.status is not None:
                raise RuntimeError("the ASGI app sent 'http.response.start' twice")
            self._start(message.get("status"), message.get("headers") or ())
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} for an HTTP request")

    def _start(self, status: Any, headers: Iterable[Any]) -> None:
        self.set_head(status, [(_latin1(name), _latin1(value)) for name, value in headers])

    def _write(self, body: bytes, more_body: bool) -> None:
        stream = self._stream
        try:
            if not self.prelude_applied:
                self.apply_prelude()
            if body:
                stream.write(body)
            elif more_body and not stream.started:
                stream.flush()  # an empty part sends the status and headers now (e.g. before a slow first event)
            if not more_body:
                stream.end()
                self.complete = True
                self.finish()
        except StreamConnectionError:
            self.finish()
            raise

    def finish(self) -> None:
        """The response is over (complete, failed or abandoned): wake whoever waits in ``receive()``."""
        self._over = True
        if self._done is not None and not self._done.done():
            self._done.set_result(None)


def _scope(request: HttpRequest, state: dict[str, Any] | None, event: Any, context: Any) -> Message:
    root_path = request.root_path
    scope: Message = {
        "type": "http",
        "asgi": {"version": ASGI_VERSION, "spec_version": HTTP_SPEC_VERSION},
        "http_version": request.http_version,
        "method": request.method,
        "scheme": request.scheme,
        "path": root_path + request.path if root_path else request.path,
        "raw_path": root_path.encode("utf-8") + request.raw_path if root_path else request.raw_path,
        "query_string": request.query_string,
        "root_path": root_path,
        "headers": request.headers,
        "client": request.client,
        "server": request.server,
        "aws.event": event,
        "aws.context": context,
    }
    if state is not None:
        scope["state"] = state.copy()
    return scope


def _latin1(text: Any) -> Any:
    """A header name or value as ASGI gives it (bytes) in the str the prelude carries; anything else as is."""
    return text.decode("latin-1") if isinstance(text, bytes) else text
