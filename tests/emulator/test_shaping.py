"""Bandwidth shaping: the token bucket's arithmetic, and a shaped stream through the Runtime API."""

from __future__ import annotations

import time

import pytest

from cdk_stream_fn.emulator.sandboxes.shaping import TokenBucket

from .harness import LoopThread, RawRuntime, chunk, streaming_head
from .test_runtime_api import Api

MIB = 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_burst_passes_at_once_then_bytes_wait_for_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(clock=clock)

    assert bucket.delay_for(6 * MIB) == 0.0
    assert bucket.delay_for(2 * MIB) == pytest.approx(1.0)
    assert bucket.delay_for(1 * MIB) == pytest.approx(1.5)


def test_tokens_refill_with_time_up_to_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(clock=clock)
    bucket.delay_for(6 * MIB)

    clock.now += 1.0
    assert bucket.delay_for(2 * MIB) == 0.0
    clock.now += 3600
    assert bucket.delay_for(6 * MIB) == 0.0
    assert bucket.delay_for(1) > 0


def test_rate_and_burst_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate and burst must be positive"):
        TokenBucket(rate=0)


@pytest.mark.timeout(60)
def test_a_shaped_stream_slows_to_the_rate_after_the_burst(loop_thread: LoopThread) -> None:
    """8 MiB with a 6 MiB burst at 2 MiB/s cannot take less than a second (the lower bound is the check)."""
    api = Api(loop_thread, shape_bandwidth=True)
    runtime = RawRuntime(api.server.address)
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]
    block = b"s" * MIB

    async def count_body() -> int:
        await invocation.head()
        return sum([len(data) async for data in invocation.body()])

    started = time.monotonic()
    received = loop_thread.spawn(count_body())
    runtime.start(streaming_head(request_id, "application/octet-stream"))
    for _ in range(8):
        runtime.send(chunk(block))
    runtime.send(b"0\r\n\r\n")
    total = received.result(30)
    elapsed = time.monotonic() - started

    assert total == 8 * MIB
    assert elapsed >= 0.9
    assert runtime.read_reply().status == 202
    runtime.close()
