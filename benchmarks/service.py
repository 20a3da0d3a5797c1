"""What the measurements need from the Runtime API that every runtime under test talks to.

The Runtime API itself is the project's emulator (cdk_stream_fn.emulator): this module states the small
surface the benchmarks use and drives the emulator's asyncio server through it from the benchmark's own
thread, so every runtime is measured against the same server on loopback. All times are
`time.perf_counter()` seconds stamped by the server, on the same clock as the benchmark's own stamps.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import pathlib
import threading
import time
from collections.abc import Coroutine, Iterator
from typing import Any, Protocol, TypeVar

from cdk_stream_fn.emulator.front_doors.function_url import FunctionUrlServer
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig
from cdk_stream_fn.emulator.sandboxes.invocation import Invocation, InvocationFailed, InvokeRequest
from cdk_stream_fn.emulator.sandboxes.pool import FunctionPool
from cdk_stream_fn.emulator.sandboxes.runtime_api import RuntimeApiServer

BODY_HEAD_BYTES = 1024
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How one invocation went, as the Runtime API saw it.

    `body_head` keeps the first BODY_HEAD_BYTES of the response so a 200 MiB stream is counted, not kept.
    """

    submitted: float
    picked_up: float
    first_byte: float | None
    ended: float
    body_head: bytes
    body_bytes: int
    error_type: str | None

    def ok(self) -> bool:
        return self.error_type is None


class PendingInvocation(Protocol):
    def result(self, timeout: float) -> Outcome:
        """Block until the invocation's response is complete (raises TimeoutError after `timeout`)."""


class RuntimeApi(Protocol):
    """One Runtime API listener on loopback for one runtime process (a sandbox has its own)."""

    @property
    def address(self) -> str:
        """host:port, the value of AWS_LAMBDA_RUNTIME_API."""

    def submit(self, event: bytes) -> PendingInvocation:
        """Queue `event` for the runtime's next `GET /next`. Its outcome's `picked_up` is when the server
        handed the event out: the arrival of that request, when the runtime asks after the submission."""

    def invoke_sequentially(self, event: bytes, count: int, timeout: float) -> list[Outcome]:
        """Invoke `count` times back to back, each submitted once the previous response is complete,
        without leaving the server's thread in between (so the benchmark adds no hop of its own)."""

    def server_cpu_seconds(self) -> float:
        """CPU time the server's thread has used so far (shows when the server is the bottleneck)."""

    def close(self) -> None:
        """Stop listening, release the port, fail anything still pending."""


class LoopThread:
    """An asyncio event loop on a daemon thread: the emulator's servers live there, the benchmark drives
    them from its own thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="benchmark-runtime-api", daemon=True
        )
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def cpu_seconds(self) -> float:
        """CPU time the loop's thread has used so far."""

        async def thread_time() -> float:
            return time.thread_time()

        return self.run(thread_time())

    def close(self) -> None:
        async def cancel_everything() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(cancel_everything(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


class _EmulatorPending:
    def __init__(self, future: concurrent.futures.Future[Outcome]) -> None:
        self._future = future

    def result(self, timeout: float) -> Outcome:
        try:
            return self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"no outcome within {timeout} s") from None


class EmulatorRuntimeApi:
    """The emulator's `RuntimeApiServer` (one listener on 127.0.0.1) behind the synchronous RuntimeApi."""

    def __init__(self, loop: LoopThread) -> None:
        self._loop = loop
        # The longest deadline Lambda allows, so no run is cut by the emulator's timeout.
        self._server = loop.run(RuntimeApiServer.start(timeout_seconds=900))

    @property
    def address(self) -> str:
        return self._server.address

    def submit(self, event: bytes) -> PendingInvocation:
        queued = threading.Event()

        async def invoke_and_drain() -> Outcome:
            invocation = self._server.invoke(InvokeRequest(payload=event))
            queued.set()
            return await _drain(invocation)

        future = asyncio.run_coroutine_threadsafe(invoke_and_drain(), self._loop.loop)
        if not queued.wait(10):
            future.cancel()
            raise TimeoutError("the Runtime API's event loop did not queue the invocation within 10 s")
        return _EmulatorPending(future)

    def invoke_sequentially(self, event: bytes, count: int, timeout: float) -> list[Outcome]:
        async def sequence() -> list[Outcome]:
            return [await _drain(self._server.invoke(InvokeRequest(payload=event))) for _ in range(count)]

        return self._loop.run(asyncio.wait_for(sequence(), timeout * count), timeout * count + 5)

    def server_cpu_seconds(self) -> float:
        """CPU time of the thread all the emulator's servers run on."""
        return self._loop.cpu_seconds()

    def close(self) -> None:
        self._loop.run(self._server.stop())


async def _drain(invocation: Invocation) -> Outcome:
    """Read an invocation's whole response, counting its bytes and keeping only its head."""
    head = bytearray()
    count = 0
    try:
        await invocation.head()
        async for chunk in invocation.body():
            count += len(chunk)
            if len(head) < BODY_HEAD_BYTES:
                head += chunk[: BODY_HEAD_BYTES - len(head)]
    except InvocationFailed:
        pass
    await invocation.finished.wait()
    timeline = invocation.timeline
    error = invocation.error
    return Outcome(
        submitted=timeline.submitted_ns / 1e9,
        picked_up=timeline.picked_up_ns / 1e9,
        first_byte=timeline.first_chunk_ns / 1e9 if timeline.first_chunk_ns else None,
        ended=timeline.ended_ns / 1e9,
        body_head=bytes(head),
        body_bytes=count,
        error_type=None if error is None else error.error_type,
    )


@dataclasses.dataclass(frozen=True)
class ServedFunction:
    """A warm function behind a function URL: its URL and its runtime's process id (None if unknown)."""

    url: str
    runtime_pid: int | None


class ManagedEnvironment:
    """A warm Managed Instances environment of the emulator: its runtime's process id, and batches of
    invocations submitted all at once."""

    def __init__(self, loop: LoopThread, pool: FunctionPool) -> None:
        self._loop = loop
        self._pool = pool

    @property
    def pid(self) -> int:
        """The runtime's process id: the leader of the process group its workers (if any) are in."""
        (sandbox,) = self._pool.sandboxes
        assert sandbox.pid is not None
        return sandbox.pid

    def batch(self, event: bytes, count: int, timeout: float) -> list[Outcome]:
        """Submit `count` invocations of `event` at once and wait for every response to be complete."""

        async def all_at_once() -> list[Outcome]:
            invocations = [await self._pool.submit(self._pool.request(event)) for _ in range(count)]
            return list(await asyncio.gather(*(_drain(invocation) for invocation in invocations)))

        return self._loop.run(asyncio.wait_for(all_at_once(), timeout), timeout + 5)


class EmulatorBackend:
    """Makes one emulator Runtime API per runtime process, and function URLs, all on one event-loop thread."""

    def __init__(self) -> None:
        self._loop = LoopThread()

    def __call__(self) -> EmulatorRuntimeApi:
        return EmulatorRuntimeApi(self._loop)

    @contextlib.contextmanager
    def function_url(
        self,
        name: str,
        handler: str,
        code_dir: pathlib.Path,
        command: list[str] | None,
        environment: dict[str, str],
        log: pathlib.Path,
    ) -> Iterator[str]:
        """A warm function behind the emulator's function URL (as `cdk-stream-fn serve` runs it): one
        sandbox running `command` (the emulator's own `python -m stream_fn` when None); yields the URL."""
        with self.served_function(name, handler, code_dir, command, environment, log) as served:
            yield served.url

    @contextlib.contextmanager
    def served_function(
        self,
        name: str,
        handler: str,
        code_dir: pathlib.Path,
        command: list[str] | None,
        environment: dict[str, str],
        log: pathlib.Path,
        *,
        shape_bandwidth: bool = False,
    ) -> Iterator[ServedFunction]:
        """`function_url`, also naming the runtime's process; `shape_bandwidth` throttles responses as
        Lambda does (`serve --shape-bandwidth`: 6 MiB at full speed, then 2 MiB/s)."""
        config = FunctionConfig(
            name=name,
            handler=handler,
            code_dir=code_dir,
            environment=environment,
            timeout_seconds=60,
            memory_mb=1024,
            runtime_command=command,
        )
        with self._warm_pool(config, log, timeout=60, shape_bandwidth=shape_bandwidth) as pool:
            server = self._loop.run(FunctionUrlServer(pool).start())
            try:
                pid = pool.sandboxes[0].pid if pool.sandboxes else None
                yield ServedFunction(server.url, pid)
            finally:
                self._loop.run(server.stop())

    @contextlib.contextmanager
    def managed_environment(
        self,
        name: str,
        handler: str,
        code_dir: pathlib.Path,
        command: list[str] | None,
        environment: dict[str, str],
        concurrency: int,
        log: pathlib.Path,
    ) -> Iterator[ManagedEnvironment]:
        """One Lambda Managed Instances execution environment, started and warm (as `serve` runs a function
        with a capacity provider): one runtime (`command`, or `python -m stream_fn`) taking `concurrency`
        invocations at once. Its memory limit is not enforced: memory is what is measured."""
        config = FunctionConfig(
            name=name,
            handler=handler,
            code_dir=code_dir,
            environment=environment,
            timeout_seconds=120,
            memory_mb=10240,
            runtime_command=command,
            per_environment_concurrency=concurrency,
            enforce_memory=False,
        )
        with self._warm_pool(config, log, timeout=120) as pool:
            yield ManagedEnvironment(self._loop, pool)

    @contextlib.contextmanager
    def _warm_pool(
        self, config: FunctionConfig, log: pathlib.Path, *, timeout: float, shape_bandwidth: bool = False
    ) -> Iterator[FunctionPool]:
        """One sandbox of `config`, warm, its output appended to `log`; stopped afterwards."""
        with log.open("a") as sink:
            pool = FunctionPool(
                config,
                max_sandboxes=1,
                shape_bandwidth=shape_bandwidth,
                log_sink=lambda _, line: print(line, file=sink, flush=True),
            )
            try:
                self._loop.run(pool.warm(), timeout=timeout)
                yield pool
            finally:
                self._loop.run(pool.stop(), timeout=60)

    def server_cpu_seconds(self) -> float:
        """CPU time of the thread every server of this backend runs on (Runtime APIs, function URLs)."""
        return self._loop.cpu_seconds()

    def close(self) -> None:
        self._loop.close()
