"""The runtime on Lambda Managed Instances: several invocations at once in one execution environment.

``python -m stream_fn`` comes here instead of :func:`stream_fn.loop.main` when ``AWS_LAMBDA_MAX_CONCURRENCY``
is set (:mod:`stream_fn.concurrency`). The stock client then forks that many processes, each with its
own ``/next`` loop (awslambdaric 4.x ``__main__.py`` and ``lambda_multi_concurrent_utils.py``); AWS
documents that model for Python ("Each concurrent request runs in a separate process with its own
memory space and initialization", "Python runtime for Lambda Managed Instances"). Streams mostly wait,
so stream_fn serves them in one process by default:

* ``async`` handlers, async generators and ASGI apps: every slot on the process's one event loop
  (:mod:`stream_fn.loop_invocations`, non-blocking sockets: :mod:`stream_fn.loop_client`);
* other handlers and WSGI apps: one thread per slot (:mod:`stream_fn.thread_slots`);
* ``STREAM_FN_CONCURRENCY=processes``: one process per slot, as the stock client
  (:mod:`stream_fn.worker_processes`), for handler code that must not share a process.

Start-up is :func:`stream_fn.loop.main`'s, with what Managed Instances change:

* Logs are JSON whatever ``AWS_LAMBDA_LOG_FORMAT`` says: "Functions using Lambda Managed Instances always
  use the structured JSON log format ... This format includes the requestId, so that log entries can be
  associated with a single request" ("Python runtime for Lambda Managed Instances", Logging).
* The invocation's scope (request id, trace id) is held per thread and per asyncio task
  (:func:`stream_fn.invocation_scope.use_concurrent_invocations`); ``_X_AMZN_TRACE_ID`` is set only in
  worker processes, where one process serves one invocation at a time.
* A 403 on ``POST /runtime/init/error`` means another worker has reported the init error already; it is
  not an error (awslambdaric ``LambdaMultiConcurrentRuntimeClient.handle_init_error``).
"""

from __future__ import annotations

import os

from stream_fn import faults, logs
from stream_fn.concurrency import ConcurrencySettings, read_concurrency_settings
from stream_fn.decorator import is_async_function
from stream_fn.invocation_scope import use_concurrent_invocations
from stream_fn.log_output import LogSettings
from stream_fn.loop import (
    USER_AGENT,
    InvocationRunner,
    handler_from_environment,
    report_init_error,
    runtime_api_client,
)
from stream_fn.sys_path import use_stock_sys_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from stream_fn.runtime_api import RuntimeApiClient


def main() -> int:
    """Run the runtime on Lambda Managed Instances until the Runtime API goes away; the exit status."""
    environ = os.environ
    client = runtime_api_client(environ, reconnect=False)
    if client is None:
        return 2
    settings_error: ValueError | None = None
    try:
        settings = read_concurrency_settings(environ)
    except ValueError as error:
        settings_error, settings = error, ConcurrencySettings(1)
    if settings.processes:
        from stream_fn.worker_processes import preload_runtime, run_worker_processes

        preload_runtime()
        # Each worker gets its own copy of the client, which has no connection yet.
        return run_worker_processes(
            settings.slots, settings.log_socket, lambda: _start(client, settings, None, in_process=False)
        )
    return _start(client, settings, settings_error, in_process=True)


def _start(
    client: RuntimeApiClient,
    settings: ConcurrencySettings,
    settings_error: ValueError | None,
    *,
    in_process: bool,
) -> int:
    """Start up (sys.path, logs, the handler) and serve the slots, in this process or as one worker."""
    environ = os.environ
    use_stock_sys_path(environ)
    try:
        level = logs.read_log_settings(environ).level
    except ValueError as error:
        settings_error, level = settings_error or error, ""
    log = logs.install(LogSettings(True, level), environ)
    if in_process:
        use_concurrent_invocations()
    try:
        if settings_error is not None:
            raise faults.Fault(faults.INVALID_ENVIRONMENT, str(settings_error))
        handler = handler_from_environment(environ)
        serve = _server(handler, client, log, settings, in_process=in_process)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - any failure at init is reported, SystemExit included
        return report_init_error(client, log, error, concurrent=True)
    return serve()


def _server(
    handler: Callable[..., Any],
    client: RuntimeApiClient,
    log: logs.LambdaLog,
    settings: ConcurrencySettings,
    *,
    in_process: bool,
) -> Callable[[], int]:
    """What serves the slots, made ready at init (so an error in it is an init error)."""
    address = client.address
    if not in_process:
        from stream_fn.blocking_slot import run_slot

        runner = InvocationRunner(handler, client, log)

        def serve_one_slot() -> int:
            run_slot(runner, client)
            return 1

        return serve_one_slot
    if is_async_function(handler):
        from stream_fn.loop_invocations import LoopInvocationRunner, serve_on_event_loop

        loop_runner = LoopInvocationRunner(handler, client, log)
        return lambda: serve_on_event_loop(loop_runner, settings.slots, address, USER_AGENT)
    from stream_fn.thread_slots import serve_on_threads

    InvocationRunner(handler, client, log)  # the handler's options are checked now, at init
    return lambda: serve_on_threads(handler, log, settings.slots, address, USER_AGENT)
