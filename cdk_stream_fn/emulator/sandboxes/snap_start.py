"""SnapStart in a local sandbox: the snapshot is "taken" once the runtime waits in `/restore/next`, and
restored for the invocation that needs it.

On Lambda a version with SnapStart on (`SnapStart: {ApplyOn: PublishedVersions}`) is initialized when it
is published: the runtime starts with `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`, imports the handler,
runs its before-snapshot hooks and waits in `GET /runtime/restore/next`; Lambda snapshots the
environment there. Each new environment is resumed from the snapshot: the waiting `/restore/next` answers
200, the runtime runs its after-restore hooks and asks for its first event (RAPID's restore ends at that
`/next`: `rapid/handlers.go` `handleRestore`). Here, for a sandbox whose runtime has not been restored:

1. wait for the runtime to get to `/restore/next`, within the snapshot's init limit (130 s or the
   function's timeout, whichever is higher). A `/init/error` then (`Runtime.BeforeSnapshotError`, an
   import error...) fails the invocation with that error; on Lambda it fails the version's publication.
   A runtime that asks for `/next` without `/restore/next` is restored there with no restore phase, as
   RAPID does ("If runtime has not called /restore/next then just return"): its hooks never run, and
   the emulator says so.
2. restore: answer the waiting `/restore/next`, close every Runtime API connection from before the
   snapshot (`RuntimeApiServer.restore`), and give the runtime `restore_seconds` (10 s) to be ready.
   Past it the invocation fails with `SnapStartTimeoutException`; a `/restore/error` fails it with
   `SnapStartException` (Lambda's Invoke errors for both). Either way the runtime is discarded.

What a local process cannot emulate is in `LOCAL_DIFFERENCES` (the README and `serve` say the same).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from cdk_stream_fn.emulator import limits, platform_errors
from cdk_stream_fn.emulator.platform_errors import FunctionError
from cdk_stream_fn.emulator.sandboxes.invocation import Invocation
from cdk_stream_fn.emulator.sandboxes.runtime_api import RuntimeApiServer
from cdk_stream_fn.emulator.sandboxes.waits import first_done

log = logging.getLogger("cdk_stream_fn.emulator")

#: What differs from Lambda when `serve` runs a SnapStart function, one sentence each.
LOCAL_DIFFERENCES = (
    (
        "No memory snapshot: the process that ran the init and the before-snapshot hooks goes on after the "
        "restore, so state the hooks should rebuild (connections, caches) may still work locally"
    ),
    (
        "One restore per snapshot: each runtime process is snapshotted and restored once; a new process "
        "(after a crash, a timeout or a failed restore) runs the init and the before-snapshot hooks again, "
        "where Lambda would restore the same snapshot"
    ),
    (
        "Uniqueness and randomness: nothing is shared between environments here, so ids, random seeds and "
        "secrets made at init are unique locally; on Lambda every environment restored from a snapshot "
        "starts with the same ones"
    ),
    (
        "Credentials: the runtime gets your own credentials as for any function; on Lambda a SnapStart "
        "function gets them from AWS_CONTAINER_CREDENTIALS_FULL_URI (the SDKs read it), not from "
        "AWS_ACCESS_KEY_ID, and they are refreshed at each restore"
    ),
    (
        "Versions: every invocation goes through the snapshot, unqualified ones too; on Lambda $LATEST "
        "never uses SnapStart, only published versions and their aliases do"
    ),
)


@dataclass(frozen=True)
class RestoreFailure:
    """The invocation fails with `error`, and the runtime is discarded (`reason` says why, for the log)."""

    error: FunctionError
    reason: str


async def snapshot_and_restore(
    api: RuntimeApiServer,
    invocation: Invocation,
    exited: asyncio.Future[int],
    *,
    started_at: float,
    function_timeout: float,
    restore_seconds: float = limits.RESTORE_TIMEOUT_SECONDS,
    name: str,
) -> RestoreFailure | None:
    """Take the runtime's snapshot and restore it for `invocation` (already submitted to `api`).

    `exited` is done when the runtime process exits (with its status); `started_at` is the
    `perf_counter()` of its start. Returns None once the runtime picked `invocation` up, or the failure.
    """
    request_id = invocation.request_id
    init_limit = max(limits.SNAPSHOT_INIT_TIMEOUT_SECONDS, function_timeout)
    outcome = await first_done(
        {
            "restore_ready": api.restore_ready.future,
            "picked_up": invocation.picked_up.future,
            "init_error": api.init_failed.future,
            "exited": exited,
        },
        timeout=init_limit - (time.perf_counter() - started_at),
    )
    if outcome == "picked_up":
        log.warning(
            "%s: the runtime asked for an event without calling /runtime/restore/next: it was restored "
            "with no restore phase, so its runtime hooks (snapshot_restore_py) never ran, as on Lambda",
            name,
        )
        return None
    if outcome == "init_error":
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(exited), 1.0)
        error = api.init_error or _exit_error(request_id, exited)
        return RestoreFailure(error, f"the init before the snapshot failed: {error.error_type}")
    if outcome == "exited":
        return RestoreFailure(_exit_error(request_id, exited), "the runtime exited before the snapshot")
    if outcome == "timeout":
        return RestoreFailure(
            platform_errors.timed_out(request_id, init_limit),
            f"the runtime did not get to /runtime/restore/next within {init_limit:g} s",
        )

    log.info("%s: snapshot taken; restoring it for request %s", name, request_id)
    restored_at = time.perf_counter()
    api.restore()
    outcome = await first_done(
        {
            "picked_up": invocation.picked_up.future,
            "restore_error": api.restore_failed.future,
            "exited": exited,
        },
        timeout=restore_seconds,
    )
    if outcome == "picked_up":
        log.info("%s: restored in %.1f ms", name, (time.perf_counter() - restored_at) * 1000)
        return None
    if outcome == "restore_error":
        reported = api.restore_error
        assert reported is not None
        return RestoreFailure(
            platform_errors.snap_start_failed(request_id, reported),
            f"the restore failed: {reported.error_type}",
        )
    if outcome == "exited":
        return RestoreFailure(_exit_error(request_id, exited), "the runtime exited during the restore")
    return RestoreFailure(
        platform_errors.snap_start_timeout(request_id, restore_seconds),
        f"the runtime was not ready within {restore_seconds:g} s of the restore",
    )


def _exit_error(request_id: str, exited: asyncio.Future[int]) -> FunctionError:
    returncode = exited.result() if exited.done() and not exited.cancelled() else None
    return platform_errors.exit_error(request_id, returncode)
