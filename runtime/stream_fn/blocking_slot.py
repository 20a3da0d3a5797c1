"""One invocation slot on a blocking Runtime API connection: ``/next``, invoke, report, for good.

What a thread (:mod:`stream_fn.thread_slots`) or a worker process (:mod:`stream_fn.worker_processes`)
runs on Lambda Managed Instances. It differs from the one-at-a-time loop (:mod:`stream_fn.loop`) as
the stock client's ``LambdaMultiConcurrentRuntimeClient`` differs from its ``LambdaRuntimeClient``
(awslambdaric 4.x ``lambda_runtime_client.py``): ``GET /next`` is retried with backoff
(:data:`stream_fn.concurrency.NEXT_RETRY_DELAYS`) before the slot gives up, and a report the Runtime
API refuses, even with a 5xx, is logged and the slot goes on ("This won't kill the Runtime loop").
"""

from __future__ import annotations

import sys
import time

from stream_fn.concurrency import NEXT_RETRY_DELAYS
from stream_fn.loop import FatalRuntimeApiError
from stream_fn.runtime_api import RuntimeApiError, RuntimeApiUnavailableError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from stream_fn.loop import InvocationRunner
    from stream_fn.runtime_api import InvocationEvent, RuntimeApiClient


def next_with_backoff(
    client: RuntimeApiClient, delays: tuple[float, ...] = NEXT_RETRY_DELAYS
) -> InvocationEvent:
    """``GET /runtime/invocation/next``, tried again after each of ``delays``; raise once the last try failed."""
    failure: Exception
    for delay in (*delays, None):
        try:
            return client.next_invocation()
        except (RuntimeApiError, RuntimeApiUnavailableError) as error:
            client.close()
            failure = error
        if delay is None:
            break
        sys.stderr.write(f"stream_fn: {failure}; trying again in {delay:g} s\n")
        time.sleep(delay)
    raise failure


def run_slot(runner: InvocationRunner, client: RuntimeApiClient) -> None:
    """Serve invocations until ``GET /next`` gives up (then return, and the slot is gone)."""
    while True:
        try:
            invocation = next_with_backoff(client)
        except (RuntimeApiError, RuntimeApiUnavailableError) as error:
            sys.stderr.write(f"stream_fn: an invocation slot stops: {error}\n")
            return
        try:
            runner.run_once(invocation)
        except FatalRuntimeApiError as error:
            sys.stderr.write(f"stream_fn: request {invocation.request_id}: {error} (the runtime goes on)\n")
