"""The figures the benchmark reports, how each is measured, and the target each is held against.

Each is a Figure without runs yet (`Figure.with_runs` gives it a run's). The targets are the project's
own (issues 3, 4 and 7); they are stated here once and printed next to every figure. A missed target is
reported as MISS: the measurement is never bent to meet it.
"""

from __future__ import annotations

from benchmarks.measure_managed import STREAM_FN_EVENT_LOOP, STREAM_FN_PROCESSES
from benchmarks.runtimes import AWSLAMBDARIC, NODE, STREAM_FN
from benchmarks.stats import Comparison, Figure, Target
from benchmarks.synth_app import PLAIN_STACK, STREAMING_STACK

COLD_START = Figure(
    key="cold_start",
    title="Cold start as deployed, python3.14",
    unit="ms",
    method=(
        "Every runtime on python3.14, in the project's platform root (Debian's build of the interpreter, laid "
        "out as a Lambda sandbox), started through bubblewrap as Lambda starts it: the root read-only, the "
        "code on /var/task and the layer on /opt, both read-only. stream_fn: /var/runtime/bootstrap runs the "
        "layer's wrapper, /opt/stream-fn, from the layer the construct stages, as shipped (checked-hash pycs "
        "for python3.13 and python3.14), and for comparison the same layer with unchecked-hash pycs and "
        "without bytecode. awslambdaric: /var/runtime/bootstrap runs bootstrap.py, with awslambdaric "
        "installed for cp314 in /var/runtime and compiled there, as the managed runtime ships it. The Node.js "
        "client: `node index.mjs`, node and the client mounted in the root. A fresh process per run: time from "
        "just before bubblewrap is spawned to the runtime's first `GET /runtime/invocation/next` reaching the "
        "Runtime API on loopback (sandbox set-up, interpreter start, runtime import, handler import). No "
        "handler module has bytecode (the code directory is read-only, as a deployed zip without pycs)."
    ),
    subject=STREAM_FN,
    reference=AWSLAMBDARIC,
    target=Target(
        "Cold start as deployed on python3.14 at most 0.8x awslambdaric's", Comparison.AT_MOST, 0.8
    ),
)

INVOCATION_OVERHEAD = Figure(
    key="invocation_overhead",
    title="Per-invocation overhead, tiny streamed response, python3.14",
    unit="µs",
    method=(
        "Every runtime started in the python3.14 root as for the cold start. "
        "One runtime process per run answers a handler that writes 2 bytes; wall time of back-to-back "
        "invocations (event handed out, response complete at the Runtime API) divided by their number, "
        "after a warm-up. The Runtime API's own share is in every runtime's figure alike. awslambdaric "
        "answers buffered (it cannot stream) and is shown for reference."
    ),
    subject=STREAM_FN,
    reference=NODE,
    target=Target(
        "Per-invocation overhead on python3.14 at most half of the Node.js runtime client's",
        Comparison.AT_MOST,
        0.5,
    ),
)

RUNTIME_CPU_PER_INVOCATION = Figure(
    key="runtime_cpu_per_invocation",
    title="Runtime CPU time per invocation, tiny streamed response, python3.14",
    unit="CPU µs",
    method=(
        "Same runs as the per-invocation overhead: user + system CPU time of all the runtime process' "
        "threads (Linux schedstat; the runtime's own process, not bubblewrap's) over the back-to-back invocations, divided by their number. Unlike the "
        "wall time it leaves out the shared Runtime API, so it is the runtime's own cost."
    ),
    subject=STREAM_FN,
    reference=NODE,
)

THROUGHPUT = Figure(
    key="throughput",
    title="Throughput, one 200 MiB stream in 64 KiB writes, python3.14",
    unit="MiB/s",
    method=(
        "Every runtime started in the python3.14 root as for the cold start. A fresh runtime process per run streams 3,200 writes of 64 KiB; time from handing out the event "
        "to the last byte of the chunked response reaching the Runtime API."
    ),
    subject=STREAM_FN,
    reference=NODE,
    lower_is_better=False,
    target=Target("Throughput on python3.14 at least the Node.js runtime client's", Comparison.AT_LEAST, 1.0),
)

CPU_PER_GB = Figure(
    key="cpu_per_gb",
    title="CPU time per GB streamed, python3.14",
    unit="CPU s/GB",
    method=(
        "Same runs as the throughput: user + system CPU time of all the runtime process' threads (Linux "
        "schedstat) from idle before the invocation to idle after it, per 10^9 bytes."
    ),
    subject=STREAM_FN,
    reference=NODE,
)

PEAK_RSS = Figure(
    key="peak_rss",
    title="Peak RSS above idle while streaming 200 MiB, python3.14",
    unit="MiB",
    method=(
        "Same runs as the throughput: the process' peak resident set (VmHWM, reset at idle through "
        "/proc/<pid>/clear_refs) minus its resident set at idle, waiting for the invocation."
    ),
    subject=STREAM_FN,
    reference=NODE,
    target=Target(
        "Peak RSS on python3.14 at most 30 MiB above idle", Comparison.AT_MOST, 30.0, relative=False
    ),
)

TIME_TO_FIRST_BYTE = Figure(
    key="time_to_first_byte",
    title="Time to first byte through the function URL, 10 chunks 100 ms apart",
    unit="ms",
    method=(
        "An HTTP client (http.client, a fresh connection per request) sends a GET to the function URL "
        "server of the local emulator (the one `cdk-stream-fn serve` runs), each function warm in its own "
        "sandbox; time from sending the request to the first body byte. The handler writes 10 chunks 100 ms "
        "apart: streamed by stream_fn and by the Node.js client, returned buffered by awslambdaric."
    ),
    subject=STREAM_FN,
    reference=AWSLAMBDARIC,
    target=Target("Time to first byte at most 1/5 of the buffered runtime's", Comparison.AT_MOST, 0.2),
)

URL_REQUEST_CPU = Figure(
    key="url_request_cpu",
    title="Emulator CPU per function URL request, tiny HTTP response",
    unit="µs",
    method=(
        "CPU time of the emulator's event-loop thread (the function URL server, the Runtime API and the "
        "sandbox's supervision, as `cdk-stream-fn serve` runs them) per request, over 200 GETs on one "
        "keep-alive connection to a warm stream_fn function that answers a 2-byte HTTP response. Shown to "
        "keep the emulator's own cost in view; the runtime process' CPU is not in it."
    ),
    subject=STREAM_FN,
    reference=STREAM_FN,
)

SYNTHESIS = Figure(
    key="synthesis",
    title="Synthesis of a one-function stack",
    unit="s",
    method=(
        "A fresh Python process per run builds a CDK app with one stack and synthesizes it: one "
        "`StreamingFunction` against a plain `lambda.Function` + `FunctionUrl` with the same code. Wall "
        "time of the whole process, as `cdk synth` waits for it (imports, jsii start, construction, synth)."
    ),
    subject=STREAMING_STACK,
    reference=PLAIN_STACK,
    target=Target("Synthesis at most 1.3x a plain Function + FunctionUrl stack", Comparison.AT_MOST, 1.3),
)

SYNTHESIS_IN_PROCESS = Figure(
    key="synthesis_in_process",
    title="Construction + synthesis after the imports",
    unit="s",
    method=(
        "Same runs as the synthesis: only the time from the imports being done (aws_cdk, and "
        "cdk_stream_fn for the StreamingFunction stack) to `app.synth()` returning, measured inside the "
        "process. Shown so the shared start-up cost does not hide the construct's own cost; the target "
        "is held against the whole process above."
    ),
    subject=STREAMING_STACK,
    reference=PLAIN_STACK,
)

COMPRESSED_CONTENT_RATE = Figure(
    key="compressed_content_rate",
    title="Content received per second, 50 MB of JSON lines through Lambda's bandwidth shaping",
    unit="MB/s",
    method=(
        "One warm stream_fn function behind the emulator's function URL with Lambda's bandwidth shaping on "
        "(`cdk-stream-fn serve --shape-bandwidth`: 6 MiB at full speed, then 2 MiB/s) streams 50 MB of JSON "
        "lines (about 140 bytes each, 100 per write) with `@streamify_response(compress=True)`; an HTTP "
        "client (http.client) accepts one coding per request and decodes as the bytes arrive. Content "
        "(decoded) MB per second from sending the request to the last byte; MB of 2^20 bytes."
    ),
    subject="gzip",
    reference="identity",
    lower_is_better=False,
    target=Target(
        "Compressed (gzip): at least 5x the content per second of the uncompressed stream",
        Comparison.AT_LEAST,
        5.0,
    ),
)

COMPRESSION_CPU = Figure(
    key="compression_cpu",
    title="Runtime CPU time per MB of content, 50 MB of JSON lines",
    unit="CPU ms/MB",
    method=(
        "Same runs as the content rate: user + system CPU time of the runtime process (Linux schedstat, "
        "read before and after each request) per MB of content. The uncompressed figure is the runtime's "
        "own cost of streaming; the difference is what compressing costs."
    ),
    subject="gzip",
    reference="identity",
)

COMPRESSION_TIME_TO_FIRST_BYTE = Figure(
    key="compression_time_to_first_byte",
    title="Time to first byte, compressed and not, 10 JSON lines 100 ms apart",
    unit="ms",
    method=(
        "A second warm function (same settings) writes 10 JSON lines 100 ms apart with compress=True; the "
        "client asks for one coding per request, interleaved, and times the first decoded content byte from "
        "sending the request. Every write is flushed by the encoder, so compression should hold nothing back."
    ),
    subject="gzip",
    reference="identity",
    target=Target(
        "Time to first byte compressed (gzip) within 1.5x of uncompressed", Comparison.AT_MOST, 1.5
    ),
)

_MANAGED_SETUP = (
    "The emulator's Lambda Managed Instances environment (as `cdk-stream-fn serve` runs a function with a "
    "capacity provider), per-environment concurrency 64; a batch of 64 invocations submitted at once, each a "
    "server-sent-event stream of 50 tokens 20 ms apart from a simulated model (awslambdaric returns the same "
    "tokens buffered). A fresh environment per setup and run, setups interleaved; a warm-up batch first."
)

MANAGED_MEMORY = Figure(
    key="managed_memory",
    title="Managed Instances: memory of the environment, 64 concurrent SSE streams",
    unit="MiB PSS",
    method=(
        f"{_MANAGED_SETUP} The peak, sampled every 100 ms during the measured batch, of the PSS "
        "(/proc/<pid>/smaps_rollup) summed over every process of the runtime's process group: PSS counts a "
        "page shared by n processes as 1/n in each, so forked workers that share pages are not counted twice "
        "as an RSS sum would (the RSS sums are in the notes)."
    ),
    subject=STREAM_FN_EVENT_LOOP,
    reference=AWSLAMBDARIC,
    target=Target(
        "Managed Instances: at most a quarter of the stock client's memory", Comparison.AT_MOST, 0.25
    ),
)

MANAGED_CPU_PER_STREAM = Figure(
    key="managed_cpu_per_stream",
    title="Managed Instances: CPU time per stream, 64 concurrent SSE streams",
    unit="CPU ms",
    method=(
        f"{_MANAGED_SETUP} User + system CPU time of every thread of every process of the runtime's process "
        "group from before to after the measured batch, divided by 64. awslambdaric sends one buffered "
        "response per stream where the others send 50 chunks."
    ),
    subject=STREAM_FN_EVENT_LOOP,
    reference=AWSLAMBDARIC,
)

MANAGED_TIME_TO_FIRST_BYTE = Figure(
    key="managed_time_to_first_byte",
    title="Managed Instances: time to first byte, 64 concurrent SSE streams",
    unit="ms",
    method=(
        f"{_MANAGED_SETUP} Time from submitting an invocation to its first response bytes reaching the "
        "Runtime API (the emulator's stamps), the median of the batch's 64. The reference is the model of "
        "a process per slot running the same streaming code (stream_fn with STREAM_FN_CONCURRENCY=processes); "
        "awslambdaric cannot stream, so its first byte is its last."
    ),
    subject=STREAM_FN_EVENT_LOOP,
    reference=STREAM_FN_PROCESSES,
    target=Target(
        "Managed Instances: time to first byte within 10% of a process per slot", Comparison.AT_MOST, 1.1
    ),
)
