"""The example app's Starlette function (functions/events), served by the emulator as `serve` serves it."""

from __future__ import annotations

import httpx
import pytest
from emulator.harness import ServedEmulator, event_data

from .conftest import read_event_stream

pytestmark = pytest.mark.timeout(60)


def test_the_example_streams_its_job_log_event_by_event(served: ServedEmulator) -> None:
    response, blocks = read_event_stream(served.port("example"), "/events?steps=3")

    steps = [event_data(block) for _, block in blocks if "event: step" in block]
    assert response.status == 200
    assert response.getheader("content-type") == "text/event-stream; charset=utf-8"
    assert [step["step"] for step in steps] == [1, 2, 3]
    assert all(step["of"] == 3 and step["sandbox_age_s"] >= 0 for step in steps)
    assert blocks[-1][1] == "event: done\ndata: {}"
    assert blocks[1][0] - blocks[0][0] > 0.25  # STEP_SECONDS apart, as produced


def test_the_example_serves_its_page(served: ServedEmulator) -> None:
    response = httpx.get(served.url("example"), timeout=20)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert 'new EventSource("events"' in response.text
