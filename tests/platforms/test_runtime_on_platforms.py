"""The runtime in Lambda's interpreters and architectures, against the emulator, as Lambda starts it:
`/var/runtime/bootstrap` -> `/opt/stream-fn` (the layer as the construct stages it) -> `python3.X -m stream_fn`.

Streams go through the function URL (httpx, http.client) and the Lambda API (boto3), so every byte
crossed the root's boundary: the runtime reached the emulator's Runtime API on 127.0.0.1 from inside.
"""

from __future__ import annotations

import http.client
import json
import re
from typing import Any

import httpx
import pytest
from emulator import harness

from .conftest import NATIVE, PLATFORMS, ServeStyles

pytestmark = pytest.mark.timeout(180)

MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}


def expected_where(platform: str) -> re.Pattern[str]:
    """What `styles.where()` prints on `platform`: version, machine, task root, execution env."""
    runtime, architecture = platform.split("/")
    version = runtime.removeprefix("python")
    return re.compile(
        rf"{re.escape(version)}\.\d+ {MACHINES[architecture]} /var/task AWS_Lambda_{re.escape(runtime)}"
    )


def lambda_client(endpoint: str) -> Any:
    return harness.lambda_client(endpoint, read_timeout=120)


def stream_events(endpoint: str, name: str) -> list[dict[str, Any]]:
    response = lambda_client(endpoint).invoke_with_response_stream(FunctionName=name, Payload=b"{}")
    return list(response["EventStream"])


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_node_style_handler_streams_each_write(styles_on: ServeStyles, platform: str) -> None:
    served = styles_on(platform)
    response = httpx.get(served.url("node-style"), timeout=120)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain"
    where, *rest = response.text.splitlines()
    assert expected_where(platform).fullmatch(where), where
    assert rest == ["bytes", "bytearray"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_http_prelude_sets_status_headers_and_cookies(styles_on: ServeStyles, platform: str) -> None:
    served = styles_on(platform)
    response = httpx.get(served.url("http-prelude") + "some/path", timeout=120)

    assert response.status_code == 201
    assert expected_where(platform).fullmatch(response.headers["x-platform"])
    assert response.headers.get_list("set-cookie") == ["a=1"]
    runtime = platform.split("/")[0]
    assert response.json() == {"path": "/some/path", "executable": f"/usr/bin/{runtime}"}


@pytest.mark.parametrize("platform", NATIVE)
def test_the_prelude_is_sent_for_an_empty_body(styles_on: ServeStyles, platform: str) -> None:
    response = httpx.get(styles_on(platform).url("empty-body"), timeout=60)

    assert response.status_code == 204
    assert response.headers["x-empty"] == "yes"
    assert response.content == b""


@pytest.mark.parametrize("platform", NATIVE)
def test_a_generator_streams_server_sent_events(styles_on: ServeStyles, platform: str) -> None:
    response = httpx.get(styles_on(platform).url("generator"), timeout=60)

    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    events = [block.removeprefix("data: ") for block in response.text.split("\n\n") if block]
    assert expected_where(platform).fullmatch(events[0])
    assert events[1:] == ["0", "1", "2"]


@pytest.mark.parametrize("platform", NATIVE)
def test_an_async_handler_runs_on_the_runtimes_event_loop(styles_on: ServeStyles, platform: str) -> None:
    response = httpx.get(styles_on(platform).url("async"), timeout=60)

    where, loop = response.text.splitlines()
    assert expected_where(platform).fullmatch(where)
    assert loop.startswith("loop ") and "EventLoop" in loop


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_async_generator_streams_with_its_status(styles_on: ServeStyles, platform: str) -> None:
    response = httpx.get(styles_on(platform).url("async-generator"), timeout=120)

    assert response.status_code == 202
    where, *numbers = response.text.splitlines()
    assert expected_where(platform).fullmatch(where)
    assert numbers == ["0", "1", "2"]


@pytest.mark.parametrize(
    ("platform", "name"), [(p, "buffered") for p in PLATFORMS] + [(p, "buffered-async") for p in NATIVE]
)
def test_a_buffered_handler_answers_as_under_the_stock_client(
    styles_on: ServeStyles, platform: str, name: str
) -> None:
    response = lambda_client(styles_on(platform).endpoint).invoke(FunctionName=name, Payload=b"{}")
    payload = json.loads(response["Payload"].read())

    assert "FunctionError" not in response
    assert expected_where(platform).fullmatch(payload.pop("where"))
    assert payload == ({"remaining_ms_positive": True} if name == "buffered" else {"async": True})


@pytest.mark.parametrize("platform", NATIVE)
def test_an_error_before_the_first_byte_is_a_function_error(styles_on: ServeStyles, platform: str) -> None:
    served = styles_on(platform)

    assert httpx.get(served.url("fails-before"), timeout=60).status_code == 502
    events = stream_events(served.endpoint, "fails-before")
    assert [list(event) for event in events] == [["InvokeComplete"]]
    assert events[0]["InvokeComplete"]["ErrorCode"] == "Function.KeyError"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_error_after_the_first_byte_travels_as_trailers(styles_on: ServeStyles, platform: str) -> None:
    served = styles_on(platform)
    events = stream_events(served.endpoint, "fails-after")

    assert b"".join(event["PayloadChunk"]["Payload"] for event in events[:-1]) == b"partial\n"
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Function.ValueError"
    assert "broke after the first chunk" in complete["ErrorDetails"]

    connection = http.client.HTTPConnection("127.0.0.1", served.port("fails-after"), timeout=60)
    connection.request("GET", "/")
    response = connection.getresponse()
    with pytest.raises(http.client.IncompleteRead) as cut_off:
        response.read()
    connection.close()
    assert (response.status, cut_off.value.partial) == (200, b"partial\n")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_init_error_is_reported_with_its_message(styles_on: ServeStyles, platform: str) -> None:
    response = lambda_client(styles_on(platform).endpoint).invoke(FunctionName="broken-init", Payload=b"{}")
    error = json.loads(response["Payload"].read())

    assert response["FunctionError"] == "Unhandled"
    # As awslambdaric reports an exception raised while the handler's module runs: by its own type.
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "the module cannot start")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_asgi_lifespan_state_reaches_requests(styles_on: ServeStyles, platform: str) -> None:
    response = httpx.get(styles_on(platform).url("lifespan") + "state", timeout=120)

    assert response.status_code == 200
    machine = MACHINES[platform.split("/")[1]]
    assert response.json() == {"state": {"started_on": machine}, "path": "/state"}


@pytest.mark.parametrize(
    ("platform", "log_format"), [(p, "text") for p in NATIVE] + [(p, "json") for p in PLATFORMS]
)
def test_logs_carry_the_request_id_in_the_configured_format(
    styles_on: ServeStyles, platform: str, log_format: str
) -> None:
    served = styles_on(platform)
    name = f"logs-{log_format}"
    response = lambda_client(served.endpoint).invoke(FunctionName=name, Payload=b"{}")
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert json.loads(response["Payload"].read()) == "logged"

    lines = served.lines_of(name, until="info from")
    assert "printed line" in lines
    assert not any("debug is below the level" in line for line in lines)
    if log_format == "text":
        info = next(line for line in lines if "info from" in line)
        assert re.fullmatch(rf"\[INFO\]\t\S+Z\t{request_id}\tinfo from .+", info)
    else:
        records = [json.loads(line) for line in lines if line.startswith("{")]
        record = next(record for record in records if record.get("message", "").startswith("info from"))
        assert (record["level"], record["logger"], record["requestId"]) == ("INFO", "styles", request_id)
        assert expected_where(platform).fullmatch(record["message"].removeprefix("info from "))
