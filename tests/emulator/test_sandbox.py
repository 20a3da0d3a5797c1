"""Sandboxes and pools with real runtime processes: stream_fn, and awslambdaric as a second runtime."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import pytest

from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig
from cdk_stream_fn.emulator.sandboxes.invocation import Invocation, InvocationFailed, InvokeRequest
from cdk_stream_fn.emulator.sandboxes.pool import FunctionPool
from cdk_stream_fn.emulator.sandboxes.sandbox import Sandbox

from .harness import outcome

pytestmark = pytest.mark.timeout(60)

FUNCTIONS = Path(__file__).parent / "functions"
AWSLAMBDARIC = [sys.executable, "-m", "awslambdaric"]


def config(handler: str, **overrides: object) -> FunctionConfig:
    settings: dict = {"name": "fn", "handler": handler, "code_dir": FUNCTIONS, "timeout_seconds": 10}
    settings.update(overrides)
    return FunctionConfig(**settings)


def run(coroutine_function, *args):
    return asyncio.run(coroutine_function(*args))


def invoke_once(function: FunctionConfig, payload: bytes = b"{}") -> tuple[object, bytes]:
    """One invocation on a fresh pool, stopped afterwards: (head, body) or (InvocationFailed, b"")."""

    async def scenario() -> tuple[object, bytes]:
        pool = FunctionPool(function, log_sink=None)
        try:
            return await outcome(await pool.submit(pool.request(payload)))
        finally:
            await pool.stop()

    return asyncio.run(scenario())


def alive(pid: int, *, settle: float = 5.0) -> bool:
    """Whether `pid` still runs, allowing a just-signalled process up to `settle` seconds to die."""
    deadline = time.monotonic() + settle
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return _running(pid)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_stream_fn_runs_a_streaming_handler() -> None:
    head, body = invoke_once(config("handlers.hello"))

    assert (head.content_type, head.streaming) == ("text/plain", True)  # type: ignore[attr-defined]
    assert body == b"hello world"


def test_awslambdaric_runs_as_a_second_runtime_with_buffered_responses() -> None:
    head, body = invoke_once(
        config("handlers.buffered_echo", runtime_command=AWSLAMBDARIC, memory_mb=256), b'{"n": 1}'
    )

    assert (head.content_type, head.streaming) == ("application/json", False)  # type: ignore[attr-defined]
    assert json.loads(body) == {"echo": {"n": 1}, "function": "fn", "memory": "256"}


def test_the_runtime_gets_lambdas_variables_and_the_functions_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_FROM_HOST", "must not leak")
    function = config(
        "handlers.environment",
        environment={
            "GREETING": "hi",
            "AWS_LAMBDA_EXEC_WRAPPER": "/opt/stream-fn",
            "AWS_REGION": "xx-fake-1",
        },
        region="eu-west-1",
        memory_mb=512,
    )

    _, body = invoke_once(function)
    seen = json.loads(body)

    assert seen["GREETING"] == "hi"
    assert seen["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
    assert seen["_HANDLER"] == "handlers.environment"
    assert seen["LAMBDA_TASK_ROOT"] == str(FUNCTIONS.resolve())
    assert seen["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert seen["AWS_REGION"] == "eu-west-1"
    assert seen["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert seen["AWS_LAMBDA_EXEC_WRAPPER"] is None
    assert seen["SECRET_FROM_HOST"] is None


def test_a_timeout_kills_the_runtime_reports_sandbox_timedout_and_the_next_request_gets_a_new_one() -> None:
    async def scenario() -> tuple:
        pool = FunctionPool(
            config("handlers.sleep_forever", timeout_seconds=1), max_sandboxes=1, log_sink=None
        )
        try:
            first = await pool.submit(pool.request(b"{}"))
            head, body = await outcome(first)
            killed_pid = pool.sandboxes[0].pid
            await first.finished.wait()
            second = await pool.submit(pool.request(b"{}"))
            await second.head()
            return head, body, first.error, killed_pid, pool.sandboxes[0].starts, len(pool.sandboxes)
        finally:
            await pool.stop()

    head, body, error, killed_pid, starts, sandboxes = run(scenario)

    assert head.streaming  # type: ignore[attr-defined]
    assert body == b"started\n"
    assert error.error_type == "Sandbox.Timedout"
    assert error.message.endswith("Error: Task timed out after 1.00 seconds")
    assert not alive(killed_pid)
    assert (starts, sandboxes) == (2, 1)


def test_a_crashed_runtime_is_reported_and_restarted() -> None:
    async def scenario() -> tuple:
        pool = FunctionPool(config("handlers.crash"), max_sandboxes=1, log_sink=None)
        try:
            failed, _ = await outcome(await pool.submit(pool.request(b"{}")))
            again, _ = await outcome(await pool.submit(pool.request(b"{}")))
            return failed, again, pool.sandboxes[0].starts
        finally:
            await pool.stop()

    failed, again, starts = run(scenario)

    assert isinstance(failed, InvocationFailed)
    assert failed.error.error_type == "Runtime.ExitError"
    assert failed.error.message.endswith("Runtime exited with error: exit status 3")
    assert isinstance(again, InvocationFailed)
    assert starts == 2


def test_an_import_error_reaches_the_waiting_invocation() -> None:
    failed, _ = invoke_once(config("broken_import.handler"))

    assert isinstance(failed, InvocationFailed)
    assert failed.error.error_type == "Runtime.ImportModuleError"
    assert "this module cannot be imported" in failed.error.message


def test_a_runtime_command_that_does_not_exist_is_a_clear_error() -> None:
    failed, _ = invoke_once(config("handlers.hello", runtime_command=["/nonexistent/runtime"]))

    assert isinstance(failed, InvocationFailed)
    assert failed.error.error_type == "Runtime.InvalidEntrypoint"
    assert "/nonexistent/runtime" in failed.error.message


def test_concurrent_requests_get_their_own_sandboxes_up_to_the_bound() -> None:
    async def scenario() -> tuple[list[int], int]:
        pool = FunctionPool(config("handlers.pid_after_pause"), max_sandboxes=2, log_sink=None)
        try:
            invocations = [await pool.submit(pool.request(b'{"pause": 0.3}')) for _ in range(1)]
            # the rest are submitted concurrently: the third waits for a free sandbox
            invocations += await asyncio.gather(
                *(pool.submit(pool.request(b'{"pause": 0.3}')) for _ in range(2))
            )
            results = [await outcome(invocation) for invocation in invocations]
            return [int(body) for _, body in results], len(pool.sandboxes)
        finally:
            await pool.stop()

    pids, sandboxes = run(scenario)

    assert sandboxes == 2
    assert len(set(pids)) == 2
    assert len(pids) == 3


def test_stopping_kills_every_runtime_and_what_it_spawned() -> None:
    async def scenario() -> tuple[int, int]:
        pool = FunctionPool(config("handlers.spawn_child"), log_sink=None)
        try:
            _, body = await outcome(await pool.submit(pool.request(b"{}")))
            return pool.sandboxes[0].pid, int(body)  # type: ignore[return-value]
        finally:
            await pool.stop()

    runtime_pid, grandchild_pid = run(scenario)

    assert not alive(runtime_pid)
    assert not alive(grandchild_pid)


def test_runtime_output_reaches_the_log_sink() -> None:
    lines: list[tuple[str, str]] = []

    async def scenario() -> None:
        pool = FunctionPool(
            config("handlers.fail_early"), log_sink=lambda name, line: lines.append((name, line))
        )
        try:
            await outcome(await pool.submit(pool.request(b"{}")))
        finally:
            await pool.stop()

    run(scenario)

    assert any(name == "fn" and "nothing written yet" in line for name, line in lines)


def test_a_log_line_longer_than_the_limit_is_forwarded_in_pieces_and_nothing_after_it_is_lost() -> None:
    lines: list[str] = []

    async def scenario() -> tuple[object, bytes]:
        pool = FunctionPool(config("handlers.long_log_line"), log_sink=lambda _, line: lines.append(line))
        try:
            result = await outcome(await pool.submit(pool.request(b"{}")))
            await pool.sandboxes[0].stop()
            return result
        finally:
            await pool.stop()

    _, body = run(scenario)

    assert body == b'"logged"'
    assert sum(line.count("L") for line in lines) == 3 * 1024 * 1024
    assert "after the long line" in lines


def test_awslambdaric_errors_arrive_with_their_error_document() -> None:
    failed, _ = invoke_once(config("handlers.buffered_fail", runtime_command=AWSLAMBDARIC))

    assert isinstance(failed, InvocationFailed)
    document = json.loads(failed.error.payload)
    assert (document["errorType"], document["errorMessage"]) == ("RuntimeError", "handler failed")
    assert failed.error.message == "handler failed"


def run_on_a_sandbox(function: FunctionConfig, *, init_timeout_seconds: float) -> tuple[object, bytes, int]:
    """One cold invocation on a `Sandbox` with a short init limit: (head or failure, body, runtime starts)."""

    async def scenario() -> tuple[object, bytes, int]:
        sandbox = Sandbox(function, log_sink=None, init_timeout_seconds=init_timeout_seconds)
        invocation = Invocation(InvokeRequest(payload=b"{}"))
        try:
            await sandbox.run(invocation)
            head, body = await outcome(invocation)
            return head, body, sandbox.starts
        finally:
            await sandbox.stop()

    return asyncio.run(scenario())


def test_an_init_over_its_limit_is_retried_within_the_function_timeout_and_can_then_succeed() -> None:
    """Lambda: "If all three tasks do not complete within 10 seconds, Lambda retries the Init phase at the
    time of the first function invocation with the configured function timeout." (here 0.5 s, not 10)"""
    function = config("slow_init.handler", timeout_seconds=5, environment={"SLOW_INIT_SECONDS": "1"})

    head, body, starts = run_on_a_sandbox(function, init_timeout_seconds=0.5)

    assert not isinstance(head, InvocationFailed), head
    assert "started" in json.loads(body)
    assert starts == 2


def test_an_init_that_never_ends_times_out_naming_the_function_timeout() -> None:
    function = config("slow_init.handler", timeout_seconds=1.5)

    failed, _, starts = run_on_a_sandbox(function, init_timeout_seconds=0.5)

    assert isinstance(failed, InvocationFailed)
    assert failed.error.error_type == "Sandbox.Timedout"
    assert failed.error.message.endswith("Error: Task timed out after 1.50 seconds")
    assert starts == 2
