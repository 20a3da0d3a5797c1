"""Synchronous handlers and WSGI apps serving several invocations at once: one thread per slot.

On Lambda Managed Instances (:mod:`stream_fn.managed_instances`), a handler that is not ``async``
runs on threads of the one runtime process: ``AWS_LAMBDA_MAX_CONCURRENCY`` threads, each with its
own Runtime API connection and its own ``/next`` loop (:func:`stream_fn.blocking_slot.run_slot`),
which is how aws-lambda-go runs its goroutines (``lambda/invoke_loop_gte_go122.go``). A handler
that waits (on a model, a database) releases the GIL while it waits, so the threads overlap as the
stock client's processes do, for a fraction of the memory (see the README's Managed Instances section
for the figures). Module globals are shared between the threads: handler code must be thread-safe, or
run with ``STREAM_FN_CONCURRENCY=processes``.

Each thread holds its invocation's scope (request id, trace id) on its own
(:func:`stream_fn.invocation_scope.use_concurrent_invocations`), and ``_X_AMZN_TRACE_ID`` is not set:
one environment variable cannot hold several invocations' trace ids. aws-lambda-go also leaves it
alone when ``AWS_LAMBDA_MAX_CONCURRENCY`` is above 1 (``lambda/invoke_loop.go``).
"""

from __future__ import annotations

import sys
import threading

from stream_fn.blocking_slot import run_slot
from stream_fn.loop import InvocationRunner
from stream_fn.runtime_api import RuntimeApiClient

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from stream_fn.logs import LambdaLog


class _ScopeOnlyTraceId:
    """Stands in for ``_X_AMZN_TRACE_ID``: concurrent invocations read their trace id from their scope."""

    def set(self, trace_id: str | None) -> None:
        pass

    def use_owned_buffers(self) -> None:
        pass


class SlotRunner(InvocationRunner):
    """The one-at-a-time runner, for one slot of several: it leaves ``_X_AMZN_TRACE_ID`` alone."""

    def __init__(self, handler: Callable[..., Any], client: RuntimeApiClient, log: LambdaLog) -> None:
        super().__init__(handler, client, log)
        self._trace_id = _ScopeOnlyTraceId()  # type: ignore[assignment]


def serve_on_threads(
    handler: Callable[..., Any], log: LambdaLog, slots: int, address: str, user_agent: str
) -> int:
    """Run ``slots`` slot threads until every one has stopped (each stops when ``/next`` gives up); return 1."""
    threads = []
    for index in range(slots):
        client = RuntimeApiClient(address, user_agent, reconnect_delays=())
        runner = SlotRunner(handler, client, log)
        thread = threading.Thread(
            target=run_slot, args=(runner, client), name=f"stream_fn slot {index + 1}", daemon=True
        )
        threads.append(thread)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sys.stderr.write("stream_fn: stopping: every invocation slot has stopped\n")
    return 1
