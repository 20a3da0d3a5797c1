"""SnapStart end to end: real runtimes (stream_fn, and awslambdaric as the reference) in real sandboxes.

The function (`functions/snap_start_hooks.py`) registers two before-snapshot and two after-restore hooks,
with decorators and with calls, and returns what ran. awslambdaric, the stock runtime client, runs the
same flow against the same emulator: where both agree, the emulator plays Lambda's part as the stock
client expects it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import pytest

from cdk_stream_fn.emulator.app.assembly import read_assembly
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig
from cdk_stream_fn.emulator.sandboxes.invocation import Invocation, InvocationFailed, InvokeRequest
from cdk_stream_fn.emulator.sandboxes.pool import FunctionPool
from cdk_stream_fn.emulator.sandboxes.sandbox import Sandbox

from .test_assembly import function_resource, write_assembly

pytestmark = pytest.mark.timeout(90)

FUNCTIONS = Path(__file__).parent / "functions"
SNAP_START_RUNTIME = Path(__file__).parent / "runtimes" / "snap_start_runtime.py"
RUNTIMES = {
    "stream_fn": None,
    "awslambdaric": [sys.executable, "-m", "awslambdaric"],
}
HOOKS_IN_ORDER = [
    "before:flush_cache:snapshot",  # registered last, so it runs first
    "before:close_connections",
    "after:reconnect",
    "after:reseed",
]


def snap_start_config(
    runtime: str, handler: str = "snap_start_hooks.handler", **environment: str
) -> FunctionConfig:
    return FunctionConfig(
        name="fn",
        handler=handler,
        code_dir=FUNCTIONS,
        timeout_seconds=10,
        snap_start=True,
        runtime_command=RUNTIMES[runtime],
        environment=environment,
    )


async def result(invocation: Invocation) -> object:
    """The decoded response, or the InvocationFailed error."""
    try:
        await invocation.head()
    except InvocationFailed as failed:
        return failed
    return json.loads(await invocation.read_all())


def invoke_twice(function: FunctionConfig) -> tuple[object, object, int]:
    """Two invocations in a row on one sandbox: (first result, second result, runtime starts)."""

    async def scenario() -> tuple[object, object, int]:
        pool = FunctionPool(function, max_sandboxes=1, log_sink=None)
        try:
            first = await result(await pool.submit(pool.request(b"{}")))
            second = await result(await pool.submit(pool.request(b"{}")))
            return first, second, pool.sandboxes[0].starts
        finally:
            await pool.stop()

    return asyncio.run(scenario())


def run_on_sandbox(function: FunctionConfig, **options: float) -> tuple[object, int | None, int | None]:
    """One invocation on a `Sandbox` with `options`: (result, runtime's pid, its exit status after)."""

    async def scenario() -> tuple[object, int | None, int | None]:
        sandbox = Sandbox(function, log_sink=None, **options)
        invocation = Invocation(InvokeRequest(payload=b"{}"))
        try:
            await sandbox.run(invocation)
            outcome = await result(invocation)
            process = sandbox.process
            return outcome, sandbox.pid, process.returncode if process else None
        finally:
            await sandbox.stop()

    return asyncio.run(scenario())


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_hooks_run_in_order_around_one_restore_before_the_first_invocation(runtime: str) -> None:
    first, second, starts = invoke_twice(snap_start_config(runtime))

    assert first == {"events": HOOKS_IN_ORDER, "initialization_type": "snap-start", "pid": first["pid"]}  # type: ignore[index]
    assert second == first, "the second invocation finds the runtime restored: no hook runs again"
    assert starts == 1


def test_a_streaming_handler_is_restored_and_streams() -> None:
    first, _, _ = invoke_twice(snap_start_config("stream_fn", "snap_start_hooks.streamed"))

    assert first["events"] == HOOKS_IN_ORDER  # type: ignore[index]


def test_without_snap_start_no_hook_runs() -> None:
    function = FunctionConfig(
        name="fn", handler="snap_start_hooks.handler", code_dir=FUNCTIONS, timeout_seconds=10
    )

    first, _, _ = invoke_twice(function)

    assert first["events"] == []  # type: ignore[index]
    assert first["initialization_type"] == "on-demand"  # type: ignore[index]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_failing_before_hook_is_a_before_snapshot_error_and_the_invocation_fails_with_it(
    runtime: str,
) -> None:
    outcome, _, exit_status = run_on_sandbox(snap_start_config(runtime, SNAP_FAIL="before"))

    assert isinstance(outcome, InvocationFailed)
    assert outcome.error.error_type == "Runtime.BeforeSnapshotError"  # the /init/error header
    document = json.loads(outcome.error.payload)
    assert (document["errorType"], document["errorMessage"]) == (
        "ConnectionError",
        "could not flush the cache before the snapshot",
    )
    assert exit_status == 64  # the stock client's exit status, which stream_fn keeps


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_failing_after_hook_is_reported_through_restore_error(
    runtime: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="cdk_stream_fn.emulator"):
        outcome, _, _ = run_on_sandbox(snap_start_config(runtime, SNAP_FAIL="after"))

    assert isinstance(outcome, InvocationFailed)
    assert outcome.error.error_type == "SnapStartException"  # what Lambda's Invoke answers
    assert "The afterRestore() runtime hook encountered an error" in outcome.error.message
    assert "(The runtime reported Runtime.AfterRestoreError: could not reseed after the restore)" in (
        outcome.error.message
    )
    assert "the runtime failed to restore: Runtime.AfterRestoreError: could not reseed after the restore" in (
        caplog.text
    )


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_runtime_not_ready_within_the_restore_limit_is_discarded(runtime: str) -> None:
    """AWS: after-restore hooks "must complete within the timeout limit (10 seconds). Otherwise, you'll get
    a SnapStartTimeoutException" (1 s here)."""
    outcome, pid, exit_status = run_on_sandbox(
        snap_start_config(runtime, SNAP_FAIL="slow_after", SNAP_SLEEP="30"), restore_timeout_seconds=1
    )

    assert isinstance(outcome, InvocationFailed)
    assert outcome.error.error_type == "SnapStartTimeoutException"
    assert "couldn't restore the snapshot within the timeout limit (1 seconds" in outcome.error.message
    assert pid is not None and exit_status == -9  # killed, not left sleeping in its hook


def test_a_restore_within_the_limit_succeeds() -> None:
    outcome, _, _ = run_on_sandbox(
        snap_start_config("stream_fn", SNAP_FAIL="slow_after", SNAP_SLEEP="0.3"), restore_timeout_seconds=5
    )

    assert outcome["events"] == HOOKS_IN_ORDER  # type: ignore[index]


def test_a_runtime_that_reuses_a_connection_from_before_the_snapshot_fails() -> None:
    function = FunctionConfig(
        name="fn",
        handler="unused.handler",
        code_dir=FUNCTIONS,
        timeout_seconds=10,
        snap_start=True,
        runtime_command=[sys.executable, str(SNAP_START_RUNTIME), "reuse"],
    )

    outcome, _, _ = run_on_sandbox(function)

    assert isinstance(outcome, InvocationFailed)
    assert outcome.error.error_type == "Runtime.ExitError"
    assert outcome.error.message.endswith("Runtime exited with error: exit status 3")


def test_a_runtime_that_skips_the_restore_phase_still_runs_and_is_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """RAPID restores a runtime that never called /restore/next "just returning": its hooks never ran."""
    function = FunctionConfig(
        name="fn",
        handler="unused.handler",
        code_dir=FUNCTIONS,
        timeout_seconds=10,
        snap_start=True,
        runtime_command=[sys.executable, str(SNAP_START_RUNTIME), "skip"],
    )

    with caplog.at_level(logging.WARNING, logger="cdk_stream_fn.emulator"):
        outcome, _, _ = run_on_sandbox(function)

    assert outcome == {"runtime": "skip"}
    assert "without calling /runtime/restore/next" in caplog.text
    assert "its runtime hooks (snapshot_restore_py) never ran" in caplog.text


def test_the_runtime_starts_with_the_snap_start_initialization_type() -> None:
    from cdk_stream_fn.emulator.sandboxes.config import lambda_environment

    snap_start = lambda_environment(snap_start_config("stream_fn"), "127.0.0.1:9001", host_environment={})
    on_demand = lambda_environment(
        FunctionConfig(name="fn", handler="a.b", code_dir=FUNCTIONS), "127.0.0.1:9001", host_environment={}
    )

    assert snap_start["AWS_LAMBDA_INITIALIZATION_TYPE"] == "snap-start"
    assert on_demand["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"


# -- the template's SnapStart setting -----------------------------------------------------------------


def test_snap_start_and_the_url_of_its_alias_are_read_from_the_template(tmp_path: Path) -> None:
    assembly = write_assembly(
        tmp_path,
        {
            "StreamFunction": function_resource(SnapStart={"ApplyOn": "PublishedVersions"}),
            "StreamVersion": {
                "Type": "AWS::Lambda::Version",
                "Properties": {"FunctionName": {"Ref": "StreamFunction"}},
            },
            "StreamAlias": {
                "Type": "AWS::Lambda::Alias",
                "Properties": {
                    "FunctionName": {"Ref": "StreamFunction"},
                    "FunctionVersion": {"Fn::GetAtt": ["StreamVersion", "Version"]},
                    "Name": "live",
                },
            },
            "StreamUrl": {
                "Type": "AWS::Lambda::Url",
                "Properties": {
                    "AuthType": "NONE",
                    "InvokeMode": "RESPONSE_STREAM",
                    "Qualifier": "live",
                    "TargetFunctionArn": {"Ref": "StreamAlias"},
                },
            },
        },
    )

    (function,) = read_assembly(assembly)

    assert function.snap_start
    assert (function.has_url, function.auth_type, function.invoke_mode) == (True, "NONE", "RESPONSE_STREAM")


@pytest.mark.parametrize(
    ("snap_start", "expected"),
    [(None, False), ({"ApplyOn": "None"}, False), ({"ApplyOn": "PublishedVersions"}, True)],
)
def test_snap_start_is_on_only_for_published_versions(
    tmp_path: Path, snap_start: object, expected: bool
) -> None:
    properties = {} if snap_start is None else {"SnapStart": snap_start}
    (function,) = read_assembly(write_assembly(tmp_path, {"Fn": function_resource(**properties)}))

    assert function.snap_start is expected


def test_a_snap_start_setting_known_only_at_deploy_time_is_off_with_a_warning(tmp_path: Path) -> None:
    warnings: list[str] = []
    resources = {"Fn": function_resource(SnapStart={"ApplyOn": {"Ref": "Mode"}})}

    (function,) = read_assembly(write_assembly(tmp_path, resources), warn=warnings.append)

    assert not function.snap_start
    assert warnings == [
        'Stack/Api: SnapStart ApplyOn is {"Ref": "Mode"}, not a value known here; SnapStart is off locally'
    ]
