"""How many invocations one runtime process serves at once, and how: read from the environment.

Lambda Managed Instances run several invocations in one execution environment. Lambda tells the
runtime with these variables:

* ``AWS_LAMBDA_MAX_CONCURRENCY``: how many invocations the environment takes at once (the function's
  ``PerExecutionEnvironmentMaxConcurrency``). The stock client runs concurrently whenever it is set
  (awslambdaric 4.x ``lambda_config.LambdaConfigProvider.is_multi_concurrent``), and so does stream_fn.
* ``AWS_LAMBDA_INITIALIZATION_TYPE``: ``lambda-managed-instances`` (informational: nothing here needs it).
* ``_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET``: a Unix socket each worker process connects its stdout
  and stderr to (awslambdaric ``lambda_multi_concurrent_utils.MultiConcurrentRunner._redirect_output``;
  the runtime's main process writes to what Lambda gave it at spawn).

and stream_fn reads one variable of its own:

* ``STREAM_FN_CONCURRENCY``: ``in-process`` (the default: one process; async handlers and ASGI apps on
  its event loop, other handlers on threads) or ``processes`` (one process per invocation slot, each
  with its own ``/next`` loop, as the stock client runs: for handler code that is not thread-safe).
"""

from __future__ import annotations

from stream_fn.loop import MAX_CONCURRENCY_VARIABLE

INITIALIZATION_TYPE_VARIABLE = "AWS_LAMBDA_INITIALIZATION_TYPE"
MANAGED_INSTANCES_INITIALIZATION_TYPE = "lambda-managed-instances"
LOG_SOCKET_VARIABLE = "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET"
CONCURRENCY_VARIABLE = "STREAM_FN_CONCURRENCY"
IN_PROCESS = "in-process"
PROCESSES = "processes"

#: How long to wait before each retry of a failed ``GET /next`` on Managed Instances (awslambdaric
#: ``lambda_runtime_client``: ``DEFAULT_RETRY_MAX_ATTEMPTS = 5``, ``DEFAULT_RETRY_INITIAL_DELAY = 0.1``,
#: ``DEFAULT_RETRY_BACKOFF_FACTOR = 2.0``, used by ``LambdaMultiConcurrentRuntimeClient``: four waits
#: between five attempts). Any failure is retried: a lost connection or an answer other than 200.
NEXT_RETRY_DELAYS = (0.1, 0.2, 0.4, 0.8)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


class ConcurrencySettings:
    """``slots`` invocations at once, in one process or (``processes``) in one process each."""

    __slots__ = ("log_socket", "processes", "slots")

    def __init__(self, slots: int, processes: bool = False, log_socket: str | None = None) -> None:
        self.slots = slots
        self.processes = processes
        self.log_socket = log_socket

    def __repr__(self) -> str:
        mode = PROCESSES if self.processes else IN_PROCESS
        return f"ConcurrencySettings(slots={self.slots}, {mode}, log_socket={self.log_socket!r})"


def read_concurrency_settings(environ: Mapping[str, str]) -> ConcurrencySettings:
    """The settings of a concurrent runtime; a value Lambda (or the docs) never set is an error that names it."""
    raw = environ.get(MAX_CONCURRENCY_VARIABLE, "")
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{MAX_CONCURRENCY_VARIABLE} must be a whole number of 1 or more, got {raw!r}")
    mode = environ.get(CONCURRENCY_VARIABLE) or IN_PROCESS
    if mode not in (IN_PROCESS, PROCESSES):
        raise ValueError(f"{CONCURRENCY_VARIABLE} must be {IN_PROCESS} or {PROCESSES}, got {mode!r}")
    return ConcurrencySettings(int(raw), mode == PROCESSES, environ.get(LOG_SOCKET_VARIABLE) or None)
