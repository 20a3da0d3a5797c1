"""Reserved concurrency: past it Lambda throttles (429) rather than queues; without it the emulator queues."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

from .harness import ServedEmulator, lambda_client

pytestmark = pytest.mark.timeout(60)

FUNCTIONS = Path(__file__).parent / "functions"


@pytest.fixture(scope="module")
def served() -> Iterator[ServedEmulator]:
    emulator = ServedEmulator(
        [
            FunctionConfig(
                "reserved",
                "handlers.write_sleep_write",
                FUNCTIONS,
                timeout_seconds=30,
                reserved_concurrency=1,
            ),
            FunctionConfig("off", "handlers.hello", FUNCTIONS, reserved_concurrency=0),
            FunctionConfig("queued", "handlers.write_sleep_write", FUNCTIONS, timeout_seconds=30),
        ],
        max_sandboxes=1,
    )
    yield emulator
    emulator.close()


@pytest.fixture(scope="module")
def client(served: ServedEmulator) -> Any:
    return lambda_client(served.endpoint, read_timeout=30)


def start_slow_request(
    served: ServedEmulator, name: str, pause: float
) -> tuple[http.client.HTTPConnection, Any]:
    """A request that is running (its first bytes arrived) and holds its sandbox for `pause` seconds."""
    connection = http.client.HTTPConnection("127.0.0.1", served.port(name), timeout=30)
    connection.request("GET", f"/?pause={pause}")
    response = connection.getresponse()
    assert response.read1(65536) == b"first\n"
    return connection, response


def test_past_its_reserved_concurrency_a_function_is_throttled_on_both_doors(
    served: ServedEmulator, client: Any
) -> None:
    connection, running = start_slow_request(served, "reserved", 3)
    try:
        with pytest.raises(ClientError) as throttled:
            client.invoke(FunctionName="reserved", Payload=b'{"pause": 0}')
        url = httpx.get(served.url("reserved"), timeout=20)
        queued_event = client.invoke(FunctionName="reserved", InvocationType="Event", Payload=b'{"pause": 0}')
        rest = running.read()
    finally:
        connection.close()
    served.idle("reserved")
    afterwards = client.invoke(FunctionName="reserved", Payload=b'{"pause": 0}')

    error = throttled.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["Error"]["Message"] == "Rate Exceeded."
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert url.status_code == 429
    assert url.headers["x-amzn-errortype"] == "TooManyRequestsException"
    assert url.json() == {"Message": "Rate Exceeded."}
    assert queued_event["StatusCode"] == 202
    assert rest == b"second\n"
    assert afterwards["StatusCode"] == 200


def test_reserved_concurrency_zero_throttles_every_request(served: ServedEmulator, client: Any) -> None:
    with pytest.raises(client.exceptions.TooManyRequestsException):
        client.invoke_with_response_stream(FunctionName="off", Payload=b"{}")

    assert httpx.get(served.url("off"), timeout=20).status_code == 429
    assert served.emulator.pools["off"].sandboxes == []


def test_without_a_reservation_requests_past_max_concurrency_wait_their_turn(served: ServedEmulator) -> None:
    connection, running = start_slow_request(served, "queued", 1)
    try:
        waited = httpx.get(served.url("queued") + "?pause=0", timeout=20)
        rest = running.read()
    finally:
        connection.close()

    assert waited.status_code == 200
    assert waited.text == "first\nsecond\n"
    assert rest == b"second\n"
    assert len(served.emulator.pools["queued"].sandboxes) == 1
