"""SnapStart: the runtime's part in Lambda's snapshot and restore, played as the stock runtime client plays it.

With SnapStart on, Lambda initializes a published version once, snapshots the initialized execution
environment, and resumes new environments from that snapshot; the runtime then starts with
``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``. The stock client (awslambdaric, ``bootstrap.py``:
``run`` and ``on_init_complete``; ``lambda_runtime_client.py``: ``restore_next``,
``report_restore_error``; ``lambda_runtime_hooks_runner.py``) does this after importing the handler
and before its first ``/next``, and so does :func:`snapshot_and_restore`:

1. run the before-snapshot hooks registered with ``snapshot_restore_py``, the last registered first
   (each is popped from the registry as it runs);
2. ``GET /2018-06-01/runtime/restore/next``: the snapshot is taken while it waits, and it answers 200
   once the snapshot is restored in a new environment;
3. run the after-restore hooks, in the order they were registered.

A failure in 1 or 2 is posted to ``/runtime/init/error`` with the error type
``Runtime.BeforeSnapshotError`` and the process exits 64; a failure in 3 goes to
``/runtime/restore/error`` as ``Runtime.AfterRestoreError`` and the process exits 65 (the stock
client's codes). The error document is the usual one, whose ``errorType`` is the exception's class.
The hooks' time limits are the platform's: before-snapshot hooks count towards the init limit, and
"the runtime must load and ``@register_after_restore`` runtime hooks must complete within the timeout
limit (10 seconds). Otherwise, you'll get a SnapStartTimeoutException" (AWS Lambda Developer Guide,
"Lambda SnapStart runtime hooks for Python").

Where the hooks come from. ``snapshot_restore_py`` (github aws/snapshot-restore-py, on PyPI as
snapshot-restore-py) "is included in Python managed runtimes" (same page): it comes with the runtime,
not with the function's code, and the stock client imports it by name. So does this module, only when
the init type is ``snap-start`` and only after the handler was imported: a function that registered
hooks has imported the library already (its copy, if it bundled one, is the one in ``sys.modules``),
and one that cannot import it has registered none, so its absence means "no hooks" and the restore
protocol is still followed.

Two differences from the stock client, both where it would silently do nothing: a hook that returns an
awaitable (an ``async def`` hook) is run to completion on the process's event loop, the one async
handlers run on (the stock client calls it and drops the coroutine); and the Runtime API connection
used before the snapshot is closed once ``/restore/next`` answers (see
:meth:`stream_fn.runtime_api.RuntimeApiClient.restore_next`; the stock client opens a connection per
call there). Credentials need nothing from the runtime: with SnapStart, Lambda sets no
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN`` but
``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and ``AWS_CONTAINER_AUTHORIZATION_TOKEN``, an endpoint on the
Runtime API's own address whose credentials the platform replaces at each restore (RAPID,
``rapidcore/env/environment.go`` ``StoreEnvironmentVariablesFromInitForInitCaching``,
``rapid/handlers.go`` ``handleRestore``). The runtime passes the environment on untouched and holds no
credentials; AWS SDKs read that endpoint themselves (botocore's container credential provider).

This module loads only for SnapStart: an on-demand cold start never compiles it.
"""

from __future__ import annotations

import json
import sys

from stream_fn.runtime_api import RuntimeApiClient, RuntimeApiError, RuntimeApiUnavailableError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from stream_fn.logs import LambdaLog

HOOKS_MODULE = "snapshot_restore_py"
"""The runtime hooks library of the Python managed runtimes."""
BEFORE_SNAPSHOT_ERROR = "Runtime.BeforeSnapshotError"
AFTER_RESTORE_ERROR = "Runtime.AfterRestoreError"
BEFORE_SNAPSHOT_EXIT_STATUS = 64
AFTER_RESTORE_EXIT_STATUS = 65


def snapshot_and_restore(client: RuntimeApiClient, log: LambdaLog) -> int | None:
    """Run the before-snapshot hooks, wait for the restore, run the after-restore hooks.

    Returns None once restored (the runtime goes on to its first ``/next``), or the exit status after
    a failure was reported.
    """
    try:
        hooks = hooks_module()
        if hooks is not None:
            run_before_snapshot(hooks)
        client.restore_next()
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - as the stock client, any failure is reported
        _report(client.post_init_error, BEFORE_SNAPSHOT_ERROR, error, log)
        return BEFORE_SNAPSHOT_EXIT_STATUS
    try:
        if hooks is not None:
            run_after_restore(hooks)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001
        _report(client.post_restore_error, AFTER_RESTORE_ERROR, error, log)
        return AFTER_RESTORE_EXIT_STATUS
    return None


def hooks_module() -> Any:
    """``snapshot_restore_py`` as the function's code sees it, or None where it cannot be imported."""
    module = sys.modules.get(HOOKS_MODULE)
    if module is not None:
        return module
    try:
        return __import__(HOOKS_MODULE)
    except ModuleNotFoundError as error:
        if error.name != HOOKS_MODULE:
            raise  # the library is there but one of its own imports failed: that is an error
        return None


def run_before_snapshot(hooks: Any) -> None:
    """The before-snapshot hooks, last registered first; each leaves the registry as it runs."""
    registry = hooks.get_before_snapshot()
    while registry:
        function, args, kwargs = registry.pop()
        _call(function, args, kwargs)


def run_after_restore(hooks: Any) -> None:
    """The after-restore hooks, in the order they were registered."""
    for function, args, kwargs in hooks.get_after_restore():
        _call(function, args, kwargs)


def _call(function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    result = function(*args, **kwargs)
    if hasattr(result, "__await__"):
        from stream_fn.event_loop import process_event_loop

        process_event_loop().run_until_complete(result)


def _report(
    post: Callable[[bytes, str], None], error_type: str, error: BaseException, log: LambdaLog
) -> None:
    """Log the failure as the stock client does and post its error document with ``error_type``."""
    from stream_fn.error_reports import ErrorReport

    report = ErrorReport.from_exception(error)
    report.log(log)
    try:
        post(json.dumps(report.document(), ensure_ascii=False).encode(), error_type)
    except (RuntimeApiError, RuntimeApiUnavailableError) as post_error:
        sys.stderr.write(f"stream_fn: could not report {error_type}: {post_error}\n")
