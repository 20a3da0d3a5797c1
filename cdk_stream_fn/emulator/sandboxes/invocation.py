"""One invocation as it travels between a front end (function URL, Lambda API) and a runtime.

The front end submits an `Invocation`; the Runtime API hands its event to the runtime and feeds the
runtime's response back into it; the front end reads that response as it arrives. Between the two sits
a small bounded pipe: when the front end's client reads slowly, the Runtime API stops reading from the
runtime's socket, so backpressure reaches the function and memory stays flat whatever the stream's size.
"""

from __future__ import annotations

import asyncio
import collections
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from cdk_stream_fn.emulator import limits
from cdk_stream_fn.emulator.platform_errors import FunctionError


class InvocationFailed(Exception):
    """The invocation ended with an error before the runtime started a response."""

    def __init__(self, error: FunctionError) -> None:
        super().__init__(f"{error.error_type}: {error.message}")
        self.error = error


def new_request_id() -> str:
    """A random (version 4) UUID, the shape of Lambda's request ids, formatted straight from 16 random
    bytes: `str(uuid.uuid4())` costs three times as much, on every invocation."""
    digits = os.urandom(16).hex()
    variant = "89ab"[int(digits[16], 16) & 3]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


def new_trace_id() -> str:
    """An X-Ray trace header for one invocation: `Root=1-<epoch hex>-<24 hex>;Parent=...;Sampled=0`."""
    # One system call for the root's 24 hex digits, the parent's 16 and the lineage's 8.
    digits = os.urandom(24).hex()
    root = f"1-{int(time.time()):08x}-{digits[:24]}"
    return f"Root={root};Parent={digits[24:40]};Sampled=0;Lineage=1:{digits[40:]}:0"


@dataclass(frozen=True)
class InvokeRequest:
    """What the runtime receives from `GET /runtime/invocation/next`."""

    payload: bytes
    request_id: str = field(default_factory=new_request_id)
    invoked_function_arn: str = ""
    trace_id: str = field(default_factory=new_trace_id)
    client_context: str | None = None
    cognito_identity: str | None = None
    content_type: str = "application/json"


@dataclass(frozen=True)
class ResponseHead:
    """How the runtime started its response: its content type and whether it streams."""

    content_type: str
    streaming: bool


@dataclass
class Timeline:
    """`time.perf_counter_ns()` stamps of one invocation (0 until the moment happens)."""

    submitted_ns: int = 0
    picked_up_ns: int = 0
    response_started_ns: int = 0
    first_chunk_ns: int = 0
    ended_ns: int = 0


class Milestone:
    """A moment that happens once (an invocation picked up, finished): `set`, `is_set`, `await wait()`
    as with `asyncio.Event`, and `future` to hand to `asyncio.wait` directly, without the task per
    waiter that an event needs there."""

    def __init__(self) -> None:
        self.future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def set(self) -> None:
        if not self.future.done():
            self.future.set_result(None)

    def is_set(self) -> bool:
        return self.future.done()

    async def wait(self) -> bool:
        if not self.future.done():
            await asyncio.shield(self.future)  # a waiter that is cancelled must not cancel the moment
        return True


_END = None


class _Pipe:
    """A FIFO of `(perf_counter_ns, bytes)` chunks bounded in bytes, with an end marker and a discard switch.

    The writer (the Runtime API, inside its protocol callbacks) never waits: `offer` refuses a chunk
    while the pipe holds `max_bytes` or more, and the writer then stops reading from the runtime until
    `when_writable` calls it back (the reader made room, or the pipe ended). The one reader awaits `get`,
    on a future made only when it has to wait (cheaper than an `asyncio.Event`, on every chunk).
    """

    def __init__(self, max_bytes: int) -> None:
        self._items: collections.deque[tuple[int, bytes] | None] = collections.deque()
        self._max_bytes = max_bytes
        self._bytes = 0
        self._reader: asyncio.Future[None] | None = None
        self._on_writable: Callable[[], object] | None = None
        self.discarding = False

    def offer(self, item: tuple[int, bytes]) -> bool:
        """Queue `item` (dropped while discarding), or return False, keeping nothing, while it is full."""
        if self.discarding:
            return True
        if self._bytes >= self._max_bytes:
            return False
        self._items.append(item)
        self._bytes += len(item[1])
        if self._reader is not None:
            self._wake_reader()
        return True

    def when_writable(self, callback: Callable[[], object]) -> None:
        """Call `callback` (soon, from the event loop) once there is room again or the pipe has ended."""
        self._on_writable = callback
        if self.discarding or self._bytes < self._max_bytes:
            self._call_writer()

    def close(self) -> None:
        self._items.append(_END)
        self._wake_reader()
        self._call_writer()  # nothing more goes in: a writer waiting for room must not wait forever

    async def get(self) -> tuple[int, bytes] | None:
        while not self._items:
            self._reader = asyncio.get_running_loop().create_future()
            await self._reader
        item = self._items.popleft()
        if item is _END:
            self._items.appendleft(_END)
        else:
            self._bytes -= len(item[1])
        if self._on_writable is not None and self._bytes < self._max_bytes:
            self._call_writer()
        return item

    def discard(self) -> None:
        self.discarding = True
        self._items = collections.deque(item for item in self._items if item is _END)
        self._bytes = 0
        self._call_writer()

    def _wake_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            reader.set_result(None)

    def _call_writer(self) -> None:
        callback, self._on_writable = self._on_writable, None
        if callback is not None:
            asyncio.get_running_loop().call_soon(callback)


class Invocation:
    """One request to a function and the response the runtime streams back.

    Front-end side: `await head()`, then `async for chunk in body()`, then read `error`
    (an error sent in trailers, a timeout, a crash or the size cap ends the body early). Call
    `abandon()` when the client goes away: the runtime keeps running, as on Lambda, and its
    output is discarded.

    Runtime side (the Runtime API and the sandbox): `start_response`, `offer_chunk`, `end_response`,
    `fail`.
    """

    def __init__(self, request: InvokeRequest, *, pipe_bytes: int = limits.PIPE_BYTES) -> None:
        self.request = request
        self.timeline = Timeline(submitted_ns=time.perf_counter_ns())
        self.error: FunctionError | None = None
        self.bytes_received = 0
        #: Epoch milliseconds by which the runtime must answer (set when the runtime picks it up).
        self.deadline_ms = 0
        #: The runtime's last 4 KB of output during this invocation (for `LogType: Tail`), complete once
        #: `log_tail_ready` (made by `want_log_tail`) is set.
        self.log_tail = b""
        self.log_tail_ready: Milestone | None = None
        self.picked_up = Milestone()
        self.finished = Milestone()
        self._head: ResponseHead | None = None
        #: Set once `head()` has its answer: the response started, failed first, or was abandoned.
        self._head_settled = Milestone()
        self._pipe = _Pipe(pipe_bytes)
        self._ended = False

    @property
    def request_id(self) -> str:
        return self.request.request_id

    @property
    def ended(self) -> bool:
        return self._ended

    # -- front-end side ---------------------------------------------------------------------------

    async def head(self) -> ResponseHead:
        """Wait for the runtime to start its response; raise `InvocationFailed` if it failed first."""
        if not self._head_settled.is_set():
            await self._head_settled.wait()
        if self._head is not None:
            return self._head
        if self.error is not None:
            raise InvocationFailed(self.error)
        raise asyncio.CancelledError("the invocation was abandoned before its response started")

    async def timed_body(self) -> AsyncIterator[tuple[int, bytes]]:
        """The response body as `(perf_counter_ns when read from the runtime, bytes)` pairs."""
        while (item := await self._pipe.get()) is not _END:
            yield item

    async def body(self) -> AsyncIterator[bytes]:
        """The response body, chunk by chunk, as the runtime writes it."""
        while (item := await self._pipe.get()) is not _END:
            yield item[1]

    async def read_all(self) -> bytes:
        """The whole body (for buffered front ends; bounded by the response size limits)."""
        return b"".join([chunk async for chunk in self.body()])

    def want_log_tail(self) -> Milestone:
        """Ask the sandbox to collect `log_tail` with care; the milestone is set once it is complete."""
        if self.log_tail_ready is None:
            self.log_tail_ready = Milestone()
        return self.log_tail_ready

    def abandon(self) -> None:
        """The client is gone: discard the rest of the response instead of holding the runtime."""
        self._pipe.discard()
        self._head_settled.set()

    # -- runtime side -----------------------------------------------------------------------------

    def mark_picked_up(self) -> None:
        self.timeline.picked_up_ns = time.perf_counter_ns()
        self.picked_up.set()

    def start_response(self, content_type: str, *, streaming: bool) -> None:
        self.timeline.response_started_ns = time.perf_counter_ns()
        if not self._head_settled.is_set():
            self._head = ResponseHead(content_type, streaming)
            self._head_settled.set()

    def offer_chunk(self, data: bytes) -> bool:
        """Hand one body chunk on, or return False (keeping nothing) while the front end still holds
        `PIPE_BYTES`: the runtime side then stops reading until `when_ready_for_more` calls it back,
        and offers the chunk again (backpressure)."""
        now = time.perf_counter_ns()
        if not self._pipe.offer((now, data)):
            return False
        if not self.timeline.first_chunk_ns:
            self.timeline.first_chunk_ns = now
        self.bytes_received += len(data)
        return True

    def when_ready_for_more(self, callback: Callable[[], object]) -> None:
        """Call `callback` from the event loop once the front end has taken a chunk (or the body ended)."""
        self._pipe.when_writable(callback)

    def end_response(self, error: FunctionError | None = None) -> None:
        """The body is complete (or cut short by `error`)."""
        if self._ended:
            return
        self._ended = True
        self.error = error
        self.timeline.ended_ns = time.perf_counter_ns()
        self._pipe.close()

    def fail(self, error: FunctionError) -> None:
        """End the invocation with `error`: before a response it replaces it, after it truncates it."""
        if self._ended:
            return
        self._head_settled.set()  # without a response yet, `head()` raises `InvocationFailed`
        self.end_response(error)

    def finish(self) -> None:
        """The runtime is done with this invocation: its sandbox may take the next one."""
        if not self._ended:
            self.end_response()
        self.finished.set()
