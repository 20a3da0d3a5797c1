"""The runtime on Lambda Managed Instances, as a real process against the fake Runtime API.

What the stock client does on Managed Instances and stream_fn does too (awslambdaric 4.x
``lambda_runtime_client.LambdaMultiConcurrentRuntimeClient``, ``lambda_multi_concurrent_utils``): ``GET
/next`` retried with backoff, reports the Runtime API refuses never stop the runtime, JSON logs, worker
processes that log through the socket Lambda names. End-to-end concurrency is in
``tests/emulator/test_managed_instances.py``.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
from pathlib import Path

import pytest

from .conftest import StartRuntime
from .fake_runtime_api import FakeRuntimeApi, RecordedRequest

pytestmark = pytest.mark.timeout(60)

HANDLERS = ["slots.async_handler", "slots.sync_handler"]


def managed(slots: int = 2, **extra: str) -> dict[str, str]:
    return {"AWS_LAMBDA_MAX_CONCURRENCY": str(slots), **extra}


@pytest.mark.parametrize("handler", HANDLERS)
def test_next_is_retried_with_backoff(
    handler: str, fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    fake_api.next_statuses = [(500, b'{"errorType":"Boom"}'), (500, b'{"errorType":"Boom"}')]
    runtime = start_runtime(handler, **managed(1))

    answer = fake_api.invoke({})

    assert json.loads(answer.body)["request_id"] == answer.target.split("/")[-2]
    _, stderr = runtime.stop()
    assert "trying again in 0.1 s" in stderr and "trying again in 0.2 s" in stderr


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_slot_gives_up_after_five_failed_attempts(
    handler: str, fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    fake_api.next_statuses = [(500, b"{}")] * 5
    runtime = start_runtime(handler, **managed(1))

    assert runtime.wait() == 1
    _, stderr = runtime.stop()
    assert stderr.count("trying again in") == 4
    assert (
        "an invocation slot stops: the Runtime API answered GET /runtime/invocation/next with HTTP 500"
        in stderr
    )


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_refused_report_does_not_stop_the_runtime(
    handler: str, fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    refused: list[str] = []

    def answer(request: RecordedRequest) -> tuple[int, bytes]:
        if not refused:
            refused.append(request.target)
            return 500, b'{"errorType":"ServiceException"}'
        return 202, b'{"status":"OK"}'

    fake_api.response_status = answer
    runtime = start_runtime(handler, **managed(1))

    fake_api.invoke({})  # answered 500
    second = fake_api.invoke({})

    assert json.loads(second.body)["request_id"] in second.target
    assert runtime.popen.poll() is None


@pytest.mark.parametrize("handler", HANDLERS)
def test_each_invocation_reads_its_trace_id_from_its_scope_not_the_environment(
    handler: str, fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    start_runtime(handler, **managed(2))
    first = fake_api.push({"sleep": 0.2}, trace_id="Root=1-aaaaaaaa-first")
    second = fake_api.push({}, trace_id="Root=1-bbbbbbbb-second")

    seen = {rid: json.loads(fake_api.wait_for_result(rid).body) for rid in (first, second)}

    assert seen[first]["scope_trace_id"] == "Root=1-aaaaaaaa-first"
    assert seen[second]["scope_trace_id"] == "Root=1-bbbbbbbb-second"
    assert all(answer["scope_request_id"] == rid for rid, answer in seen.items())
    assert all(answer["env_trace_id"] is None for answer in seen.values())


def test_logs_are_json_with_the_request_id_whatever_the_log_format_says(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    runtime = start_runtime(
        "slots.async_handler", AWS_LAMBDA_LOG_FORMAT="Text", AWS_LAMBDA_LOG_LEVEL="INFO", **managed(2)
    )
    request_id = fake_api.push({})
    fake_api.wait_for_result(request_id)

    stdout, _ = runtime.stop()
    records = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert {"level": "INFO", "message": f"serving {request_id}", "requestId": request_id}.items() <= records[
        0
    ].items()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "AWS_LAMBDA_MAX_CONCURRENCY",
            "many",
            "AWS_LAMBDA_MAX_CONCURRENCY must be a whole number of 1 or more, got 'many'",
        ),
        (
            "STREAM_FN_CONCURRENCY",
            "fibers",
            "STREAM_FN_CONCURRENCY must be in-process or processes, got 'fibers'",
        ),
    ],
)
def test_a_concurrency_setting_lambda_never_sets_is_an_init_error_that_names_it(
    variable: str, value: str, message: str, fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    settings = managed(2)
    settings[variable] = value
    runtime = start_runtime("slots.async_handler", **settings)

    report = fake_api.wait_for(lambda request: request.target.endswith("/init/error"))

    assert report.header("Lambda-Runtime-Function-Error-Type") == "Runtime.InvalidEnvironment"
    assert json.loads(report.body)["errorMessage"] == message
    assert runtime.wait() == 1


class LogSocket:
    """A Unix socket server like the one `_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET` names: it keeps what
    each connection writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.received: list[bytes] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(16)
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            index = len(self.received)
            with self._lock:
                self.received.append(b"")
            threading.Thread(target=self._read, args=(connection, index), daemon=True).start()

    def _read(self, connection: socket.socket, index: int) -> None:
        with connection:
            while data := connection.recv(65536):
                with self._lock:
                    self.received[index] += data

    def close(self) -> None:
        self._server.close()


def test_worker_processes_log_through_the_socket_lambda_names(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, tmp_path: Path
) -> None:
    logs = LogSocket(tmp_path / "logs.sock")
    try:
        runtime = start_runtime(
            "slots.sync_handler",
            AWS_LAMBDA_LOG_LEVEL="INFO",
            _LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET=str(logs.path),
            STREAM_FN_CONCURRENCY="processes",
            **managed(2),
        )
        fake_api.wait_for_next_calls(2)
        answers = [json.loads(fake_api.invoke({}).body) for _ in range(4)]
        stdout, _ = runtime.stop()
    finally:
        logs.close()

    assert len(logs.received) == 4  # stdout and stderr of each of the two workers
    logged = b"".join(logs.received).decode()
    for answer in answers:
        assert f'"requestId": "{answer["request_id"]}"' in logged
        assert answer["env_trace_id"] == answer["scope_trace_id"]  # one invocation per process at a time
    assert stdout == ""  # nothing went to the parent's stdout


def test_a_context_variable_an_invocation_sets_does_not_reach_the_next_one_on_its_slot(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    start_runtime("slots.context_var_handler", **managed(1))

    answers = [json.loads(fake_api.invoke({}).body) for _ in range(3)]

    assert answers == [{"seen": None}] * 3


@pytest.mark.parametrize("handler", ["steps.streamed_compressed", "steps.streamed_async_compressed"])
def test_streams_are_compressed_and_measured_on_threads_and_on_the_event_loop(
    handler: str, fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    runtime = start_runtime(handler, STREAM_FN_METRICS="emf", **managed(2))
    event = {
        "version": "2.0",
        "rawPath": "/",
        "headers": {"accept-encoding": "gzip"},
        "requestContext": {"http": {"method": "GET", "path": "/"}},
        "steps": [
            ["http", {"statusCode": 200, "headers": {"content-type": "text/html"}}],
            ["write", "<p>hi</p>"],
        ],
    }

    answer = fake_api.invoke(event)
    fake_api.wait_for_next_calls(3)  # the record is written before the slot asks again
    stdout, _ = runtime.stop()

    assert json.loads(answer.chunks[0])["headers"]["content-encoding"] == "gzip"
    assert gzip.decompress(b"".join(answer.chunks[2:])) == b"<p>hi</p>"
    (record,) = [json.loads(line) for line in stdout.splitlines() if line.startswith('{"_aws"')]
    assert record["requestId"] == answer.target.split("/")[-2]
    assert record["BodyBytes"] == len(b"<p>hi</p>") and record["contentEncoding"] == "gzip"
