"""200 MB through `cdk-stream-fn serve` with flat emulator memory; 201 MB is cut at the cap and reported."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from emulator.harness import lambda_client

from .serve_process import REPO, ServeProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

MIB = 1024 * 1024
CAP = 200 * MIB


@pytest.fixture(scope="module")
def serve() -> Iterator[ServeProcess]:
    with ServeProcess(
        "--handler",
        "handlers.stream_bytes",
        "--code",
        str(REPO / "tests/emulator/functions"),
        "--timeout",
        "120",
    ) as process:
        yield process


def read_stream(serve: ServeProcess, size: int) -> tuple[int, float, bool]:
    """GET `size` bytes; return (bytes received, the emulator's peak RSS growth in MiB, whether it ended cleanly)."""
    url = urlsplit(serve.urls["function"])
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    connection.request("GET", f"/?size={size}")
    response = connection.getresponse()
    baseline = serve.rss_mib()
    peak = baseline
    received = 0
    complete = True
    next_sample = 0
    try:
        while data := response.read1(MIB):
            received += len(data)
            if received >= next_sample:
                peak = max(peak, serve.rss_mib())
                next_sample += 8 * MIB
    except http.client.IncompleteRead as truncated:
        received += len(truncated.partial)
        complete = False
    finally:
        connection.close()
    return received, peak - baseline, complete


def test_a_200_mb_stream_passes_with_flat_emulator_memory(serve: ServeProcess) -> None:
    read_stream(serve, 8 * MIB)  # warm the runtime and the emulator's buffers first

    received, growth, complete = read_stream(serve, CAP)

    assert (received, complete) == (CAP, True)
    assert growth < 32, f"the emulator grew by {growth:.1f} MiB while streaming 200 MiB"


def test_201_mb_is_cut_at_200_and_reported(serve: ServeProcess) -> None:
    received, _, complete = read_stream(serve, 201 * MIB)

    assert (received, complete) == (CAP, False)
    assert "Function.ResponseSizeTooLarge" in serve.stderr()

    client = lambda_client(serve.api)
    streamed = 0
    complete_event = None
    for event in client.invoke_with_response_stream(
        FunctionName="function", Payload=b'{"size": %d}' % (201 * MIB)
    )["EventStream"]:
        if "PayloadChunk" in event:
            streamed += len(event["PayloadChunk"]["Payload"])
        else:
            complete_event = event["InvokeComplete"]
    assert streamed == CAP
    assert complete_event is not None
    assert complete_event["ErrorCode"] == "Function.ResponseSizeTooLarge"
    assert "209715200 bytes" in complete_event["ErrorDetails"]
