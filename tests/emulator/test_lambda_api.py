"""The Lambda API end to end: boto3 with endpoint_url, the emulator, real runtime processes."""

from __future__ import annotations

import base64
import json
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cdk_stream_fn.emulator.front_doors import lambda_api
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

from .harness import ServedEmulator, lambda_client, wait_for_log

pytestmark = pytest.mark.timeout(60)

FUNCTIONS = Path(__file__).parent / "functions"


@pytest.fixture(scope="module")
def served() -> Iterator[ServedEmulator]:
    functions = [
        FunctionConfig("hello", "handlers.hello", FUNCTIONS),
        FunctionConfig("slow", "handlers.write_sleep_write", FUNCTIONS, timeout_seconds=10),
        FunctionConfig("fail-mid", "handlers.fail_mid_stream", FUNCTIONS),
        FunctionConfig("fail-early", "handlers.fail_early", FUNCTIONS),
        FunctionConfig("stalls", "handlers.sleep_forever", FUNCTIONS, timeout_seconds=1),
        FunctionConfig("echo", "handlers.buffered_echo", FUNCTIONS, aliases=("EchoLogicalId",)),
        FunctionConfig("fails", "handlers.buffered_fail", FUNCTIONS),
        FunctionConfig(
            "ric", "handlers.buffered_echo", FUNCTIONS, runtime_command=[sys.executable, "-m", "awslambdaric"]
        ),
        FunctionConfig("bytes", "handlers.stream_bytes", FUNCTIONS, timeout_seconds=20),
    ]
    emulator = ServedEmulator(functions)
    yield emulator
    emulator.close()


@pytest.fixture(scope="module")
def client(served: ServedEmulator) -> Any:
    return lambda_client(served.endpoint, read_timeout=30)


def events(response: dict) -> list[dict]:
    return list(response["EventStream"])


def test_invoke_with_response_stream_returns_every_chunk_and_the_final_event(client: Any) -> None:
    response = client.invoke_with_response_stream(FunctionName="hello", Payload=b"{}")
    received = events(response)

    assert response["StatusCode"] == 200
    assert response["ResponseStreamContentType"] == "text/plain"
    assert response["ExecutedVersion"] == "$LATEST"
    payload = b"".join(e["PayloadChunk"]["Payload"] for e in received if "PayloadChunk" in e)
    assert payload == b"hello world"
    assert received[-1] == {"InvokeComplete": {}}
    assert sum("InvokeComplete" in e for e in received) == 1


def test_chunks_arrive_through_boto3_as_they_are_written(client: Any) -> None:
    response = client.invoke_with_response_stream(FunctionName="slow", Payload=b'{"pause": 1}')
    arrivals = [(time.monotonic(), event) for event in response["EventStream"]]

    chunks = [(at, e["PayloadChunk"]["Payload"]) for at, e in arrivals if "PayloadChunk" in e]
    assert [data for _, data in chunks] == [b"first\n", b"second\n"]
    assert chunks[1][0] - chunks[0][0] > 0.5


def test_a_mid_stream_error_arrives_as_error_code(client: Any) -> None:
    received = events(client.invoke_with_response_stream(FunctionName="fail-mid", Payload=b"{}"))

    assert received[0]["PayloadChunk"]["Payload"] == b"partial output\n"
    complete = received[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Function.ValueError"
    assert complete["ErrorDetails"] == "broke after the first chunk"


def test_an_error_before_any_byte_is_an_invoke_complete_without_payload(client: Any) -> None:
    received = events(client.invoke_with_response_stream(FunctionName="fail-early", Payload=b"{}"))

    assert len(received) == 1
    assert "KeyError" in received[0]["InvokeComplete"]["ErrorCode"]


def test_a_timeout_mid_stream_is_sandbox_timedout(client: Any) -> None:
    received = events(client.invoke_with_response_stream(FunctionName="stalls", Payload=b"{}"))

    assert received[0]["PayloadChunk"]["Payload"] == b"started\n"
    assert received[-1]["InvokeComplete"]["ErrorCode"] == "Sandbox.Timedout"
    assert received[-1]["InvokeComplete"]["ErrorDetails"].endswith("Task timed out after 1.00 seconds")


def test_invoke_returns_a_buffered_payload(client: Any) -> None:
    response = client.invoke(FunctionName="echo", Payload=b'{"x": 1}')

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"echo": {"x": 1}, "function": "echo", "memory": "128"}


def test_invoke_works_with_awslambdaric_too(client: Any) -> None:
    response = client.invoke(FunctionName="ric", Payload=b'{"x": 2}')

    assert json.loads(response["Payload"].read())["echo"] == {"x": 2}


def test_invoke_reports_a_function_error_as_unhandled(client: Any) -> None:
    response = client.invoke(FunctionName="fails", Payload=b"{}")

    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorMessage"] == "handler failed"
    assert error["errorType"] == "RuntimeError"


def test_invoke_of_a_timed_out_function_is_sandbox_timedout(client: Any) -> None:
    response = client.invoke(FunctionName="stalls", Payload=b"{}")

    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "Sandbox.Timedout"


def test_invoke_caps_a_streamed_response_at_the_buffered_limit(client: Any) -> None:
    response = client.invoke(FunctionName="bytes", Payload=json.dumps({"size": 7 * 1024 * 1024}).encode())

    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


def test_functions_are_found_by_arn_and_alias(client: Any) -> None:
    by_arn = client.invoke(FunctionName="arn:aws:lambda:us-east-1:123456789012:function:echo", Payload=b"{}")
    by_alias = client.invoke(FunctionName="EchoLogicalId", Payload=b"{}")
    latest = client.invoke(FunctionName="echo", Qualifier="$LATEST", Payload=b"{}")

    assert [r["StatusCode"] for r in (by_arn, by_alias, latest)] == [200, 200, 200]


def test_an_unknown_function_is_resource_not_found(client: Any) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
        client.invoke_with_response_stream(FunctionName="nope", Payload=b"{}")

    assert "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope" in str(raised.value)


def test_a_payload_over_6_mb_is_request_too_large(client: Any) -> None:
    with pytest.raises(client.exceptions.RequestTooLargeException) as raised:
        client.invoke(FunctionName="echo", Payload=b"x" * (6 * 1024 * 1024 + 1))

    assert "limit 6291456 bytes" in str(raised.value)


def test_event_and_dry_run_invocation_types(client: Any, served: ServedEmulator) -> None:
    event = client.invoke(FunctionName="echo", InvocationType="Event", Payload=b"{}")
    dry_run = client.invoke(FunctionName="echo", InvocationType="DryRun", Payload=b"{}")

    assert event["StatusCode"] == 202
    assert dry_run["StatusCode"] == 204
    served.idle("echo")


def test_log_type_tail_returns_the_functions_output(client: Any) -> None:
    response = client.invoke(FunctionName="fails", LogType="Tail", Payload=b"{}")

    assert "handler failed" in base64.b64decode(response["LogResult"]).decode()


def test_a_bad_client_context_is_rejected(client: Any) -> None:
    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName="echo", ClientContext="not base64!", Payload=b"{}")

    assert raised.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_a_payload_that_is_not_json_is_rejected_as_lambda_does(client: Any) -> None:
    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName="echo", Payload=b"not json")

    assert raised.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert "Could not parse request body into json" in str(raised.value)


def test_a_caller_that_leaves_mid_stream_does_not_stop_the_function(
    client: Any, served: ServedEmulator
) -> None:
    response = client.invoke_with_response_stream(FunctionName="bytes", Payload=b'{"size": 67108864}')
    stream = response["EventStream"]
    first = next(iter(stream))
    stream.close()

    served.idle("bytes")
    again = events(client.invoke_with_response_stream(FunctionName="bytes", Payload=b'{"size": 10}'))

    assert "PayloadChunk" in first
    assert again[0]["PayloadChunk"]["Payload"] == b"\xab" * 10
    assert [sandbox.starts for sandbox in served.emulator.pools["bytes"].sandboxes] == [1]


def test_each_invocation_gets_an_access_log_line(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="cdk_stream_fn.emulator"):
        events(client.invoke_with_response_stream(FunctionName="hello", Payload=b"{}"))
        client.invoke(FunctionName="fails", Payload=b"{}")
        logged = wait_for_log(caplog, "fails: Invoke -> ")

    assert "hello: InvokeWithResponseStream -> 11 bytes" in logged
    assert "fails: Invoke -> " in logged
    assert "· Function.RuntimeError" in logged


@pytest.mark.parametrize(
    ("sent", "received"),
    [
        ('{"custom": {"a": "b"}}', '{"custom": {"a": "b"}}'),
        ('{\n  "custom": {"a": "b"}\n}', '{"custom":{"a":"b"}}'),
        ('{"custom": {"city": "Zürich \u2603"}}', '{"custom":{"city":"Z\\u00fcrich \\u2603"}}'),
    ],
)
def test_a_client_context_reaches_the_runtime_as_a_valid_header_value(sent: str, received: str) -> None:
    encoded = base64.b64encode(sent.encode()).decode()

    assert lambda_api._client_context(encoded) == received
