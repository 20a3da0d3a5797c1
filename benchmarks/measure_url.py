"""Time to first byte through the emulator's function URL, seen by a real HTTP client.

The function is warm (its sandbox started and one request served) before any run is recorded, so the
figure is what streaming changes for every request: when the client gets its first bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import pathlib
import time
import urllib.parse
from collections.abc import Sequence

from benchmarks.measure_runtime import MeasurementError
from benchmarks.runtimes import STREAM_FN, Runtime
from benchmarks.service import EmulatorBackend

REQUEST_TIMEOUT = 30.0
EXPECTED_BODY = b"".join(f"chunk {index}\n".encode() for index in range(10))


#: Requests per run of the emulator's CPU per function URL request.
CPU_REQUESTS = 200


@dataclasses.dataclass(frozen=True)
class UrlRun:
    """One request: milliseconds from sending it to the first body byte and to the last."""

    first_byte_ms: float
    last_byte_ms: float


def _request(url: str, runtime: str) -> UrlRun:
    """GET `url` on a fresh connection; check the status and the whole body."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=REQUEST_TIMEOUT
    )
    try:
        started = time.perf_counter()
        connection.request("GET", "/benchmark?chunks=10")
        response = connection.getresponse()
        first = response.read1(65536)
        first_byte = time.perf_counter()
        body = first + response.read()
        last_byte = time.perf_counter()
    finally:
        connection.close()
    if response.status != 200 or not carries_expected_body(body):
        raise MeasurementError(runtime, f"the function URL answered {response.status} with {body[:200]!r}")
    return UrlRun((first_byte - started) * 1000, (last_byte - started) * 1000)


def url_request_cpu_us(
    runtime: Runtime, backend: EmulatorBackend, runs: int, log_dir: pathlib.Path
) -> list[float]:
    """CPU time of the emulator's thread per function URL request (the URL server, the Runtime API and
    the sandbox's supervision together), over CPU_REQUESTS requests on one keep-alive connection per run,
    to `runtime`'s warm `http_tiny` function."""
    results: list[float] = []
    with backend.function_url(
        name=f"benchmark-cpu-{runtime.name}",
        handler=f"{runtime.handler_module}.http_tiny",
        code_dir=runtime.task_root,
        command=_command(runtime),
        environment=dict(runtime.extra_env),
        log=log_dir / f"{runtime.name}-url-cpu.log",
    ) as url:
        parts = urllib.parse.urlsplit(url)
        connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=REQUEST_TIMEOUT
        )
        try:
            for run in range(runs + 1):  # the first run warms up and is not recorded
                before = backend.server_cpu_seconds()
                for _ in range(CPU_REQUESTS):
                    connection.request("GET", "/cpu")
                    response = connection.getresponse()
                    body = response.read()
                    if response.status != 200 or body != b"ok":
                        raise MeasurementError(
                            runtime.name, f"the function URL answered {response.status} with {body[:200]!r}"
                        )
                spent = backend.server_cpu_seconds() - before
                if run:
                    results.append(spent / CPU_REQUESTS * 1e6)
        finally:
            connection.close()
    return results


def carries_expected_body(body: bytes) -> bool:
    """The 10 chunks, either as the body itself or inside a buffered function-URL response object
    (`{"statusCode", "headers", "body"}`), which the emulator passes through without unpacking it.
    Either way the first byte can only leave once the handler has returned: the figure is unaffected."""
    if body == EXPECTED_BODY:
        return True
    try:
        document = json.loads(body)
    except ValueError:
        return False
    return isinstance(document, dict) and document.get("body", "").encode() == EXPECTED_BODY


def _command(runtime: Runtime) -> list[str] | None:
    """The emulator's runtime command for `runtime`: its own default for stream_fn, else the runtime's
    argv with the handler where the client expects it (the emulator appends it otherwise)."""
    return None if runtime.name == STREAM_FN else runtime.argv("{handler}")


def time_to_first_byte(
    runtimes: Sequence[Runtime], backend: EmulatorBackend, runs: int, log_dir: pathlib.Path
) -> dict[str, list[UrlRun]]:
    """Interleaved requests to each runtime's warm `chunks` function, after one unrecorded request each."""
    results: dict[str, list[UrlRun]] = {runtime.name: [] for runtime in runtimes}
    with contextlib.ExitStack() as stack:
        urls: dict[str, str] = {}
        for runtime in runtimes:
            try:
                urls[runtime.name] = stack.enter_context(
                    backend.function_url(
                        name=f"benchmark-{runtime.name}",
                        handler=f"{runtime.handler_module}.chunks",
                        code_dir=runtime.task_root,
                        command=_command(runtime),
                        environment=dict(runtime.extra_env),
                        log=log_dir / f"{runtime.name}-url.log",
                    )
                )
            except Exception as error:
                raise MeasurementError(runtime.name, f"its function URL did not start: {error}") from error
        for runtime in runtimes:
            _request(urls[runtime.name], runtime.name)
        for _ in range(runs):
            for runtime in runtimes:
                results[runtime.name].append(_request(urls[runtime.name], runtime.name))
    return results
