"""One runtime process per invocation slot, as the stock client runs on Lambda Managed Instances.

With ``STREAM_FN_CONCURRENCY=processes`` (:mod:`stream_fn.concurrency`) the runtime forks
``AWS_LAMBDA_MAX_CONCURRENCY`` worker processes before it imports the handler; each imports it and runs
the one-at-a-time loop with Managed Instances' retries (:mod:`stream_fn.blocking_slot`), so module
globals, ``_X_AMZN_TRACE_ID`` and everything else stay per invocation, at the memory cost of a process
per slot. This follows awslambdaric 4.x ``lambda_multi_concurrent_utils.MultiConcurrentRunner``:

* fork (``multiprocessing.get_context("fork")``), one worker per slot, the parent waiting for them all;
  the stock parent imports its own modules before it forks and each worker imports the handler, and so
  does stream_fn (:func:`preload_runtime`): the runtime's pages are shared, the function's code is
  imported after the fork, so nothing it opens at import (a connection, a thread) is shared;
* the parent's framed log descriptor (``_LAMBDA_TELEMETRY_LOG_FD``) is closed before forking (the stock
  parent uses it once, for its worker-pool event, and closes it), so workers log to stdout;
* each worker connects its stdout and stderr to the Unix socket ``_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET``
  names, one connection each, when Lambda sets it ("RAPID wires the runtime main process's
  stdout/stderr to the log egress at spawn. The FD provider socket is only for the forked workers").

The parent passes SIGTERM on to its workers.
"""

from __future__ import annotations

import os
import signal
import socket
import sys

from stream_fn.logs import TELEMETRY_FD_VARIABLE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType


#: The runtime's own modules every worker needs, imported once before forking (they open nothing).
PRELOADED_MODULES = ("stream_fn.streams", "stream_fn.blocking_slot", "stream_fn.framing")


def preload_runtime() -> None:
    """Import the runtime's modules that every worker needs, so the workers share their pages."""
    import importlib

    for name in PRELOADED_MODULES:
        importlib.import_module(name)


def run_worker_processes(count: int, log_socket: str | None, worker: Callable[[], int]) -> int:
    """Fork ``count`` workers that each run ``worker()``; return 0 once all have exited 0, else 1."""
    _close_telemetry_descriptor()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    children: list[int] = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            os._exit(_run_worker(log_socket, worker))
        children.append(pid)

    def pass_on(signum: int, frame: FrameType | None) -> None:
        for child in children:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, pass_on)
    statuses = [os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) for child in children]
    return 0 if all(status == 0 for status in statuses) else 1


def _run_worker(log_socket: str | None, worker: Callable[[], int]) -> int:
    """A worker's life: its output to the log socket, then ``worker()``; its exit status."""
    status = 1
    try:
        if log_socket:
            redirect_output(log_socket)
        status = worker()
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # noqa: BLE001 - a worker reports what killed it and exits
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
    return status


def redirect_output(socket_path: str) -> None:
    """Connect stdout and stderr (file descriptors 1 and 2) to ``socket_path``, one connection each."""
    for descriptor in (1, 2):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(socket_path)
            os.dup2(connection.fileno(), descriptor)


def _close_telemetry_descriptor() -> None:
    descriptor = os.environ.pop(TELEMETRY_FD_VARIABLE, None)
    if descriptor and descriptor.isdigit():
        try:
            os.close(int(descriptor))
        except OSError:
            pass
