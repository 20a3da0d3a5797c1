"""Async handlers and ASGI apps serving several invocations at once, on the process's one event loop.

On Lambda Managed Instances (:mod:`stream_fn.managed_instances`) an ``async`` handler, an async
generator or an ``asgi_handler(app)`` runs here: ``AWS_LAMBDA_MAX_CONCURRENCY`` slots on the event
loop that :func:`stream_fn.event_loop.process_event_loop` made at init (the ASGI lifespan's loop), each
a coroutine with its own Runtime API connection (:class:`~stream_fn.loop_client.LoopRuntimeApiClient`)
that runs ``/next -> invoke -> report`` for the life of the process. Nothing blocks the loop: sockets
are non-blocking, a write that does not fit in the socket's buffer waits in the client's queue.

Each invocation is a task of its own, started in an empty :class:`contextvars.Context` with its
:class:`~stream_fn.invocation_scope.InvocationScope` entered, so its log records, ``current_invocation()``
and the tasks it starts carry its request and trace ids, and a ``ContextVar`` it sets never reaches the
next invocation on its slot. ``_X_AMZN_TRACE_ID`` is left alone (one variable cannot hold several
invocations' trace ids; aws-lambda-go leaves it alone too when ``AWS_LAMBDA_MAX_CONCURRENCY`` is above 1).

The handler's result is reported as in :mod:`stream_fn.loop` (buffered, streamed, errors before and
after the first byte), except that the Runtime API's answer to a report never stops the runtime: a
refusal, even a 5xx, is logged and the slot goes on, as the stock client does on Managed Instances
(awslambdaric ``LambdaMultiConcurrentRuntimeClient.handle_exception``: "This won't kill the Runtime loop").

Timeouts: "When an invocation times out, Lambda marks that specific invocation as failed but does not
interrupt other running invocations or terminate the execution environment", and Managed Instances do
not stop the function's code (AWS Lambda Developer Guide, "Understanding the Lambda Managed Instances
execution environment"). stream_fn cancels the invocation's task at its deadline
(``Lambda-Runtime-Deadline-Ms``) plus :data:`DEADLINE_GRACE_SECONDS`, so its slot takes the next
invocation; a stream that had started ends with error trailers (``Function.InvocationTimeout``), which
the platform may refuse, as it has already failed the invocation.

SIGTERM stops the slots; then whatever handled SIGTERM before runs (the ASGI lifespan's shutdown).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import signal
import sys
import time

from stream_fn import faults
from stream_fn.context import LambdaContext
from stream_fn.errors import StreamConnectionError
from stream_fn.event_loop import process_event_loop
from stream_fn.loop import InvocationRunner, _error_report, write_chunks
from stream_fn.loop_client import LoopRuntimeApiClient
from stream_fn.runtime_api import RuntimeApiError, RuntimeApiUnavailableError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from types import FrameType
    from typing import Any

    from stream_fn.error_reports import ErrorReport
    from stream_fn.runtime_api import InvocationEvent
    from stream_fn.stream_metrics import StreamMeter
    from stream_fn.streams import ResponseStream

#: A generator handler waits for the socket once this many bytes are queued on its connection.
HIGH_WATER_BYTES = 1024 * 1024
#: How long after its deadline an invocation is cancelled: the platform fails it at the deadline with its
#: own error (``Sandbox.Timedout``), which is what the caller should see, not the runtime's.
DEADLINE_GRACE_SECONDS = 1.0


class InvocationTimeout(Exception):
    """The invocation ran past its deadline and stream_fn cancelled it (the type of its error report)."""


class _Deadline:
    """Whether the invocation's task was cancelled for its deadline (or for another reason)."""

    __slots__ = ("passed", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.passed = False


class LoopInvocationRunner(InvocationRunner):
    """Runs an async handler for each invocation a slot hands it, as a task on the event loop."""

    async def serve(
        self, invocation: InvocationEvent, client: LoopRuntimeApiClient, deadline: _Deadline
    ) -> None:
        """Invoke the handler for ``invocation`` and report its result or error on ``client``."""
        arrived_ns = time.perf_counter_ns() if self._metrics is not None else 0
        request_id = self._enter(invocation)
        if request_id is None:
            return
        try:
            event, context = self._arguments(invocation, request_id)
        except faults.Fault as error:
            await self._report_failure(client, request_id, _error_report(error))
            return
        if self._options is None:
            await self._serve_buffered(client, request_id, event, context, deadline)
        elif self._metrics is None:
            await self._serve_streaming(client, request_id, event, context, deadline)
        else:
            meter = self._metrics.meter(arrived_ns)
            await self._serve_streaming(client, request_id, event, context, deadline, meter)
            self._metrics.emit(meter, request_id)

    async def _serve_buffered(
        self,
        client: LoopRuntimeApiClient,
        request_id: str,
        event: Any,
        context: LambdaContext,
        deadline: _Deadline,
    ) -> None:
        try:
            result = self._handler(event, context)
            if hasattr(result, "__await__"):
                result = await result
            body, content_type = self._marshal(result)
        except asyncio.CancelledError:
            if not deadline.passed:
                raise
            report = _timeout_report(deadline)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: BLE001 - the invocation fails, the runtime goes on
            report = _error_report(error)
        else:
            await self._call(request_id, client.send_response(request_id, body, content_type))
            return
        await self._report_failure(client, request_id, report)

    async def _serve_streaming(
        self,
        client: LoopRuntimeApiClient,
        request_id: str,
        event: Any,
        context: LambdaContext,
        deadline: _Deadline,
        meter: StreamMeter | None = None,
    ) -> None:
        options = self._options
        assert options is not None
        stream = self._open_stream(client, request_id, event, meter)
        report: ErrorReport | None = None
        try:
            if options.generator:
                await _write_chunks(self._handler(event, context), stream, client)
            else:
                result = self._handler(event, stream, context)
                if hasattr(result, "__await__"):
                    await result
        except asyncio.CancelledError:
            if not deadline.passed:
                raise
            report = _timeout_report(deadline)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: BLE001 - the invocation fails, the runtime goes on
            report = _error_report(error)
        must_post_error = False
        if report is None:
            self._guard(request_id, stream._finish)
        else:
            report.log(self._log, request_id)
            trailers = report.trailers()
            must_post_error = bool(self._guard(request_id, lambda: stream._fail(trailers)))
        if client.reply_pending:
            await self._call(request_id, client.stream_reply())
        if must_post_error and report is not None:
            await self._send_error(client, request_id, report)

    async def _report_failure(
        self, client: LoopRuntimeApiClient, request_id: str, report: ErrorReport
    ) -> None:
        """Log the invocation's error and post it to ``/error`` (nothing of the response was sent)."""
        report.log(self._log, request_id)
        await self._send_error(client, request_id, report)

    async def _send_error(self, client: LoopRuntimeApiClient, request_id: str, report: ErrorReport) -> None:
        document = json.dumps(report.document(request_id), ensure_ascii=False).encode()
        await self._call(
            request_id,
            client.send_invocation_error(request_id, document, report.header_type(), report.xray_cause()),
        )

    @staticmethod
    async def _call(request_id: str, request: Awaitable[None]) -> None:
        """Await a report to the Runtime API; a refusal or a lost connection is logged, never raised."""
        try:
            await request
        except (RuntimeApiError, RuntimeApiUnavailableError, OSError) as error:
            sys.stderr.write(f"stream_fn: request {request_id}: {error}\n")

    @staticmethod
    def _guard(request_id: str, action: Callable[[], Any]) -> Any:
        """Run a step of a stream's end; a broken stream is logged, never raised."""
        try:
            return action()
        except (StreamConnectionError, RuntimeApiError, RuntimeApiUnavailableError, OSError) as error:
            sys.stderr.write(f"stream_fn: request {request_id}: {error}\n")
            return False


def _timeout_report(deadline: _Deadline) -> ErrorReport:
    """The report of a task cancelled at its deadline (the task may await again: its reports)."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
    return _error_report(InvocationTimeout(f"Task timed out after {deadline.seconds:.2f} seconds"))


async def _write_chunks(chunks: Any, stream: ResponseStream, client: LoopRuntimeApiClient) -> None:
    """Write each chunk a generator handler yields; wait for the socket when much is queued."""
    write = stream.write
    if not hasattr(chunks, "__anext__"):
        write_chunks(chunks, write)
        return
    try:
        async for chunk in chunks:
            write(chunk)
            if client.backlog > HIGH_WATER_BYTES:
                await client.drained()
    finally:
        await chunks.aclose()


class LoopSlots:
    """``slots`` invocation slots on the process's event loop, each with its own connection."""

    def __init__(self, runner: LoopInvocationRunner, slots: int, address: str, user_agent: str) -> None:
        self._runner = runner
        self._slots = slots
        self._address = address
        self._user_agent = user_agent
        self._loop = process_event_loop()
        self._stopping: asyncio.Future[None] = self._loop.create_future()
        self._invocations: set[asyncio.Task[None]] = set()

    def run(self) -> int:
        """Serve until every slot has stopped (return 1) or SIGTERM arrives (return 0, after the previous
        SIGTERM handler ran)."""
        loop = self._loop
        previous = signal.getsignal(signal.SIGTERM)
        watch_sigterm = previous != signal.SIG_IGN
        if watch_sigterm:
            loop.add_signal_handler(signal.SIGTERM, self.stop)
        try:
            status = loop.run_until_complete(self._serve())
        finally:
            if watch_sigterm:
                loop.remove_signal_handler(signal.SIGTERM)
                signal.signal(signal.SIGTERM, previous)
        if self._stopping.done() and callable(previous):
            _call_previous(previous)
        return status

    def stop(self) -> None:
        if not self._stopping.done():
            self._stopping.set_result(None)

    async def _serve(self) -> int:
        loop = self._loop
        slots = [
            loop.create_task(
                self._slot(LoopRuntimeApiClient(self._address, self._user_agent, loop)),
                name=f"stream_fn slot {index + 1}",
            )
            for index in range(self._slots)
        ]
        everything: asyncio.Future[Any] = asyncio.gather(*slots, return_exceptions=True)
        waiters: list[asyncio.Future[Any]] = [everything, self._stopping]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if not self._stopping.done():
            sys.stderr.write("stream_fn: stopping: every invocation slot has stopped\n")
            return 1
        for task in (*slots, *self._invocations):
            task.cancel()
        await asyncio.gather(everything, *self._invocations, return_exceptions=True)
        return 0

    async def _slot(self, client: LoopRuntimeApiClient) -> None:
        loop = self._loop
        while True:
            try:
                invocation = await client.next_event()
            except (RuntimeApiError, RuntimeApiUnavailableError) as error:
                sys.stderr.write(f"stream_fn: an invocation slot stops: {error}\n")
                client.close()
                return
            try:
                await client.ready()
            except RuntimeApiUnavailableError as error:
                sys.stderr.write(f"stream_fn: request {invocation.request_id}: {error}\n")
            seconds = invocation.deadline_ms / 1000 - time.time() if invocation.deadline_ms else 0.0
            deadline = _Deadline(max(seconds, 0.0))
            task = loop.create_task(
                self._runner.serve(invocation, client, deadline), context=contextvars.Context()
            )
            self._invocations.add(task)
            timer = (
                loop.call_later(
                    deadline.seconds + DEADLINE_GRACE_SECONDS,
                    _cancel_at_deadline,
                    task,
                    deadline,
                    invocation.request_id,
                )
                if invocation.deadline_ms
                else None
            )
            try:
                await asyncio.wait([task])
            finally:
                if timer is not None:
                    timer.cancel()
                self._invocations.discard(task)
            failure = None if task.cancelled() else task.exception()
            if failure is not None:
                sys.stderr.write(f"stream_fn: request {invocation.request_id}: {failure!r}\n")
            if client.backlog or client.reply_pending:
                client.close()  # an answer it never finished: the next request needs a clean connection


def _cancel_at_deadline(task: asyncio.Task[None], deadline: _Deadline, request_id: str) -> None:
    if not task.done():
        sys.stderr.write(f"stream_fn: request {request_id}: cancelled at its deadline\n")
        deadline.passed = True
        task.cancel()


def _call_previous(handler: Callable[[int, FrameType | None], Any]) -> None:
    """Let the SIGTERM handler that was there before (the ASGI lifespan's shutdown) run now."""
    handler(signal.SIGTERM, None)


def serve_on_event_loop(runner: LoopInvocationRunner, slots: int, address: str, user_agent: str) -> int:
    """Serve ``slots`` invocations at once with ``runner`` until the slots stop or SIGTERM arrives."""
    return LoopSlots(runner, slots, address, user_agent).run()
