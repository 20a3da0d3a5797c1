"""Measurements of a runtime process against a Runtime API on loopback: cold start, per-invocation
overhead, and one 200 MiB stream (throughput, CPU per GB, peak RSS above idle).

Runs are interleaved (run 1 of every runtime, then run 2 of every runtime, ...) after one unrecorded
warm-up round, so slow drifts of a noisy machine spread over all runtimes instead of favouring one.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from benchmarks.processes import RuntimeProcess
from benchmarks.runtimes import Runtime
from benchmarks.service import Outcome, PendingInvocation, RuntimeApi

MiB = 1024 * 1024
LARGE_WRITES = 3200
LARGE_STREAM_BYTES = LARGE_WRITES * 64 * 1024
START_TIMEOUT = 30.0
INVOKE_TIMEOUT = 120.0
EVENT = b"{}"
# The `large` handlers stream event["writes"] pieces of 64 KiB; zero writes is an idle-to-idle probe.
PROBE_EVENT = json.dumps({"writes": 0}).encode()

RuntimeApiFactory = Callable[[], RuntimeApi]
T = TypeVar("T")


class MeasurementError(RuntimeError):
    """A runtime did not do what the benchmark asked; the message says which, what, and where its log is."""

    def __init__(self, runtime: str, message: str) -> None:
        super().__init__(f"{runtime}: {message}")
        self.runtime = runtime


@dataclasses.dataclass(frozen=True)
class StreamRun:
    """One 200 MiB stream: wall time to the last byte, on-CPU time and memory from idle to idle."""

    seconds: float
    cpu_seconds: float
    idle_rss: int
    peak_rss: int
    peak_reset: bool
    server_cpu_seconds: float

    @property
    def server_busy(self) -> float:
        """The share of the stream's wall time the Runtime API's thread spent on CPU (near 1: saturated)."""
        return self.server_cpu_seconds / self.seconds

    @property
    def mib_per_second(self) -> float:
        return LARGE_STREAM_BYTES / MiB / self.seconds

    @property
    def cpu_seconds_per_gb(self) -> float:
        return self.cpu_seconds / (LARGE_STREAM_BYTES / 1e9)

    @property
    def peak_above_idle_mib(self) -> float:
        return (self.peak_rss - self.idle_rss) / MiB


@dataclasses.dataclass(frozen=True)
class Session:
    """A runtime process and the Runtime API it talks to."""

    runtime: Runtime
    work: str
    process: RuntimeProcess
    api: RuntimeApi
    log: pathlib.Path

    def fail(self, problem: str) -> MeasurementError:
        return MeasurementError(
            self.runtime.name, f"{problem} ({self.work} handler); its output is in {self.log}"
        )

    def result(
        self, pending: PendingInvocation, timeout: float, expected_bytes: int | None = None
    ) -> Outcome:
        """Wait for a submitted invocation, failing fast if the runtime process dies meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                outcome = pending.result(0.25)
                break
            except TimeoutError:
                if not self.process.alive():
                    raise self.fail("the runtime process exited") from None
                if time.monotonic() > deadline:
                    raise self.fail(f"no complete response within {timeout:.0f} s") from None
        return self.check(outcome, expected_bytes)

    def check(self, outcome: Outcome, expected_bytes: int | None = None) -> Outcome:
        """`outcome` if it has no error and, when given, exactly `expected_bytes` of body."""
        if not outcome.ok():
            raise self.fail(f"the invocation failed with {outcome.error_type}")
        if expected_bytes is not None and outcome.body_bytes != expected_bytes:
            raise self.fail(f"the response had {outcome.body_bytes} bytes, expected {expected_bytes}")
        return outcome

    def invoke(self, event: bytes = EVENT, expected_bytes: int | None = None) -> Outcome:
        return self.result(self.api.submit(event), INVOKE_TIMEOUT, expected_bytes)


@contextmanager
def running(
    runtime: Runtime,
    work: str,
    make_api: RuntimeApiFactory,
    log_dir: pathlib.Path,
    *,
    first_event: bytes = EVENT,
) -> Iterator[tuple[Session, PendingInvocation]]:
    """A fresh Runtime API and runtime process for `work`, with `first_event` queued before the spawn,
    so that its `picked_up` stamp is the arrival of the process' first `GET /next`."""
    api = make_api()
    log = log_dir / f"{runtime.name}-{work}.log"
    try:
        argv, env = runtime.launch(work, api.address)
        first = api.submit(first_event)
        with runtime.start_process(argv, env, log=log) as process:
            yield Session(runtime, work, process, api, log), first
    finally:
        api.close()


def _interleaved(
    runtimes: Sequence[Runtime], runs: int, measure: Callable[[Runtime], T]
) -> dict[str, list[T]]:
    for runtime in runtimes:
        measure(runtime)  # warm-up: page cache, .pyc files, first-use costs of the server
    values: dict[str, list[T]] = {runtime.name: [] for runtime in runtimes}
    for _ in range(runs):
        for runtime in runtimes:
            values[runtime.name].append(measure(runtime))
    return values


def cold_start_ms(
    runtimes: Sequence[Runtime], make_api: RuntimeApiFactory, runs: int, log_dir: pathlib.Path
) -> dict[str, list[float]]:
    """Milliseconds from just before the process is spawned to its first `GET /next` reaching the server."""

    def once(runtime: Runtime) -> float:
        with running(runtime, "tiny", make_api, log_dir) as (session, first):
            outcome = session.result(first, START_TIMEOUT)
            return (outcome.picked_up - session.process.started_at) * 1000

    return _interleaved(runtimes, runs, once)


@dataclasses.dataclass(frozen=True)
class OverheadRun:
    """One run of back-to-back tiny invocations, per invocation: wall time, and the CPU time the runtime
    process and the Runtime API's thread each spent."""

    wall_us: float
    runtime_cpu_us: float
    server_cpu_us: float


def invocation_overhead(
    runtimes: Sequence[Runtime],
    make_api: RuntimeApiFactory,
    runs: int,
    invocations: int,
    log_dir: pathlib.Path,
    *,
    warmup: int = 50,
) -> dict[str, list[OverheadRun]]:
    """The tiny handler invoked `invocations` times back to back per run, after `warmup` invocations.

    Wall time runs from handing out the first event to the end of the last response, both stamped by the
    server; CPU times are the deltas over the same stretch."""

    def once(runtime: Runtime) -> OverheadRun:
        with running(runtime, "tiny", make_api, log_dir) as (session, first):
            session.result(first, START_TIMEOUT)
            for _ in range(warmup):
                session.invoke()
            runtime_cpu = session.process.cpu_seconds()
            server_cpu = session.api.server_cpu_seconds()
            outcomes = session.api.invoke_sequentially(EVENT, invocations, INVOKE_TIMEOUT)
            server_cpu = session.api.server_cpu_seconds() - server_cpu
            runtime_cpu = session.process.cpu_seconds() - runtime_cpu
            for outcome in outcomes:
                session.check(outcome)
            return OverheadRun(
                wall_us=(outcomes[-1].ended - outcomes[0].submitted) / invocations * 1e6,
                runtime_cpu_us=runtime_cpu / invocations * 1e6,
                server_cpu_us=server_cpu / invocations * 1e6,
            )

    return _interleaved(runtimes, runs, once)


def large_stream(
    runtimes: Sequence[Runtime], make_api: RuntimeApiFactory, runs: int, log_dir: pathlib.Path
) -> dict[str, list[StreamRun]]:
    """One 200 MiB stream per run in a fresh, warm process, measured from idle back to idle.

    A zero-write probe invocation first makes the runtime warm and idle (waiting in `GET /next`); a
    second probe after the stream returns only once the runtime has finished all its work for it.
    """

    def once(runtime: Runtime) -> StreamRun:
        with running(runtime, "large", make_api, log_dir, first_event=PROBE_EVENT) as (session, first):
            process = session.process
            session.result(first, START_TIMEOUT, expected_bytes=0)
            idle_rss = process.rss_bytes()
            peak_reset = process.reset_peak_rss()
            cpu_before = process.cpu_seconds()
            server_cpu_before = session.api.server_cpu_seconds()
            stream = session.invoke(EVENT, expected_bytes=LARGE_STREAM_BYTES)
            server_cpu = session.api.server_cpu_seconds() - server_cpu_before
            session.invoke(PROBE_EVENT, expected_bytes=0)
            cpu = process.cpu_seconds() - cpu_before
            return StreamRun(
                seconds=stream.ended - stream.submitted,
                cpu_seconds=cpu,
                idle_rss=idle_rss,
                peak_rss=process.peak_rss_bytes(),
                peak_reset=peak_reset,
                server_cpu_seconds=server_cpu,
            )

    return _interleaved(runtimes, runs, once)
