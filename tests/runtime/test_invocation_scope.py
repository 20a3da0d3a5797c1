"""Per-invocation state: log records name the invocation that wrote them, even with several in flight.

Lambda Managed Instances run several invocations in one process, on threads or asyncio tasks. Each
record must carry its own invocation's request and tenant ids, and code must see its own trace id;
one at a time, the stock client's behaviour stays (a thread the handler starts logs with the id).
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import textwrap

import pytest

from .conftest import RUNTIME_DIR, StartRuntime
from .fake_runtime_api import FakeRuntimeApi

pytestmark = pytest.mark.timeout(60)

CONCURRENT_INVOCATIONS = """\
import asyncio, logging, sys, threading

from stream_fn import logs
from stream_fn.invocation_scope import (
    InvocationScope, current_invocation, enter_invocation, leave_invocation, use_concurrent_invocations,
)
from stream_fn.log_output import LogSettings

use_concurrent_invocations()
logs.install(LogSettings(True, "INFO"), {})  # JSON records on stdout, one per line
log = logging.getLogger("concurrent")
seen_trace_ids = []

def scope(kind, number):
    return InvocationScope(f"{kind}-{number}", f"Root=1-{kind}-{number}", f"tenant-{kind}-{number}")

barrier = threading.Barrier(6)

def on_a_thread(number):
    token = enter_invocation(scope("thread", number))
    barrier.wait()  # all six in flight at once
    for _ in range(40):
        log.info("thread %d", number)
        seen_trace_ids.append((f"Root=1-thread-{number}", current_invocation().trace_id))
    leave_invocation(token)

async def on_a_task(number):
    enter_invocation(scope("task", number))  # a task's own copy of the context
    for _ in range(40):
        log.info("task %d", number)
        seen_trace_ids.append((f"Root=1-task-{number}", current_invocation().trace_id))
        await asyncio.sleep(0)  # let the other tasks run in between

threads = [threading.Thread(target=on_a_thread, args=(number,)) for number in range(6)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()

async def main():
    await asyncio.gather(*(on_a_task(number) for number in range(6)))
asyncio.run(main())

threading.Thread(target=lambda: log.info("a bare thread")).start()
log.info("outside any invocation")
mismatches = [(expected, seen) for expected, seen in seen_trace_ids if expected != seen]
sys.stderr.write(f"{len(seen_trace_ids)} trace ids read, {len(mismatches)} of another invocation\\n")
"""


def test_concurrent_invocations_on_threads_and_tasks_never_see_each_others_ids() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CONCURRENT_INVOCATIONS],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PYTHONPATH": str(RUNTIME_DIR), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    by_message: dict[str, list[dict[str, object]]] = {}
    for record in records:
        by_message.setdefault(str(record["message"]), []).append(record)

    for kind in ("thread", "task"):
        for number in range(6):
            mine = by_message[f"{kind} {number}"]
            assert len(mine) == 40
            assert {(record["requestId"], record["tenantId"]) for record in mine} == {
                (f"{kind}-{number}", f"tenant-{kind}-{number}")
            }
    assert result.stderr.strip() == "480 trace ids read, 0 of another invocation"
    # Outside any invocation's context (a new thread starts with an empty one) no id is claimed.
    assert by_message["a bare thread"][0]["requestId"] == ""
    assert by_message["outside any invocation"][0]["requestId"] == ""


def test_one_at_a_time_a_thread_the_handler_starts_logs_with_the_request_id(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, tmp_path: pathlib.Path
) -> None:
    (tmp_path / "threads.py").write_text(
        textwrap.dedent(
            """\
            import logging, threading

            def handler(event, context):
                worker = threading.Thread(target=lambda: logging.getLogger("worker").warning("from a thread"))
                worker.start()
                worker.join()
                return "ok"
            """
        )
    )
    runtime = start_runtime("threads.handler", LAMBDA_TASK_ROOT=str(tmp_path))
    fake_api.invoke({}, request_id="req-thread-1")
    fake_api.invoke({}, request_id="req-thread-2")
    stdout, _ = runtime.stop()

    lines = [line for line in stdout.splitlines() if "from a thread" in line]
    assert [line.split("\t")[2] for line in lines] == ["req-thread-1", "req-thread-2"]


def test_the_runtime_does_not_load_contextvars_when_it_serves_one_invocation_at_a_time(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    start_runtime("introspect.environment")
    modules = fake_api.invoke({}).json()["modules"]  # type: ignore[index]
    assert "contextvars" not in modules
    # From Python 3.14 the interpreter's own warnings and threading modules load _contextvars, so there it
    # costs the runtime nothing; before 3.14 it is a module of its own that one invocation at a time never needs.
    if sys.version_info < (3, 14):
        assert "_contextvars" not in modules
