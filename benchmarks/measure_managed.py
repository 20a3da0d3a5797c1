"""Lambda Managed Instances: 64 concurrent server-sent-event streams in one execution environment.

Every setup runs in the emulator's Managed Instances environment (`ConcurrentSandbox`, as `cdk-stream-fn
serve` runs a function with a capacity provider) with a per-environment concurrency of 64, and serves a
batch of 64 invocations submitted at once, each a stream of 50 tokens 20 ms apart from a simulated model
(handlers/python/bench_managed.py and bench_managed_sync.py; the buffered equivalent for awslambdaric). Each run starts a fresh
environment per setup, setups interleaved, so no environment shares pages with another while it is
measured; a warm-up batch makes every slot serve once before the measured batch.

What is read during the measured batch, from /proc, over the runtime's whole process group (the runtime
and any worker processes it forked):
- memory: the sum of every process' PSS (`smaps_rollup`), sampled every 100 ms, the peak kept; the RSS sum
  is kept too, for the notes (it counts pages shared between forked workers once per worker);
- CPU: user + system time of every thread of every process, from before to after the batch, per stream;
- time to first byte: from submitting an invocation to its first response bytes reaching the Runtime API
  (the emulator's own stamps), the median of the batch's 64.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import statistics
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Self

from benchmarks.measure_runtime import MeasurementError
from benchmarks.processes import memory_of, process_cpu_seconds, process_group
from benchmarks.runtimes import AWSLAMBDARIC, PYTHON_TASK_ROOT
from benchmarks.service import EmulatorBackend, Outcome

CONCURRENCY = 64
TOKENS = 50
BATCH_TIMEOUT = 60.0
SAMPLE_SECONDS = 0.1
MiB = 1024 * 1024

STREAM_FN_EVENT_LOOP = "stream_fn"
STREAM_FN_THREADS = "stream_fn_threads"
STREAM_FN_PROCESSES = "stream_fn_processes"
STREAM_FN_NEXT_ON_THREADS = "stream_fn_next_on_threads"


@dataclasses.dataclass(frozen=True)
class Setup:
    """One way of serving the environment: the runtime, its handler, and its environment variables."""

    name: str
    label: str
    handler: str
    command: tuple[str, ...] | None = None
    environment: tuple[tuple[str, str], ...] = ()


def setups(awslambdaric_version: str | None) -> list[Setup]:
    """stream_fn in each of its ways, the design alternative, and the stock client when it is installed."""
    found = [
        Setup(STREAM_FN_EVENT_LOOP, "stream_fn, async handler on the event loop", "bench_managed.sse"),
        Setup(STREAM_FN_THREADS, "stream_fn, sync handler on threads", "bench_managed_sync.sse"),
        Setup(
            STREAM_FN_PROCESSES,
            "stream_fn, a process per slot (STREAM_FN_CONCURRENCY=processes)",
            "bench_managed_sync.sse",
            environment=(("STREAM_FN_CONCURRENCY", "processes"),),
        ),
        Setup(
            STREAM_FN_NEXT_ON_THREADS,
            "stream_fn, async handler, /next waited on threads (design alternative)",
            "bench_managed.sse",
            command=(sys.executable, str(PYTHON_TASK_ROOT / "threaded_next_runtime.py")),
        ),
    ]
    if awslambdaric_version is not None:
        found.append(
            Setup(
                AWSLAMBDARIC,
                f"awslambdaric {awslambdaric_version}, a process per slot (buffered)",
                "bench_awslambdaric.sse",
                command=(sys.executable, "-m", "awslambdaric"),
                environment=(("PYTHONPATH", str(PYTHON_TASK_ROOT)),),
            )
        )
    return found


@dataclasses.dataclass(frozen=True)
class BatchRun:
    """One measured batch of one setup."""

    pss_mib: float
    rss_mib: float
    processes: int
    cpu_ms_per_stream: float
    first_byte_ms: float
    first_byte_p95_ms: float
    last_byte_ms: float


class _MemorySampler:
    """Samples the summed PSS and RSS of a process group on a thread of its own; keeps the peak."""

    def __init__(self, members: Sequence[int]) -> None:
        self._members = list(members)
        self.peak_pss = self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            readings = [memory_of(pid) for pid in self._members]
            self.peak_pss = max(self.peak_pss, sum(pss for pss, _ in readings))
            self.peak_rss = max(self.peak_rss, sum(rss for _, rss in readings))
            if self._stop.wait(SAMPLE_SECONDS):
                return


def measure(
    chosen: Sequence[Setup],
    backend: EmulatorBackend,
    runs: int,
    log_dir: pathlib.Path,
    log: Callable[[str], None],
    *,
    concurrency: int = CONCURRENCY,
) -> dict[str, list[BatchRun]]:
    """`runs` measured batches of every setup, interleaved; a setup that fails raises MeasurementError."""
    results: dict[str, list[BatchRun]] = {setup.name: [] for setup in chosen}
    for run in range(runs):
        for setup in chosen:
            result = _one_run(setup, backend, log_dir, concurrency)
            log(
                f"  run {run + 1}/{runs} {setup.name}: {result.pss_mib:.1f} MiB PSS over {result.processes} "
                f"processes, {result.cpu_ms_per_stream:.2f} CPU ms/stream, first byte {result.first_byte_ms:.1f} ms"
            )
            results[setup.name].append(result)
    return results


def _one_run(setup: Setup, backend: EmulatorBackend, log_dir: pathlib.Path, concurrency: int) -> BatchRun:
    event = json.dumps({"tokens": TOKENS}).encode()
    try:
        with backend.managed_environment(
            name=f"managed-{setup.name}",
            handler=setup.handler,
            code_dir=PYTHON_TASK_ROOT,
            command=list(setup.command) if setup.command else None,
            environment=dict(setup.environment),
            concurrency=concurrency,
            log=log_dir / f"{setup.name}-managed.log",
        ) as environment:
            _check(setup, environment.batch(event, concurrency, BATCH_TIMEOUT))  # every slot serves once
            members = process_group(environment.pid)
            cpu_before = {pid: process_cpu_seconds(pid) for pid in members}
            with _MemorySampler(members) as sampler:
                outcomes = environment.batch(event, concurrency, BATCH_TIMEOUT)
            cpu_spent = sum(process_cpu_seconds(pid) - before for pid, before in cpu_before.items())
    except (TimeoutError, OSError, RuntimeError) as error:
        raise MeasurementError(setup.name, f"the environment failed: {error}") from error
    _check(setup, outcomes)
    first_bytes = sorted((outcome.first_byte or outcome.ended) - outcome.submitted for outcome in outcomes)
    return BatchRun(
        pss_mib=sampler.peak_pss / MiB,
        rss_mib=sampler.peak_rss / MiB,
        processes=len(members),
        cpu_ms_per_stream=cpu_spent / concurrency * 1000,
        first_byte_ms=statistics.median(first_bytes) * 1000,
        first_byte_p95_ms=first_bytes[max(0, int(len(first_bytes) * 0.95) - 1)] * 1000,
        last_byte_ms=statistics.median(outcome.ended - outcome.submitted for outcome in outcomes) * 1000,
    )


def _check(setup: Setup, outcomes: Sequence[Outcome]) -> None:
    """Every stream complete, with its last token."""
    last_token = f"data: token {TOKENS - 1}".encode()
    for outcome in outcomes:
        if not outcome.ok() or last_token not in outcome.body_head:
            raise MeasurementError(
                setup.name, f"a stream failed ({outcome.error_type}): {outcome.body_head[:200]!r}"
            )
