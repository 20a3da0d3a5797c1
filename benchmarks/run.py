"""Measure the selected groups of figures and turn the runs into Figures (with their notes)."""

from __future__ import annotations

import dataclasses
import platform
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from benchmarks import figures as specs
from benchmarks import (
    measure_compression,
    measure_managed,
    measure_runtime,
    measure_synth,
    measure_url,
    measure_webapp,
)
from benchmarks.deployed_layer import bytecode_in, bytecode_written
from benchmarks.in_root import InRootRuntime
from benchmarks.measure_runtime import MeasurementError, MiB, StreamRun
from benchmarks.references import WORK_DIR, Log, awslambdaric_version
from benchmarks.report import format_value
from benchmarks.runtimes import (
    AWSLAMBDARIC,
    NODE,
    STREAM_FN,
    Runtime,
)
from benchmarks.service import EmulatorBackend
from benchmarks.stats import Figure
from benchmarks.synth_app import PLAIN_STACK, STREAMING_STACK
from benchmarks.target_interpreter import (
    STREAM_FN_UNCHECKED,
    STREAM_FN_WITHOUT_BYTECODE,
    TargetInterpreter,
    TargetUnavailable,
    node_client,
    prepare_target_interpreter,
    remove_target_layers,
    target_runtimes,
)

T = TypeVar("T")
LOG_DIR = WORK_DIR / "logs"
STACK_LABELS = {
    STREAMING_STACK: "StreamingFunction stack",
    PLAIN_STACK: "Function + FunctionUrl stack",
}
# A Runtime API thread busier than this during the stream is the bottleneck, not the runtime.
SATURATED_SERVER = 0.9
# The groups whose runtimes run on the target interpreter (benchmarks.target_interpreter).
ON_TARGET_INTERPRETER = ("cold_start", "invocation_overhead", "stream")


@dataclasses.dataclass(frozen=True)
class Settings:
    """How much to measure: runs per figure, invocations per overhead run, and whether this is --quick."""

    runs: int
    invocations: int
    quick: bool


def measure_dropping_failures(
    names: Sequence[str], measure: Callable[[list[str]], dict[str, T]], notes: list[str], log: Log
) -> dict[str, T]:
    """Measure everything named together; one that fails is named in `notes` and the rest measured again."""
    remaining = list(names)
    while remaining:
        try:
            return measure(remaining)
        except MeasurementError as error:
            log(f"left out: {error}")
            notes.append(f"{error.runtime} was left out: {error}")
            remaining = [name for name in remaining if name != error.runtime]
    return {}


def measure_runtimes(
    chosen: Mapping[str, Runtime],
    measure: Callable[[list[Runtime]], dict[str, T]],
    notes: list[str],
    log: Log,
) -> dict[str, T]:
    """`measure_dropping_failures` over the `chosen` runtimes, handing `measure` the runtimes themselves."""
    return measure_dropping_failures(
        list(chosen), lambda names: measure([chosen[n] for n in names]), notes, log
    )


def _select(runtimes: Sequence[Runtime], names: Sequence[str], work: str) -> dict[str, Runtime]:
    """The runtimes among `names` that have a handler for `work`, by name in `names` order."""
    by_name = {runtime.name: runtime for runtime in runtimes}
    return {name: by_name[name] for name in names if name in by_name and work in by_name[name].handlers}


def _throughput_notes(runs: dict[str, list[StreamRun]], labels: dict[str, str]) -> list[str]:
    """Say so when the shared Runtime API, not the runtime, limited the throughput."""
    notes = []
    for name, stream_runs in runs.items():
        busy = statistics.median(run.server_busy for run in stream_runs)
        if busy >= SATURATED_SERVER:
            notes.append(
                f"{labels[name]}: the shared Runtime API's thread was on CPU {busy:.0%} of the stream, so "
                "this throughput is bounded by the emulator, not by the runtime; CPU s/GB measures the runtime."
            )
    return notes


def _peak_rss_notes(runs: dict[str, list[StreamRun]], labels: dict[str, str]) -> list[str]:
    """The idle resident set the peak is measured from, and any run whose peak could not be reset."""
    if not runs:
        return []
    idle = ", ".join(
        f"{labels[name]} {format_value(statistics.median(run.idle_rss for run in stream_runs) / MiB)} MiB"
        for name, stream_runs in runs.items()
    )
    notes = [f"Resident set of the warm, idle runtime (median), which the peak is measured from: {idle}."]
    for name, stream_runs in runs.items():
        if not all(run.peak_reset for run in stream_runs):
            notes.append(
                f"{labels[name]}: the kernel refused to reset the peak RSS, so its peak includes start-up."
            )
    return notes


def measure_all(
    groups: Sequence[str], runtimes: Sequence[Runtime], settings: Settings, notes: list[str], log: Log
) -> list[Figure]:
    """Every figure of the selected groups, in the report's order; unmeasurable ones carry their reason.

    `runtimes` are this machine's; the cold start, the overhead and the stream run the same clients on
    the target interpreter instead (benchmarks.target_interpreter), or are not measured, with the reason.
    """
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    for old_log in LOG_DIR.glob("*.log"):
        old_log.unlink()  # each run's logs are its own
    labels = {runtime.name: runtime.label for runtime in runtimes}
    result: list[Figure] = []
    target, on_target, target_note = _target_interpreter(groups, runtimes, log)
    on_target_labels = {runtime.name: runtime.label for runtime in on_target}
    backend = EmulatorBackend()
    try:
        if "cold_start" in groups:
            result.extend(_with_note(_cold_start(on_target, backend, settings, log), target_note))
        if "invocation_overhead" in groups:
            figures = _overhead(on_target, backend, settings, on_target_labels, log)
            result.extend(_with_note(figures, target_note))
        if "stream" in groups:
            result.extend(
                _with_note(_stream(on_target, backend, settings, on_target_labels, log), target_note)
            )
        if "time_to_first_byte" in groups:
            result.append(_time_to_first_byte(runtimes, backend, settings, labels, log))
            result.append(_url_request_cpu(runtimes, backend, settings, labels, log))
        if "compression" in groups:
            result.extend(_compression(runtimes, backend, settings, log))
        if "managed_instances" in groups:
            result.extend(_managed_instances(backend, settings, log))
    finally:
        backend.close()
        if target is not None:
            remove_target_layers(target.layers())
    if "webapp" in groups:
        result.extend(_webapp(settings, log))
    if "synthesis" in groups:
        result.extend(_synthesis(settings, log))
    return result


def _target_interpreter(
    groups: Sequence[str], runtimes: Sequence[Runtime], log: Log
) -> tuple[TargetInterpreter | None, list[Runtime], str]:
    """The target interpreter, its runtimes (the clients among `runtimes`, in its root), and the note its
    figures carry: where they ran, or why they could not."""
    if not set(ON_TARGET_INTERPRETER) & set(groups):
        return None, [], ""
    log("Preparing the target interpreter: its platform root, the layers, awslambdaric for it")
    names = {runtime.name: runtime for runtime in runtimes}
    ric_version = awslambdaric_version() if AWSLAMBDARIC in names else None
    try:
        target = prepare_target_interpreter(ric_version, log)
    except TargetUnavailable as error:
        log(f"no figures on the target interpreter: {error}")
        return None, [], f"Not measured: the target interpreter cannot run here: {error}."
    node = node_client(names[NODE].label) if NODE in names else None
    note = (
        f"Measured on {target.name}: Debian's build in the project's platform root, every runtime started "
        "through bubblewrap (benchmarks/target_interpreter.py); this machine's own interpreter is "
        f"{platform.python_implementation()} {platform.python_version()}."
    )
    return target, [*target_runtimes(target, awslambdaric_version=ric_version, node=node)], note


def _with_note(figures: Sequence[Figure], note: str) -> list[Figure]:
    """`figures` (one group's, the others "same runs as" the first) with `note` first in the first's notes."""
    if not note or not figures:
        return list(figures)
    first, *rest = figures
    return [dataclasses.replace(first, notes=(note, *first.notes)), *rest]


def _webapp(settings: Settings, log: Log) -> list[Figure]:
    """A FastAPI app on stream_fn against the same app behind the Lambda Web Adapter model."""
    return measure_webapp.measure(settings.runs, 100 if settings.quick else 300, LOG_DIR, log)


def _cold_start(
    runtimes: Sequence[Runtime], backend: EmulatorBackend, settings: Settings, log: Log
) -> list[Figure]:
    """Cold start of every runtime on the target interpreter, stream_fn from the layer as shipped and from
    the two layers it is compared with, interleaved in one run so that every ratio comes from the same runs."""
    names = [STREAM_FN, STREAM_FN_UNCHECKED, STREAM_FN_WITHOUT_BYTECODE, AWSLAMBDARIC, NODE]
    chosen = _select(runtimes, names, "tiny")
    labels = {name: runtime.label for name, runtime in chosen.items()}
    layers = {
        name: runtime.root.layer
        for name, runtime in chosen.items()
        if isinstance(runtime, InRootRuntime) and runtime.root is not None
    }
    shipped = {name: bytecode_in(layer) for name, layer in layers.items()}
    log(f"Cold start: {settings.runs} runs of {', '.join(chosen)}")
    notes: list[str] = []
    values = measure_runtimes(
        chosen,
        lambda picked: measure_runtime.cold_start_ms(picked, backend, settings.runs, LOG_DIR),
        notes,
        log,
    )
    for name, layer in layers.items():
        written = bytecode_written(layer, shipped[name])
        if written and values.pop(name, None) is not None:
            notes.append(
                f"{labels[name]}: not reported, because bytecode was written into its read-only layer "
                f"({written[0]}), so the runs were not as deployed."
            )
    return [specs.COLD_START.with_runs(values, labels, notes)]


def _overhead(
    runtimes: Sequence[Runtime],
    backend: EmulatorBackend,
    settings: Settings,
    labels: dict[str, str],
    log: Log,
) -> list[Figure]:
    chosen = _select(runtimes, [STREAM_FN, NODE, AWSLAMBDARIC], "tiny")
    log(f"Per-invocation overhead: {settings.runs} runs x {settings.invocations} invocations")
    notes: list[str] = []
    runs = measure_runtimes(
        chosen,
        lambda picked: measure_runtime.invocation_overhead(
            picked, backend, settings.runs, settings.invocations, LOG_DIR
        ),
        notes,
        log,
    )
    if runs:
        server = ", ".join(
            f"{labels[name]} {format_value(statistics.median(run.server_cpu_us for run in overhead_runs))} µs"
            for name, overhead_runs in runs.items()
        )
        notes.append(
            "CPU time the shared Runtime API's thread spent per invocation (median), part of every wall "
            f"time above: {server}."
        )
    wall = {n: [r.wall_us for r in rs] for n, rs in runs.items()}
    cpu = {n: [r.runtime_cpu_us for r in rs] for n, rs in runs.items()}
    return [
        specs.INVOCATION_OVERHEAD.with_runs(wall, labels, notes),
        specs.RUNTIME_CPU_PER_INVOCATION.with_runs(cpu, labels),
    ]


def _stream(
    runtimes: Sequence[Runtime],
    backend: EmulatorBackend,
    settings: Settings,
    labels: dict[str, str],
    log: Log,
) -> list[Figure]:
    chosen = _select(runtimes, [STREAM_FN, NODE], "large")
    log(f"200 MiB stream: {settings.runs} runs of {', '.join(chosen)}")
    notes: list[str] = []
    runs = measure_runtimes(
        chosen,
        lambda picked: measure_runtime.large_stream(picked, backend, settings.runs, LOG_DIR),
        notes,
        log,
    )
    throughput = {n: [r.mib_per_second for r in rs] for n, rs in runs.items()}
    cpu = {n: [r.cpu_seconds_per_gb for r in rs] for n, rs in runs.items()}
    peak = {n: [r.peak_above_idle_mib for r in rs] for n, rs in runs.items()}
    return [
        specs.THROUGHPUT.with_runs(throughput, labels, notes + _throughput_notes(runs, labels)),
        specs.CPU_PER_GB.with_runs(cpu, labels),
        specs.PEAK_RSS.with_runs(peak, labels, _peak_rss_notes(runs, labels)),
    ]


def _time_to_first_byte(
    runtimes: Sequence[Runtime],
    backend: EmulatorBackend,
    settings: Settings,
    labels: dict[str, str],
    log: Log,
) -> Figure:
    chosen = _select(runtimes, [STREAM_FN, AWSLAMBDARIC, NODE], "chunks")
    log(f"Time to first byte through the function URL: {settings.runs} runs of {', '.join(chosen)}")
    notes: list[str] = []
    runs = measure_runtimes(
        chosen,
        lambda picked: measure_url.time_to_first_byte(picked, backend, settings.runs, LOG_DIR),
        notes,
        log,
    )
    if runs:
        last_bytes = ", ".join(
            f"{labels[name]} {format_value(statistics.median(run.last_byte_ms for run in url_runs))} ms"
            for name, url_runs in runs.items()
        )
        notes.append(f"Time to the last byte (median), for comparison: {last_bytes}.")
    return specs.TIME_TO_FIRST_BYTE.with_runs(
        {n: [r.first_byte_ms for r in rs] for n, rs in runs.items()}, labels, notes
    )


def _url_request_cpu(
    runtimes: Sequence[Runtime],
    backend: EmulatorBackend,
    settings: Settings,
    labels: dict[str, str],
    log: Log,
) -> Figure:
    chosen = _select(runtimes, [STREAM_FN], "http_tiny")
    log(f"Emulator CPU per function URL request: {settings.runs} runs of 200 requests")
    notes: list[str] = []
    runs = measure_runtimes(
        chosen,
        lambda picked: {
            runtime.name: measure_url.url_request_cpu_us(runtime, backend, settings.runs, LOG_DIR)
            for runtime in picked
        },
        notes,
        log,
    )
    return specs.URL_REQUEST_CPU.with_runs(runs, labels, notes)


def _managed_instances(backend: EmulatorBackend, settings: Settings, log: Log) -> list[Figure]:
    """64 concurrent SSE streams in one Managed Instances environment: stream_fn's ways against the stock
    client's process per slot, and the design alternative of waiting in /next on threads."""
    setups = {setup.name: setup for setup in measure_managed.setups(awslambdaric_version())}
    labels = {name: setup.label for name, setup in setups.items()}
    log(f"Managed Instances, 64 concurrent SSE streams: {settings.runs} runs of {', '.join(setups)}")
    notes: list[str] = []
    runs = measure_dropping_failures(
        list(setups),
        lambda names: measure_managed.measure(
            [setups[name] for name in names], backend, settings.runs, LOG_DIR, log
        ),
        notes,
        log,
    )

    def median_of(name: str, field: str) -> float:
        return float(statistics.median(getattr(run, field) for run in runs[name]))

    if runs:
        notes.append(
            "RSS summed over the same processes (median of the peaks), which counts pages shared by forked "
            "workers once per worker: "
            + ", ".join(
                f"{labels[name]} {format_value(median_of(name, 'rss_mib'))} MiB over "
                f"{runs[name][0].processes} process{'es' if runs[name][0].processes > 1 else ''}"
                for name in runs
            )
            + "."
        )
        notes.append(
            "Time to the 95th percentile first byte and to the last byte (medians): "
            + ", ".join(
                f"{labels[name]} {format_value(median_of(name, 'first_byte_p95_ms'))} ms / "
                f"{format_value(median_of(name, 'last_byte_ms'))} ms"
                for name in runs
            )
            + "."
        )
    memory = {n: [r.pss_mib for r in rs] for n, rs in runs.items()}
    cpu = {n: [r.cpu_ms_per_stream for r in rs] for n, rs in runs.items()}
    first_byte = {n: [r.first_byte_ms for r in rs] for n, rs in runs.items()}
    return [
        specs.MANAGED_MEMORY.with_runs(memory, labels, notes),
        specs.MANAGED_CPU_PER_STREAM.with_runs(cpu, labels),
        specs.MANAGED_TIME_TO_FIRST_BYTE.with_runs(first_byte, labels),
    ]


def _synthesis(settings: Settings, log: Log) -> list[Figure]:
    kinds = [STREAMING_STACK, PLAIN_STACK]
    notes: list[str] = []
    log(f"Synthesis: {settings.runs} runs of {', '.join(kinds)} (a fresh process each)")
    runs = measure_dropping_failures(
        kinds, lambda names: measure_synth.synthesis_runs(names, settings.runs, LOG_DIR), notes, log
    )
    return [
        specs.SYNTHESIS.with_runs(
            {k: [r.total_seconds for r in rs] for k, rs in runs.items()}, STACK_LABELS, notes
        ),
        specs.SYNTHESIS_IN_PROCESS.with_runs(
            {k: [r.synth_seconds for r in rs] for k, rs in runs.items()}, STACK_LABELS
        ),
    ]


CODING_LABELS = {
    "identity": "uncompressed",
    "gzip": "gzip (zlib level 6)",
    "br": "br (brotli quality 5, a module the user brings)",
    "zstd": "zstd (level 3)",
}


def _compression(
    runtimes: Sequence[Runtime], backend: EmulatorBackend, settings: Settings, log: Log
) -> list[Figure]:
    """stream_fn's compression through Lambda's bandwidth shaping: content rate, CPU, time to first byte."""
    figures = [specs.COMPRESSED_CONTENT_RATE, specs.COMPRESSION_CPU, specs.COMPRESSION_TIME_TO_FIRST_BYTE]
    runtime = next((r for r in runtimes if r.name == STREAM_FN), None)
    if runtime is None:
        return figures
    available = measure_compression.runtime_codings()
    codings = measure_compression.measured_codings(available)
    notes: list[str] = []
    if "zstd" not in available:
        notes.append(
            "zstd was not measured: the runtime's interpreter has no compression.zstd (python3.14 has it)."
        )
    log(f"Compression through the bandwidth shaping: {settings.runs} runs of {', '.join(codings)}")
    try:
        runs = measure_compression.stream_runs(runtime, codings, backend, settings.runs, LOG_DIR)
        first_bytes = measure_compression.time_to_first_byte_runs(
            runtime, codings, backend, settings.runs, LOG_DIR
        )
    except MeasurementError as error:
        log(f"compression not measured: {error}")
        return [figure.with_runs({}, CODING_LABELS, [f"Not measured: {error}"]) for figure in figures]
    ratios = ", ".join(
        f"{CODING_LABELS[coding]} {format_value(statistics.median(run.ratio for run in coding_runs))}x"
        for coding, coding_runs in runs.items()
        if coding != "identity"
    )
    rate_notes = [*notes, f"Compression ratio on the wire (median): {ratios}."]
    return [
        specs.COMPRESSED_CONTENT_RATE.with_runs(
            {c: [r.content_mb_per_second for r in rs] for c, rs in runs.items()}, CODING_LABELS, rate_notes
        ),
        specs.COMPRESSION_CPU.with_runs(
            {c: [r.cpu_ms_per_mb for r in rs] for c, rs in runs.items()}, CODING_LABELS
        ),
        specs.COMPRESSION_TIME_TO_FIRST_BYTE.with_runs(first_bytes, CODING_LABELS),
    ]
