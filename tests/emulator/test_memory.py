"""The memory limit: a runtime whose processes hold more than MemorySize ends with Runtime.OutOfMemory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cdk_stream_fn.contract import MB
from cdk_stream_fn.emulator.sandboxes import memory
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

from .harness import LoopThread, ServedEmulator, lambda_client

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not memory.supported(), reason="the memory watcher reads /proc (Linux)"),
]

FUNCTIONS = Path(__file__).parent / "functions"
HOLD = "import sys, time; held = b'x' * (int(sys.argv[1]) * 1024 * 1024); print('ready', flush=True); time.sleep(60)"


def start_group(*commands: str) -> subprocess.Popen[bytes]:
    """A shell in a session of its own running `commands` in the background, as a forking runtime would."""
    script = " & ".join(commands) + " & wait"
    return subprocess.Popen(["sh", "-c", script], start_new_session=True)


def test_the_group_is_every_process_the_runtime_started_and_nothing_else() -> None:
    group = start_group("sleep 30", "sleep 30")
    try:
        members: list[int] = []
        for _ in range(200):
            members = memory.group_members(group.pid)
            if len(members) == 3:
                break
            subprocess.run(["sleep", "0.01"], check=True)
        assert members[0] == group.pid
        assert len(members) == 3
        assert all(memory.resident_bytes(pid) > 0 for pid in members)
        assert memory.resident_bytes(2**22 + 12345) == 0
    finally:
        os.killpg(group.pid, signal.SIGKILL)
        group.wait()


def test_the_watcher_kills_the_whole_group_once_it_holds_too_much(loop_thread: LoopThread) -> None:
    runtime = subprocess.Popen(
        [sys.executable, "-c", HOLD, "300"], start_new_session=True, stdout=subprocess.PIPE
    )
    assert runtime.stdout is not None and runtime.stdout.readline() == b"ready\n"

    async def watch() -> memory.MemoryWatcher:
        watcher = memory.MemoryWatcher(runtime.pid, 128 * MB, name="test").start()
        return watcher

    watcher = loop_thread.run(watch())
    code = runtime.wait(20)
    loop_thread.run(_stopped(watcher))

    assert code == -signal.SIGKILL
    assert watcher.exceeded
    assert watcher.exceeded_at is not None and watcher.exceeded_at > 128 * MB


async def _stopped(watcher: memory.MemoryWatcher) -> None:
    watcher.stop()


def test_a_group_within_its_limit_is_left_alone() -> None:
    runtime = subprocess.Popen(
        [sys.executable, "-c", HOLD, "16"], start_new_session=True, stdout=subprocess.PIPE
    )
    try:
        assert runtime.stdout is not None and runtime.stdout.readline() == b"ready\n"

        watcher = memory.MemoryWatcher(runtime.pid, 128 * MB, name="test")

        killed = watcher.check(memory.group_members(runtime.pid))

        assert not killed
        assert 16 * MB < watcher.peak_bytes < 128 * MB
        assert runtime.poll() is None
    finally:
        runtime.kill()
        runtime.wait()


@pytest.fixture(scope="module")
def served() -> Iterator[ServedEmulator]:
    emulator = ServedEmulator(
        [
            FunctionConfig("hog", "handlers.hold_memory", FUNCTIONS, memory_mb=128, timeout_seconds=30),
            FunctionConfig("roomy", "handlers.hold_memory", FUNCTIONS, memory_mb=1024, timeout_seconds=30),
            FunctionConfig(
                "unenforced",
                "handlers.hold_memory",
                FUNCTIONS,
                memory_mb=128,
                timeout_seconds=30,
                enforce_memory=False,
            ),
            FunctionConfig("init-hog", "hold_at_import.handler", FUNCTIONS, memory_mb=128),
            FunctionConfig("url-hog", "handlers.hold_memory", FUNCTIONS, memory_mb=128, timeout_seconds=30),
        ]
    )
    yield emulator
    emulator.close()


@pytest.fixture(scope="module")
def client(served: ServedEmulator) -> Any:
    return lambda_client(served.endpoint, read_timeout=40)


def test_a_function_over_its_memory_ends_with_runtime_out_of_memory(
    served: ServedEmulator, client: Any
) -> None:
    response = client.invoke(FunctionName="hog", Payload=json.dumps({"mib": 512, "hold": 5}).encode())
    error = json.loads(response["Payload"].read())
    again = client.invoke(FunctionName="hog", Payload=json.dumps({"mib": 16, "hold": 0}).encode())

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.OutOfMemory"
    assert error["errorMessage"] == (
        f"RequestId: {response['ResponseMetadata']['RequestId']} Error: Runtime exited with error: signal: killed"
    )
    assert json.loads(again["Payload"].read()) == "held 16 MiB"


def test_the_stream_reports_out_of_memory_and_the_url_answers_502(
    served: ServedEmulator, client: Any
) -> None:
    streamed = client.invoke_with_response_stream(
        FunctionName="hog", Payload=json.dumps({"mib": 512, "hold": 5}).encode()
    )
    complete = [event["InvokeComplete"] for event in streamed["EventStream"] if "InvokeComplete" in event]
    url = httpx.get(served.url("url-hog") + "?mib=512&hold=5", timeout=40)

    assert complete[0]["ErrorCode"] == "Runtime.OutOfMemory"
    assert url.status_code == 502
    assert url.json() == {"Message": "Internal Server Error"}


def test_memory_taken_while_importing_the_handler_counts_too(client: Any) -> None:
    response = client.invoke(FunctionName="init-hog", Payload=b"{}")

    assert json.loads(response["Payload"].read())["errorType"] == "Runtime.OutOfMemory"


def test_within_its_memory_or_with_the_limit_off_a_function_runs(client: Any) -> None:
    roomy = client.invoke(FunctionName="roomy", Payload=json.dumps({"mib": 256, "hold": 1}).encode())
    unenforced = client.invoke(
        FunctionName="unenforced", Payload=json.dumps({"mib": 256, "hold": 1}).encode()
    )

    assert json.loads(roomy["Payload"].read()) == "held 256 MiB"
    assert json.loads(unenforced["Payload"].read()) == "held 256 MiB"
