"""A FastAPI app on stream_fn (``asgi_handler``, in process) against the same app as the Lambda Web Adapter
runs it (uvicorn, plus an adapter that waits for it and proxies every invocation over HTTP).

Both are functions of the local emulator behind its function URL, started by it as Lambda starts a
runtime; the client is http.client. The adapter is modelled (no LWA binary can be fetched here): see
``webapp/lwa_proxy.py`` and ``webapp/lwa_model.sh``. uvicorn serving the app alone, with no Lambda at
all, is measured beside them: no proxy in front of it can answer faster than that plus the emulator.

* Cold start to first byte: a new emulator per run, so the client's first request finds no sandbox;
  time from sending it to the first body byte (process start, imports, lifespan / server start-up and
  readiness polling, the first request).
* Per-request latency: a warm function; the median of many GETs on one keep-alive connection.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import pathlib
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

from benchmarks.measure_runtime import MeasurementError
from benchmarks.references import Log
from benchmarks.service import LoopThread
from benchmarks.stats import Comparison, Figure, Target
from cdk_stream_fn.emulator.app.service import Emulator
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

WEBAPP_DIR = pathlib.Path(__file__).resolve().parent / "webapp"
STREAM_FN_ASGI = "stream_fn_asgi"
LWA_MODEL = "lwa_model"
UVICORN_ALONE = "uvicorn_alone"
BARE_HANDLER = "bare_handler"
LABELS = {
    STREAM_FN_ASGI: "stream_fn asgi_handler",
    LWA_MODEL: "uvicorn + Lambda Web Adapter model",
    BARE_HANDLER: "bare stream_fn handler, no framework",
    UVICORN_ALONE: "uvicorn alone, no Lambda",
}
PATH = "/hello/benchmark?punctuation=%21"
EXPECTED = {"message": "Hello, benchmark!", "name": "benchmark", "length": 17}
REQUEST_TIMEOUT = 60.0

WEBAPP_COLD_START = Figure(
    key="webapp_cold_start",
    title="FastAPI app: cold start to first byte",
    unit="ms",
    method=(
        "A new emulator per run, so the first GET through the function URL starts the function's runtime "
        "process (or processes); time from sending it to the first body byte. stream_fn imports the app and "
        "serves it in process; the Lambda Web Adapter model starts uvicorn and the adapter side by side, "
        "the adapter polls uvicorn every 10 ms until it answers, then proxies the request over HTTP. A bare "
        "stream_fn handler answering the same bytes without any framework shows the floor. Runs "
        "interleaved after one unrecorded run each."
    ),
    subject=STREAM_FN_ASGI,
    reference=LWA_MODEL,
    target=Target("Cold start at most half the Lambda Web Adapter model's", Comparison.AT_MOST, 0.5),
)

WEBAPP_LATENCY = Figure(
    key="webapp_request_latency",
    title="FastAPI app: per-request latency, warm (small JSON response)",
    unit="ms",
    method=(
        "A warm function behind the emulator's function URL; each run is the median time of back-to-back "
        "GETs on one keep-alive http.client connection, from sending the request to the last body byte. "
        "A bare stream_fn handler answering the same bytes without a framework is the emulator's own floor; "
        "'uvicorn alone' is the same app and client with no emulator and no Lambda in between."
    ),
    subject=STREAM_FN_ASGI,
    reference=LWA_MODEL,
    target=Target("Per-request latency below the Lambda Web Adapter model's", Comparison.AT_MOST, 1.0),
)


def unavailable_reason() -> str | None:
    """Why these figures cannot be measured here (FastAPI or uvicorn missing), or None."""
    import importlib.util

    for module, why in (
        ("fastapi", "FastAPI is not installed (run ./dev setup)"),
        ("uvicorn", "uvicorn is not installed (run ./dev setup)"),
    ):
        if importlib.util.find_spec(module) is None:
            return why
    return None


def measure(runs: int, requests_per_run: int, log_dir: pathlib.Path, log: Log) -> list[Figure]:
    """Both figures; a side that fails is named in the figure's notes and left out."""
    problem = unavailable_reason()
    if problem is not None:
        return [
            spec.with_runs({}, LABELS, [f"Not measured: {problem}."])
            for spec in (WEBAPP_COLD_START, WEBAPP_LATENCY)
        ]
    return [
        _figure(WEBAPP_COLD_START, lambda: cold_start_ms(runs, log_dir, log), log),
        _figure(WEBAPP_LATENCY, lambda: request_latency_ms(runs, requests_per_run, log_dir, log), log),
    ]


def _figure(spec: Figure, measure_runs: Callable[[], dict[str, list[float]]], log: Log) -> Figure:
    try:
        return spec.with_runs(measure_runs(), LABELS)
    except MeasurementError as error:
        log(f"left out: {error}")
        return spec.with_runs({}, LABELS, [f"Not measured: {error}."])


def cold_start_ms(runs: int, log_dir: pathlib.Path, log: Log) -> dict[str, list[float]]:
    log(f"FastAPI cold start to first byte: {runs} runs of stream_fn and the Lambda Web Adapter model")
    results: dict[str, list[float]] = {STREAM_FN_ASGI: [], LWA_MODEL: [], BARE_HANDLER: []}
    with contextlib.closing(LoopThread()) as loop:
        for run in range(runs + 1):  # the first round warms the page cache and the byte code, unrecorded
            for name, values in results.items():
                with function_url(loop, name, log_dir, warm=False) as port:
                    started = time.perf_counter()
                    first_byte = _first_byte(port, name)
                if run:
                    values.append((first_byte - started) * 1000)
    return results


def request_latency_ms(
    runs: int, requests_per_run: int, log_dir: pathlib.Path, log: Log
) -> dict[str, list[float]]:
    log(f"FastAPI per-request latency: {runs} runs x {requests_per_run} requests")
    results: dict[str, list[float]] = {STREAM_FN_ASGI: [], LWA_MODEL: [], BARE_HANDLER: [], UVICORN_ALONE: []}
    with contextlib.ExitStack() as stack:
        loop = stack.enter_context(contextlib.closing(LoopThread()))
        ports = {
            name: stack.enter_context(function_url(loop, name, log_dir))
            for name in (STREAM_FN_ASGI, LWA_MODEL, BARE_HANDLER)
        }
        ports[UVICORN_ALONE] = stack.enter_context(uvicorn_alone(log_dir))
        connections = {name: stack.enter_context(_connection(port)) for name, port in ports.items()}
        for name, connection in connections.items():
            _timed_requests(connection, name, 20)  # warm: first requests, connection set up
        for _ in range(runs):
            for name, connection in connections.items():
                results[name].append(
                    statistics.median(_timed_requests(connection, name, requests_per_run)) * 1000
                )
    return results


# -- the functions and the emulator --------------------------------------------------------------------------


@contextlib.contextmanager
def function_url(loop: LoopThread, name: str, log_dir: pathlib.Path, *, warm: bool = True) -> Iterator[int]:
    """Serve function `name` on a function URL of a new emulator, on `loop`; yield its port."""
    with (log_dir / f"webapp-{name}.log").open("a") as sink:
        emulator = Emulator(
            [function_config(name)],
            url_port=0,
            api_port=0,
            log_sink=lambda _, line: print(line, file=sink, flush=True),
        )
        loop.run(emulator.start(), timeout=60)
        try:
            port = emulator.url_servers[name].port
            if warm:
                _first_byte(port, name)
            yield port
        finally:
            loop.run(emulator.stop(), timeout=60)


def function_config(name: str) -> FunctionConfig:
    """stream_fn serving the app in process, the bare handler, or the Lambda Web Adapter model."""
    if name in (STREAM_FN_ASGI, BARE_HANDLER):
        handler = "stream_fn_app.handler" if name == STREAM_FN_ASGI else "bare_handler.handler"
        return FunctionConfig(name, handler, WEBAPP_DIR, timeout_seconds=60, memory_mb=1024)
    return FunctionConfig(
        name,
        "lwa_proxy.handler",
        WEBAPP_DIR,
        environment={"PYTHON": sys.executable, "PORT": str(_free_port())},
        timeout_seconds=60,
        memory_mb=1024,
        runtime_command=["/bin/sh", str(WEBAPP_DIR / "lwa_model.sh"), "{handler}"],
    )


@contextlib.contextmanager
def uvicorn_alone(log_dir: pathlib.Path) -> Iterator[int]:
    """The same app on uvicorn, with the model's command line, no Lambda in front; yield its port."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--app-dir",
        str(WEBAPP_DIR),
        "fastapi_app:app",
    ]
    with (log_dir / f"webapp-{UVICORN_ALONE}.log").open("a") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    _first_byte(port, UVICORN_ALONE)
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise MeasurementError(
                            UVICORN_ALONE, f"uvicorn did not start; see {sink.name}"
                        ) from None
                    time.sleep(0.01)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


# -- the HTTP client ----------------------------------------------------------------------------------------


def _first_byte(port: int, name: str) -> float:
    """GET the app on a new connection; return when its first body byte arrived (perf_counter)."""
    with _connection(port) as connection:
        connection.request("GET", PATH)
        response = connection.getresponse()
        first = response.read1(65536)
        first_byte = time.perf_counter()
        _check(name, response.status, first + response.read())
    return first_byte


@contextlib.contextmanager
def _connection(port: int) -> Iterator[http.client.HTTPConnection]:
    """An HTTP/1.1 connection to the app on `port` (kept alive between requests), closed on exit."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        yield connection
    finally:
        connection.close()


def _timed_requests(connection: http.client.HTTPConnection, name: str, count: int) -> list[float]:
    """Seconds per request, send to last byte, for `count` GETs on `connection`."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request("GET", PATH)
        response = connection.getresponse()
        body = response.read()
        times.append(time.perf_counter() - started)
        _check(name, response.status, body)
    return times


def _check(name: str, status: int, body: bytes) -> None:
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if status != 200 or document != EXPECTED:
        raise MeasurementError(name, f"the app answered {status} with {body[:200]!r}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
