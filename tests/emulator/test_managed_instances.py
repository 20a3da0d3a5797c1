"""Lambda Managed Instances end to end: the emulator's concurrent environments and real runtime processes.

stream_fn in each of its ways of running concurrently (an event loop for async handlers, threads for
the others, worker processes on request) and the stock client (awslambdaric, a process per slot), each
serving a batch of invocations at once in one execution environment. The handlers
(`functions/managed.py`) make a batch wait for all of its invocations, so a batch that completes ran
together; every event and log record names its request id, so nothing may cross between invocations.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cdk_stream_fn.emulator.sandboxes.concurrent_sandbox import ConcurrentSandbox
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig
from cdk_stream_fn.emulator.sandboxes.invocation import Invocation, InvocationFailed
from cdk_stream_fn.emulator.sandboxes.pool import FunctionPool

from .harness import ServedEmulator, outcome

pytestmark = pytest.mark.timeout(90)

FUNCTIONS = Path(__file__).parent / "functions"
AWSLAMBDARIC = [sys.executable, "-m", "awslambdaric"]
PROCESSES = {"STREAM_FN_CONCURRENCY": "processes"}

STYLES = {
    "async-on-the-event-loop": ("managed.async_events", {}),
    "sync-on-threads": ("managed.sync_events", {}),
    "sync-in-worker-processes": ("managed.sync_events", PROCESSES),
}


def config(handler: str, concurrency: int, **overrides: Any) -> FunctionConfig:
    settings: dict[str, Any] = {
        "name": "fn",
        "handler": handler,
        "code_dir": FUNCTIONS,
        "timeout_seconds": 30,
        "per_environment_concurrency": concurrency,
        "log_level": "INFO",
    }
    settings.update(overrides)
    return FunctionConfig(**settings)


class Collected:
    """The runtime's output lines, as the emulator forwards them."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, function_name: str, line: str) -> None:
        self.lines.append(line)

    def records(self) -> list[dict[str, Any]]:
        found = []
        for line in self.lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "message" in record:
                found.append(record)
        return found


async def run_batch(pool: FunctionPool, events: list[dict[str, Any]]) -> list[tuple[Invocation, Any, bytes]]:
    invocations = [await pool.submit(pool.request(json.dumps(event).encode())) for event in events]
    results = await asyncio.gather(*(outcome(invocation) for invocation in invocations))
    return [(invocation, head, body) for invocation, (head, body) in zip(invocations, results)]


def barrier_events(parties: int, count: int | None = None, **extra: Any) -> list[dict[str, Any]]:
    directory = tempfile.mkdtemp(prefix="barrier-")
    return [{"barrier": directory, "parties": parties, **extra} for _ in range(count or parties)]


def events_of(body: bytes) -> list[str]:
    return [line.removeprefix("data: ") for line in body.decode().split("\n\n") if line]


@pytest.mark.parametrize("style", list(STYLES))
def test_concurrent_streams_interleave_without_crossing(style: str) -> None:
    handler, environment = STYLES[style]
    collected = Collected()

    async def scenario() -> tuple[list[tuple[Invocation, Any, bytes]], FunctionPool]:
        pool = FunctionPool(config(handler, 4, environment=environment), log_sink=collected)
        try:
            return await run_batch(pool, barrier_events(4, tokens=3)), pool
        finally:
            await pool.stop()

    batch, pool = asyncio.run(scenario())

    assert len(pool.sandboxes) == 1 and pool.sandboxes[0].starts == 1
    for invocation, head, body in batch:
        request_id = invocation.request_id
        assert invocation.error is None and head.streaming, (head, invocation.error)
        events = events_of(body)
        assert len(events) == 4
        assert all(event.startswith(f"{request_id} ") for event in events), events
        trace = invocation.request.trace_id
        in_worker_process = environment is PROCESSES
        expected_scope = f"trace={trace} env-trace={trace if in_worker_process else None}"
        assert all(event.endswith(expected_scope) for event in events), (events, expected_scope)
    records = [record for record in collected.records() if record.get("logger") == "managed"]
    assert len(records) == 4 * 4
    for record in records:
        assert record["message"].endswith(record["requestId"]), record


def test_the_stock_client_runs_a_process_and_a_next_loop_per_slot() -> None:
    collected = Collected()

    async def scenario() -> list[tuple[Invocation, Any, bytes]]:
        pool = FunctionPool(
            config("managed.stock_buffered", 3, runtime_command=AWSLAMBDARIC), log_sink=collected
        )
        try:
            return await run_batch(pool, barrier_events(3))
        finally:
            await pool.stop()

    batch = asyncio.run(scenario())

    answers = [json.loads(body) for _, _, body in batch]
    assert [answer["request_id"] for answer in answers] == [
        invocation.request_id for invocation, _, _ in batch
    ]
    assert len({answer["pid"] for answer in answers}) == 3  # one worker process each
    records = [record for record in collected.records() if record.get("logger") == "managed"]
    assert {record["requestId"] for record in records} == {answer["request_id"] for answer in answers}


@pytest.mark.parametrize("style", list(STYLES))
def test_a_failing_invocation_leaves_the_others_running(style: str) -> None:
    handler, environment = STYLES[style]

    async def scenario() -> tuple[list[Any], list[Any], ConcurrentSandbox]:
        pool = FunctionPool(config(handler, 4, environment=environment), log_sink=None)
        try:
            events = barrier_events(3, count=4)
            events[0]["fail"] = "before"  # never reaches the barrier: the other three make the batch
            events[1]["fail"] = "mid"
            first = await run_batch(pool, events)
            second = await run_batch(pool, barrier_events(4))
            sandbox = pool.sandboxes[0]
            assert isinstance(sandbox, ConcurrentSandbox)
            return first, second, sandbox
        finally:
            await pool.stop()

    first, second, sandbox = asyncio.run(scenario())

    (_, failed_early, _), (mid, _, mid_body), *others = first
    assert isinstance(failed_early, InvocationFailed)
    assert failed_early.error.error_type == "Function.ValueError"
    assert mid.error is not None and mid.error.error_type == "Function.RuntimeError"
    assert len(events_of(mid_body)) == 4  # its events arrived, then the error trailers
    for invocation, _, body in [*others, *second]:
        assert invocation.error is None and len(events_of(body)) == 4
    assert sandbox.starts == 1  # the same runtime all along


def test_a_timed_out_invocation_fails_alone_and_its_slot_serves_again() -> None:
    """On the event loop the timed-out invocation's task is cancelled: all four slots serve the next batch."""

    async def scenario() -> tuple[list[Any], list[Any], int]:
        pool = FunctionPool(config("managed.async_events", 4, timeout_seconds=2), log_sink=None)
        try:
            events = barrier_events(4)
            events[0]["hang"] = True
            first = await run_batch(pool, events)
            second = await run_batch(pool, barrier_events(4))
            return first, second, pool.sandboxes[0].starts
        finally:
            await pool.stop()

    first, second, starts = asyncio.run(scenario())

    (hung, _, hung_body), *others = first
    assert hung.error is not None and hung.error.error_type == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in hung.error.message
    assert len(events_of(hung_body)) == 1  # the first event, then the timeout
    for invocation, _, body in [*others, *second]:
        assert invocation.error is None and len(events_of(body)) == 4
    assert starts == 1


def test_a_timed_out_thread_keeps_its_slot_but_the_others_serve() -> None:
    """A thread cannot be stopped: its slot stays busy until the handler returns, and the rest go on."""

    async def scenario() -> tuple[list[Any], list[Any], int]:
        pool = FunctionPool(config("managed.sync_events", 3, timeout_seconds=1), log_sink=None)
        try:
            events = barrier_events(3)
            events[0]["hang"] = 4
            first = await run_batch(pool, events)
            second = await run_batch(pool, barrier_events(2))
            return first, second, pool.sandboxes[0].starts
        finally:
            await pool.stop()

    first, second, starts = asyncio.run(scenario())

    (hung, _, _), *others = first
    assert hung.error is not None and hung.error.error_type == "Sandbox.Timedout"
    for invocation, _, body in [*others, *second]:
        assert invocation.error is None and len(events_of(body)) == 4
    assert starts == 1


@pytest.mark.parametrize(
    "command,environment",
    [
        pytest.param(AWSLAMBDARIC, {}, id="stock-client"),
        pytest.param(None, PROCESSES, id="stream_fn-worker-processes"),
    ],
)
def test_an_init_error_is_reported_once_and_fails_every_waiting_invocation(
    command: list[str] | None, environment: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    collected = Collected()

    async def scenario() -> list[tuple[Invocation, Any, bytes]]:
        pool = FunctionPool(
            config("broken_import.handler", 3, runtime_command=command, environment=environment),
            log_sink=collected,
        )
        try:
            return await run_batch(pool, [{}, {}, {}])
        finally:
            await pool.stop()

    with caplog.at_level(logging.WARNING, logger="cdk_stream_fn.emulator"):
        batch = asyncio.run(scenario())

    for _, failed, _ in batch:
        assert isinstance(failed, InvocationFailed)
        assert failed.error.error_type == "Runtime.ImportModuleError"
    assert caplog.text.count("the runtime failed to initialize") == 1
    if command is None:  # stream_fn says why its siblings' reports were refused
        refused = [line for line in collected.lines if "another worker has reported the init error" in line]
        assert len(refused) == 2


def test_an_async_buffered_handler_answers_concurrently() -> None:
    async def scenario() -> list[tuple[Invocation, Any, bytes]]:
        pool = FunctionPool(config("managed.async_buffered", 3), log_sink=None)
        try:
            return await run_batch(pool, barrier_events(3))
        finally:
            await pool.stop()

    for invocation, head, body in asyncio.run(scenario()):
        assert not head.streaming
        assert json.loads(body)["request_id"] == invocation.request_id


@pytest.fixture(scope="module")
def served_apps() -> Any:
    functions = [config("managed_apps.asgi", 4, name="asgi"), config("managed_apps.wsgi", 4, name="wsgi")]
    emulator = ServedEmulator(functions)
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.mark.parametrize("app", ["asgi", "wsgi"])
def test_web_apps_stream_concurrently_through_the_function_url(app: str, served_apps: ServedEmulator) -> None:
    url = served_apps.url(app)
    barrier = tempfile.mkdtemp(prefix="barrier-")

    async def one(client: httpx.AsyncClient) -> tuple[str, str]:
        async with client.stream("GET", f"{url}sse", params={"barrier": barrier, "parties": 4}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            return response.headers["x-amzn-requestid"], (await response.aread()).decode()

    async def clients() -> list[tuple[str, str]]:
        async with httpx.AsyncClient(timeout=30) as client:
            return list(await asyncio.gather(*(one(client) for _ in range(4))))

    results = asyncio.run(clients())

    assert len({request_id for request_id, _ in results}) == 4
    for request_id, body in results:
        events = events_of(body.encode())
        assert len(events) == 4 and all(event.startswith(f"{request_id} ") for event in events), events
    ours = {request_id for request_id, _ in results}

    def records() -> list[dict[str, Any]]:
        lines = [line for name, line in served_apps.log_lines if name == app and '"managed_apps"' in line]
        return [record for record in map(json.loads, lines) if record["requestId"] in ours]

    deadline = time.monotonic() + 10  # the runtime's output may reach the emulator after its responses
    while len(records()) < 4 * 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(records()) == 4 * 3
    assert all(record["message"].endswith(record["requestId"]) for record in records())
    assert len(served_apps.emulator.pools[app].sandboxes) == 1


def test_a_stream_whose_client_does_not_read_holds_up_no_other_invocation() -> None:
    """The large stream fills every buffer between the runtime and its client, and the runtime's event loop
    goes on serving the other invocation: its writes wait in the connection's queue, not in a blocked send."""

    async def scenario() -> tuple[int, int, int]:
        pool = FunctionPool(config("managed.async_large", 2), log_sink=None)
        try:
            large = await pool.submit(pool.request(json.dumps({"mib": 64}).encode()))
            await large.head()  # started, and nobody reads it
            ((small, _, body),) = await run_batch(pool, [{"mib": 1}])
            assert small.error is None
            size = len(await large.read_all())
            return size, len(body), pool.sandboxes[0].starts
        finally:
            await pool.stop()

    large_size, small_size, starts = asyncio.run(scenario())

    assert (large_size, small_size) == (64 * 1024 * 1024, 1024 * 1024)
    assert starts == 1
