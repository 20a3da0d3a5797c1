"""Server-sent events from a Lambda handler: the right head, a heartbeat, a clean end before the deadline.

Two ways to write one::

    from stream_fn import ServerSentEvent, ServerSentEvents, last_event_id, sse_response, streamify_response

    @sse_response                                   # a generator or an async generator
    def handler(event, context):
        start = int(last_event_id(event) or 0)      # where a reconnecting client left off
        for n in range(start + 1, start + 100):
            yield ServerSentEvent(json={"n": n}, event="tick", id=n)
            time.sleep(1)                           # heartbeats still go out meanwhile

    @streamify_response                             # a handler that writes itself (or async def)
    def handler(event, response_stream, context):
        with ServerSentEvents(response_stream, event, context) as events:
            while events.sleep(1):                  # False once the deadline is near
                events.send(json={"at": time.time()}, event="tick")

What the helper does for each response, all of it state of that one response (never a module
global: under Lambda Managed Instances several invocations stream at once, on threads or tasks):

* **The head**, sent at once, so a browser's ``EventSource`` opens before the first event:
  status 200, ``content-type: text/event-stream`` (the only type ``EventSource`` accepts),
  ``cache-control: no-cache`` (no cache may answer a later request with this stream), and
  ``x-accel-buffering: no``, which tells nginx, a common reverse proxy in front of development and
  self-hosted setups, not to buffer this response (the header is documented for nginx's
  ``proxy_buffering``; CloudFront and API Gateway ignore it, and it costs a few bytes).
* **A heartbeat**: a comment (``: heartbeat``) when nothing was written for ``heartbeat`` seconds.
  The default, 15 s, is the standard's own advice ("authors can include a comment line (one
  starting with a ':' character) every 15 seconds or so", WHATWG HTML 9.2.7) and half the shortest
  idle limit in front of a function: CloudFront's origin response timeout, "how long CloudFront
  waits for a response from the origin", is 30 s by default (1 to 120 s; CloudFront API Reference,
  ``CustomOriginConfig.OriginReadTimeout``) and covers the wait for each packet after the first as
  well (AWS What's New, 2025-07-30, "Amazon CloudFront introduces new origin response timeout
  controls"); API Gateway ends a streamed REST response that stays idle for 5 minutes on Regional
  and private endpoints, 30 seconds on edge-optimized ones (API Gateway Developer Guide, "Stream the
  integration response for your proxy integrations", considerations). Function URLs document no
  idle limit of their own. Synchronous handlers get the heartbeat from a timer thread, async ones from
  the event loop (:mod:`stream_fn.sse_timers`), so it goes out while the handler blocks or awaits.
* **The deadline**: ``deadline_margin`` seconds before the invocation times out, the stream sends a
  final ``deadline`` event and ends, complete, even while the handler is still blocked. Without it
  the timeout stops the function mid-response and the body just breaks off. (AWS documents that
  outcome for Lambda web functions, "Request timeout": "the client receives the status code already
  sent, typically 200, with a truncated body"; for function URLs it documents none, so this is the
  safe reading.) A browser then reconnects by itself, sending the last id it saw as
  ``Last-Event-ID``; the handler learns to stop: :meth:`ServerSentEvents.sleep` returns
  False, :meth:`~ServerSentEvents.send` returns False, a generator is closed at its next ``yield``
  (an async generator at once, with ``CancelledError``).
* **Resuming**: :func:`last_event_id` reads the client's ``Last-Event-ID`` from a function URL or
  API Gateway event.

Write events only through the helper: a heartbeat is a whole block, and it would split an event
that the handler wrote in pieces to the response stream itself.
"""

from __future__ import annotations

import _thread
import threading
import time

from stream_fn.decorator import (
    STREAMING_MARK,
    _check_parameters,
    _is_generator_function,
    is_async_function,
    streamify_response,
)
from stream_fn.errors import (
    InvalidEventError,
    InvalidMetadataError,
    PreludeAlreadySetError,
    StreamEndedError,
)
from stream_fn.framing import encode_prelude
from stream_fn.sse_format import (
    HEARTBEAT,
    MEDIA_TYPE,
    NO_JSON,
    ServerSentEvent,
    check_retry,
    encode_comment,
    encode_item,
)
from stream_fn.sse_schedule import DEADLINE, KeepAliveSchedule
from stream_fn.sse_timers import LoopTimer, ThreadTimer, running_loop
from stream_fn.streams import HttpResponseStream

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any, TypeVar, overload

    from stream_fn.streams import ResponseStream

    GeneratorFunction = TypeVar("GeneratorFunction", bound=Callable[..., Any])

    @overload  # type: ignore[no-overload-impl]
    def sse_response(handler: GeneratorFunction, /) -> Callable[[Any, ResponseStream, Any], Any]: ...
    @overload
    def sse_response(
        handler: None = None,
        /,
        *,
        heartbeat: float | None = ...,
        deadline_margin: float | None = ...,
        deadline_event: ServerSentEvent | None = ...,
        retry: int | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Iterable[str] | None = None,
    ) -> Callable[[GeneratorFunction], Callable[[Any, ResponseStream, Any], Any]]: ...


__all__ = [
    "DEFAULT_DEADLINE_MARGIN_SECONDS",
    "DEFAULT_HEARTBEAT_SECONDS",
    "ServerSentEvent",
    "ServerSentEvents",
    "last_event_id",
    "sse_response",
]

DEFAULT_HEARTBEAT_SECONDS = 15.0
"""Silence before a heartbeat comment: the standard's "every 15 seconds or so", half of 30 s limits."""
DEFAULT_DEADLINE_MARGIN_SECONDS = 2.0
"""How long before the invocation's timeout the stream sends its final event and ends.

Room for the final write, the end of the response and the handler's own return: a handler that
returns before the timeout keeps its execution environment (one that overruns it is replaced).
"""
DEADLINE_EVENT = ServerSentEvent("", event="deadline")
"""The final event at the deadline: ``event: deadline`` with empty data, told apart from a cut stream."""

_HEAD_HEADERS = {"content-type": MEDIA_TYPE, "cache-control": "no-cache", "x-accel-buffering": "no"}


def last_event_id(event: Any) -> str | None:
    """The client's ``Last-Event-ID`` request header from a function URL or API Gateway event, or None.

    A browser's ``EventSource`` sends it when it reconnects: the id of the last event it received.
    Function URL events (payload 2.0) carry headers with lower-case names, API Gateway REST events
    (1.0) as the client sent them (and in ``multiValueHeaders``), so the name is matched without
    regard to case. An empty value counts as none.
    """
    if not isinstance(event, dict):
        return None
    for key in ("headers", "multiValueHeaders"):
        headers = event.get(key)
        if not isinstance(headers, dict):
            continue
        for name, value in headers.items():
            if isinstance(name, str) and name.lower() == "last-event-id":
                if isinstance(value, list):  # multiValueHeaders: the last one the client sent
                    value = value[-1] if value else None
                if isinstance(value, str) and value:
                    return value
    return None


class EventStreamOptions:
    """An event stream's settings, checked once (at import time for ``@sse_response``)."""

    __slots__ = ("cookies", "deadline_event", "deadline_margin", "headers", "heartbeat", "opening")

    def __init__(
        self,
        heartbeat: float | None = DEFAULT_HEARTBEAT_SECONDS,
        deadline_margin: float | None = DEFAULT_DEADLINE_MARGIN_SECONDS,
        deadline_event: ServerSentEvent | None = DEADLINE_EVENT,
        retry: int | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Iterable[str] | None = None,
    ) -> None:
        self.heartbeat = _seconds("heartbeat", heartbeat)
        self.deadline_margin = _seconds("deadline_margin", deadline_margin, zero_allowed=True)
        if deadline_event is not None and not isinstance(deadline_event, ServerSentEvent):
            raise InvalidEventError(
                f"deadline_event must be a ServerSentEvent or None, got {type(deadline_event).__name__!r}"
            )
        self.deadline_event = deadline_event
        #: What goes out first with the head: the client's reconnection delay, if one is set.
        self.opening = b"" if retry is None else b"retry: %d\n\n" % check_retry(retry)
        self.headers = _head_headers(headers)
        encode_prelude(200, self.headers, cookies)  # checked now, so a bad header is an error here
        self.cookies = list(cookies) if cookies is not None else None


class ServerSentEvents:
    """The server-sent events of one response: send events; the heartbeat and the deadline run by themselves.

    Use it as a context manager around the handler's work: entering sends the head (and ``retry``)
    and starts the heartbeat and the deadline; leaving normally ends the response; leaving with an
    exception stops them and leaves the response to the runtime, which reports the error.

    :param response_stream: the stream ``@streamify_response`` passed to the handler, before
        anything was written to it. The helper makes it an HTTP response (status 200).
    :param event: the invocation's event, for :attr:`last_event_id`. Default: None.
    :param context: the invocation's context, for the deadline. Default: None (no deadline).
    :param heartbeat: seconds of silence before a heartbeat comment; None for none. Default: 15.
    :param deadline_margin: seconds before the invocation's timeout at which the stream sends
        ``deadline_event`` and ends; None to let the timeout cut it. Default: 2.
    :param deadline_event: the final event at the deadline, or None to only end the stream.
        Default: ``event: deadline`` with empty data.
    :param retry: the client's reconnection delay in milliseconds, sent first. Default: the client's
        own (about 3 s in browsers).
    :param headers: more response headers (or a ``content-type`` with parameters, still
        ``text/event-stream``). Default: none.
    :param cookies: ``Set-Cookie`` strings. Default: none.
    """

    def __init__(
        self,
        response_stream: ResponseStream,
        event: Any = None,
        context: Any = None,
        *,
        heartbeat: float | None = DEFAULT_HEARTBEAT_SECONDS,
        deadline_margin: float | None = DEFAULT_DEADLINE_MARGIN_SECONDS,
        deadline_event: ServerSentEvent | None = DEADLINE_EVENT,
        retry: int | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Iterable[str] | None = None,
        _options: EventStreamOptions | None = None,
    ) -> None:
        options = _options or EventStreamOptions(
            heartbeat, deadline_margin, deadline_event, retry, headers, cookies
        )
        try:
            HttpResponseStream.from_(
                response_stream, status_code=200, headers=options.headers, cookies=options.cookies
            )
        except PreludeAlreadySetError:
            raise PreludeAlreadySetError(
                "this response stream already has its status and headers: ServerSentEvents sets them "
                "itself. Drop status_code/headers/cookies from @streamify_response (or the "
                "HttpResponseStream.from_ call) and pass headers=/cookies= to ServerSentEvents instead"
            ) from None
        self._stream = response_stream
        self._options = options
        self._context = context
        #: The client's ``Last-Event-ID``: the id of the last event it got before reconnecting, or None.
        self.last_event_id = last_event_id(event)
        self._lock = _thread.allocate_lock()
        self._started = False
        self._closed = False
        self._deadline_reached = False
        self._failure: BaseException | None = None
        self._schedule: KeepAliveSchedule | None = None
        self._timer: ThreadTimer | LoopTimer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed_event: threading.Event | None = None  # woken sleepers, synchronous handlers
        self._closed_future: asyncio.Future[None] | None = None  # woken sleepers, async handlers

    # -- what handlers use --------------------------------------------------------------------

    @property
    def open(self) -> bool:
        """True until the stream is closed: by the handler, at the deadline, or because it broke."""
        return not self._closed

    @property
    def deadline_reached(self) -> bool:
        """True once the deadline closed the stream: the handler should return now."""
        return self._deadline_reached

    def start(self) -> None:
        """Send the head (and ``retry``) and start the heartbeat and the deadline; done once, by ``with`` or the first send."""
        with self._lock:
            self._start()

    def send(
        self,
        data: str | ServerSentEvent | None = None,
        *,
        json: Any = NO_JSON,
        event: str | None = None,
        id: str | int | None = None,
        retry: int | None = None,
    ) -> bool:
        """Send one event at once: a :class:`ServerSentEvent`, or its fields (see there).

        Returns True once sent, False if the deadline has closed the stream (stop then).
        Raises :class:`~stream_fn.StreamEndedError` after the handler itself closed it, and what
        broke the stream if it broke (e.g. :class:`~stream_fn.StreamConnectionError`).
        """
        if isinstance(data, ServerSentEvent):
            if json is not NO_JSON or event is not None or id is not None or retry is not None:
                raise InvalidEventError("pass either a ServerSentEvent or the fields of one, not both")
            item = data
        else:
            item = ServerSentEvent(data, json=json, event=event, id=id, retry=retry)
        return self._write(item.encoded)

    def comment(self, text: str = "") -> bool:
        """Send a comment, which clients ignore (a note for people reading the raw stream). Like :meth:`send`."""
        return self._write(encode_comment(text))

    def sleep(self, seconds: float) -> bool:
        """Wait up to ``seconds``; False (at once) when the stream closes, e.g. at the deadline, else True.

        For synchronous handlers; in ``async`` code use ``await events.asleep(seconds)``.
        """
        with self._lock:
            self._start()
            closed = self._closed_event
        if closed is None:
            raise RuntimeError(
                "ServerSentEvents.sleep() blocks the event loop this stream was started on: in async code "
                "use `await events.asleep(seconds)`"
            )
        closed.wait(seconds)
        self._raise_failure()
        return not self._closed

    async def asleep(self, seconds: float) -> bool:
        """Wait up to ``seconds`` without blocking the event loop; like :meth:`sleep`."""
        import asyncio

        with self._lock:
            self._start()
            closed = self._closed_future
        if closed is None:
            raise RuntimeError(
                "this ServerSentEvents was started outside an event loop (a synchronous handler): "
                "use events.sleep(seconds)"
            )
        await asyncio.wait({closed}, timeout=seconds)
        self._raise_failure()
        return not self._closed

    def close(self, final_event: ServerSentEvent | None = None) -> None:
        """Send ``final_event`` (if given) and end the response; does nothing once the stream is closed."""
        try:
            with self._lock:
                if self._closed:
                    return
                self._start()
                self._mark_closed()
                if final_event is not None:
                    self._stream.write(final_event.encoded)
                self._stream.end()
        finally:
            self._stop_timer()

    def __enter__(self) -> ServerSentEvents:  # noqa: PYI034 - not meant to be subclassed
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: object
    ) -> None:
        if kind is None:
            self._raise_failure()
            self.close()
        else:
            self._abandon()

    def __repr__(self) -> str:
        state = "deadline reached" if self._deadline_reached else "closed" if self._closed else "open"
        return f"<ServerSentEvents {state} last_event_id={self.last_event_id!r} stream={self._stream!r}>"

    # -- internals ------------------------------------------------------------------------------

    def _start(self) -> None:
        """Send the head and start the timer; lock held."""
        if self._started:
            return
        self._started = True
        options = self._options
        now = time.monotonic()
        stop_at = None
        remaining = getattr(self._context, "get_remaining_time_in_millis", None)
        if options.deadline_margin is not None and remaining is not None:
            stop_at = now + remaining() / 1000 - options.deadline_margin
        self._schedule = KeepAliveSchedule(now, options.heartbeat, stop_at)
        self._loop = running_loop()
        if self._loop is None:
            self._closed_event = threading.Event()
        else:
            self._closed_future = self._loop.create_future()
        if options.opening:
            self._stream.write(options.opening)
        else:
            self._stream.flush()
        if self._schedule.next_due() is None:
            return
        if self._loop is None:
            self._timer = ThreadTimer(self._next_due, self._on_timer, f"stream_fn.sse {self._stream!r}")
        else:
            self._timer = LoopTimer(self._loop, self._next_due, self._on_timer)
        self._timer.start()

    def _write(self, data: bytes) -> bool:
        with self._lock:
            if self._failure is not None:
                raise self._failure
            if self._closed:
                if self._deadline_reached:
                    return False
                raise StreamEndedError(
                    "cannot send on this event stream: it was closed. Send everything before close(), or "
                    "leave closing to the `with` block"
                )
            self._start()
            try:
                self._stream.write(data)
            except BaseException:
                self._mark_closed()
                raise
            if self._schedule is not None:
                self._schedule.wrote(time.monotonic())
        return True

    def _next_due(self) -> float | None:
        with self._lock:
            if self._closed or self._schedule is None:
                return None
            return self._schedule.next_due()

    def _on_timer(self) -> None:
        """Send what is due (a heartbeat, or the final event and the end); called by the timer."""
        with self._lock:
            if self._closed or self._schedule is None:
                return
            stream = self._stream
            if stream.closed:  # ended behind the helper's back (the handler returned, or ended it)
                self._mark_closed()
                return
            now = time.monotonic()
            action = self._schedule.due(now)
            try:
                if action == DEADLINE:
                    self._deadline_reached = True
                    self._mark_closed()
                    final = self._options.deadline_event
                    if final is not None:
                        stream.write(final.encoded)
                    stream.end()
                elif action is not None:
                    stream.write(HEARTBEAT)
                    self._schedule.wrote(now)
            except Exception as error:  # noqa: BLE001 - kept for the handler, which raises it at its next call
                self._failure = error
                self._mark_closed()

    def _mark_closed(self) -> None:
        """Closed: no more timer work, and every sleeper wakes; lock held."""
        self._closed = True
        if self._closed_event is not None:
            self._closed_event.set()
        future, loop = self._closed_future, self._loop
        if future is not None and loop is not None:
            if running_loop() is loop:
                if not future.done():
                    future.set_result(None)
            else:
                loop.call_soon_threadsafe(_resolve, future)

    def _abandon(self) -> None:
        """The handler failed: stop the timer and leave the response to the runtime's error report."""
        with self._lock:
            self._mark_closed()
        self._stop_timer()

    def _raise_failure(self) -> None:
        """Raise what broke the stream in the timer (a lost connection, the Runtime API's refusal)."""
        if self._failure is not None:
            self._stop_timer()
            raise self._failure

    def _stop_timer(self) -> None:
        """Stop the timer and wait until it cannot write any more; lock not held (its thread may want it)."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.stop()


def sse_response(  # type: ignore[no-redef]
    handler: GeneratorFunction | None = None,
    /,
    *,
    heartbeat: float | None = DEFAULT_HEARTBEAT_SECONDS,
    deadline_margin: float | None = DEFAULT_DEADLINE_MARGIN_SECONDS,
    deadline_event: ServerSentEvent | None = DEADLINE_EVENT,
    retry: int | None = None,
    headers: Mapping[str, str] | None = None,
    cookies: Iterable[str] | None = None,
) -> Any:
    """Make a generator ``handler(event, context)`` (or an async generator) a server-sent events handler.

    Each item it yields is sent at once: a :class:`ServerSentEvent`, or a str as the data of a
    ``message`` event. The response is a :class:`ServerSentEvents` (see there for the options), so
    the head goes out at once, heartbeats while the generator waits, and the deadline closes the
    generator (a sync one at its next ``yield``, an async one at once) after the final event.
    Options are checked here, at import time. Returns a streaming handler
    ``(event, response_stream, context)``; the generator itself stays reachable as
    ``handler.event_source`` for unit tests.
    """
    options = EventStreamOptions(heartbeat, deadline_margin, deadline_event, retry, headers, cookies)

    def wrap(generator: GeneratorFunction) -> Callable[[Any, ResponseStream, Any], Any]:
        if not _is_generator_function(generator) or getattr(generator, STREAMING_MARK, None):
            raise TypeError(
                f"@sse_response needs a generator or async generator taking (event, context), got "
                f"{getattr(generator, '__qualname__', repr(generator))}; for a handler that writes itself "
                "use @streamify_response and `with ServerSentEvents(response_stream, event, context) as events`"
            )
        _check_parameters(generator, 2)
        run: Callable[[Any, ResponseStream, Any], Any]
        if is_async_function(generator):  # a generator that is async: an async generator

            async def run(event: Any, response_stream: ResponseStream, context: Any) -> None:
                events = ServerSentEvents(response_stream, event, context, _options=options)
                with events:
                    await _send_async_items(generator(event, context), events)

        else:

            def run(event: Any, response_stream: ResponseStream, context: Any) -> None:
                events = ServerSentEvents(response_stream, event, context, _options=options)
                with events:
                    _send_items(generator(event, context), events)

        for name in ("__module__", "__name__", "__qualname__", "__doc__", "event_source"):
            setattr(run, name, generator if name == "event_source" else getattr(generator, name, None))
        marked: Callable[[Any, ResponseStream, Any], Any] = streamify_response(run)
        return marked

    if handler is not None:
        return wrap(handler)
    return wrap


def _send_items(items: Any, events: ServerSentEvents) -> None:
    try:
        for item in items:
            if not events._write(encode_item(item)):
                return  # the deadline closed the stream: close the generator (GeneratorExit at its yield)
    finally:
        items.close()


async def _send_async_items(items: Any, events: ServerSentEvents) -> None:
    """Send what an async generator yields; at the deadline, cancel the step it is waiting in."""
    import asyncio
    import contextlib

    closed = events._closed_future
    assert closed is not None  # started on this loop by `with`
    try:
        while not closed.done():
            step = asyncio.ensure_future(items.__anext__())
            await asyncio.wait({step, closed}, return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                step.cancel()
                await asyncio.wait({step})
                if not step.cancelled():
                    with contextlib.suppress(StopAsyncIteration):
                        step.result()  # an error raised as it was cancelled is the handler's error
                return
            try:
                item = step.result()
            except StopAsyncIteration:
                return
            if not events._write(encode_item(item)):
                return
    finally:
        await items.aclose()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _seconds(name: str, value: Any, zero_allowed: bool = False) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} is a number of seconds, or None for none; got {value!r}")
    if value == 0 and not zero_allowed:
        raise ValueError(f"{name} must be more than 0 seconds; pass None to send no {name}")
    return float(value)


def _head_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The event stream's headers with the handler's own over them; its content type must stay an event stream."""
    merged = dict(_HEAD_HEADERS)
    for name, value in (headers or {}).items():
        if not isinstance(name, str):
            raise InvalidMetadataError(f"header names are str, got {name!r}")
        lower = name.lower()
        if lower == "content-type" and (
            not isinstance(value, str) or value.split(";", 1)[0].strip().lower() != MEDIA_TYPE
        ):
            raise InvalidMetadataError(
                f"an event stream's content-type is {MEDIA_TYPE} (EventSource refuses any other), got "
                f"{value!r}; leave it out, or add only parameters, e.g. '{MEDIA_TYPE}; charset=utf-8'"
            )
        merged.pop(lower, None)
        merged[lower] = value
    return merged
