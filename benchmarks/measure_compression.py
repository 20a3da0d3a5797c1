"""Compression through the emulator's function URL with Lambda's bandwidth shaping (`serve --shape-bandwidth`).

Lambda streams the first 6 MB of a response at full speed and then about 2 MB/s, and nothing in front of
a function URL compresses a stream. So the figure that matters is how much content a client receives per
second when the function compresses (`@streamify_response(compress=True)`), against the same stream sent
as written, and what that costs: the runtime's CPU per MB of content, and the time to first byte.

One warm stream_fn function serves a 50 MB JSON-lines stream (100 lines of about 140 bytes per write, made
once per process before any run) to an HTTP client (http.client) that asks for one coding per request
and decodes what it receives as it arrives; the runtime process' CPU time is read from /proc before and
after each request. A second function writes 10 JSON lines 100 ms apart, for the time to first byte.
"""

from __future__ import annotations

import dataclasses
import http.client
import pathlib
import time
import urllib.parse
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.measure_runtime import MeasurementError
from benchmarks.processes import process_cpu_seconds
from benchmarks.runtimes import Runtime
from benchmarks.service import EmulatorBackend

MB = 1024 * 1024
REQUEST_TIMEOUT = 120.0
IDENTITY = "identity"
PACED_LINES = b"".join(b'{"chunk": %d}\n' % index for index in range(10))


@dataclasses.dataclass(frozen=True)
class CompressedRun:
    """One request for the 50 MB stream in one coding."""

    content_bytes: int
    wire_bytes: int
    seconds: float
    runtime_cpu_seconds: float

    @property
    def content_mb_per_second(self) -> float:
        return self.content_bytes / MB / self.seconds

    @property
    def cpu_ms_per_mb(self) -> float:
        return self.runtime_cpu_seconds * 1000 / (self.content_bytes / MB)

    @property
    def ratio(self) -> float:
        return self.content_bytes / max(self.wire_bytes, 1)


def decoder_for(coding: str) -> Callable[[bytes], bytes]:
    """A streaming decoder of `coding`, as a client has one."""
    if coding == IDENTITY:
        return lambda data: data
    if coding == "gzip":
        return zlib.decompressobj(31).decompress
    if coding == "deflate":
        return zlib.decompressobj(15).decompress
    if coding == "br":
        import brotli  # type: ignore[import-untyped]

        return brotli.Decompressor().process  # type: ignore[no-any-return]
    if coding == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress
    raise ValueError(f"no decoder for {coding!r}")


def _get(url: str, path: str, coding: str) -> tuple[float, float, int, int, str | None]:
    """GET `path` accepting only `coding`; (seconds to the first content byte, to the last, content bytes,
    wire bytes, the Content-Encoding answered)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=REQUEST_TIMEOUT
    )
    try:
        started = time.perf_counter()
        connection.request("GET", path, headers={"Accept-Encoding": coding})
        response = connection.getresponse()
        answered = response.getheader("content-encoding")
        decode = decoder_for(answered or IDENTITY)
        first = 0.0
        content = wire = 0
        while piece := response.read1(1 << 20):
            wire += len(piece)
            decoded = len(decode(piece))
            if decoded and not first:
                first = time.perf_counter()
            content += decoded
        ended = time.perf_counter()
    finally:
        connection.close()
    if response.status != 200:
        raise MeasurementError(coding, f"the function URL answered {response.status}")
    return first - started, ended - started, content, wire, answered


def _check_coding(coding: str, answered: str | None) -> None:
    if (answered or IDENTITY) != coding:
        raise MeasurementError(coding, f"asked for {coding}, the function answered {answered or 'identity'}")


def stream_runs(
    runtime: Runtime, codings: Sequence[str], backend: EmulatorBackend, runs: int, log_dir: pathlib.Path
) -> dict[str, list[CompressedRun]]:
    """`runs` requests per coding for the 50 MB stream, interleaved, after one small unrecorded request each."""
    results: dict[str, list[CompressedRun]] = {coding: [] for coding in codings}
    with backend.served_function(
        name="benchmark-compression",
        handler=f"{runtime.handler_module}.json_lines",
        code_dir=runtime.task_root,
        command=None,
        environment=dict(runtime.extra_env),
        log=log_dir / "compression.log",
        shape_bandwidth=True,
    ) as served:
        if served.runtime_pid is None:
            raise MeasurementError(runtime.name, "the runtime's process id is unknown")
        for coding in codings:  # warm-up: makes the 50 MB once, checks each coding is answered
            *_, answered = _get(served.url, "/?writes=2", coding)
            _check_coding(coding, answered)
        expected: int | None = None
        for _ in range(runs):
            for coding in codings:
                cpu_before = process_cpu_seconds(served.runtime_pid)
                _, seconds, content, wire, answered = _get(served.url, "/", coding)
                cpu = process_cpu_seconds(served.runtime_pid) - cpu_before
                _check_coding(coding, answered)
                if expected is None:
                    expected = content
                if content != expected or content < 50 * MB:
                    raise MeasurementError(coding, f"decoded {content} bytes, expected {expected}")
                results[coding].append(CompressedRun(content, wire, seconds, cpu))
    return results


def time_to_first_byte_runs(
    runtime: Runtime, codings: Sequence[str], backend: EmulatorBackend, runs: int, log_dir: pathlib.Path
) -> dict[str, list[float]]:
    """Milliseconds to the first decoded content byte of 10 lines 100 ms apart, per coding, interleaved."""
    results: dict[str, list[float]] = {coding: [] for coding in codings}
    with backend.served_function(
        name="benchmark-compression-ttfb",
        handler=f"{runtime.handler_module}.json_lines_paced",
        code_dir=runtime.task_root,
        command=None,
        environment=dict(runtime.extra_env),
        log=log_dir / "compression-ttfb.log",
        shape_bandwidth=True,
    ) as served:
        for run in range(runs + 1):  # the first round warms up and is not recorded
            for coding in codings:
                first, _, content, _, answered = _get(served.url, "/", coding)
                _check_coding(coding, answered)
                if content != len(PACED_LINES):
                    raise MeasurementError(coding, f"decoded {content} bytes, expected {len(PACED_LINES)}")
                if run:
                    results[coding].append(first * 1000)
    return results


def measured_codings(available: Sequence[str]) -> list[str]:
    """Uncompressed first (the reference), then gzip, then what else the runtime can produce."""
    return [IDENTITY, "gzip", *(coding for coding in ("zstd", "br") if coding in available)]


def runtime_codings() -> Any:
    """The codings the runtime under test can produce (it runs on this interpreter)."""
    from stream_fn.encoders import available_codings

    return available_codings()
