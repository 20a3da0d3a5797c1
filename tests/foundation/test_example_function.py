"""The example app's clock, run as `serve` runs it: server-sent events a second apart, a clean deadline, resuming."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from emulator.harness import ServedEmulator
from sse.event_stream_parser import read_stream

from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

CLOCK = Path(__file__).resolve().parents[2] / "functions" / "clock"
#: Long enough for a few ticks, short enough to reach the deadline (2 s before the timeout) quickly.
TIMEOUT_SECONDS = 4.5


@pytest.fixture(scope="module")
def clock() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_clock", CLOCK / "index.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def served() -> Iterator[ServedEmulator]:
    emulator = ServedEmulator(
        [FunctionConfig("clock", "index.handler", CLOCK, timeout_seconds=TIMEOUT_SECONDS)]
    )
    try:
        yield emulator
    finally:
        emulator.close()


def test_ticks_once_a_second_then_says_done(served: ServedEmulator) -> None:
    read = read_stream(served.url("clock") + "?ticks=2")

    assert read.status == 200 and read.complete, read.error
    assert read.headers["content-type"] == "text/event-stream"
    assert [event.type for event in read.events] == ["tick", "tick", "done"]
    first, second, _ = read.events
    assert [json.loads(event.data)["tick"] for event in (first, second)] == [1, 2]
    assert [event.last_event_id for event in (first, second)] == ["1", "2"]
    assert second.arrived - first.arrived >= 0.9  # one second apart: the first was not held back


def test_ends_cleanly_before_the_deadline(served: ServedEmulator) -> None:
    read = read_stream(served.url("clock") + "?ticks=100")

    assert read.complete, read.error  # a complete response, not one cut off by the timeout
    assert read.events[-1].type == "deadline"
    assert {event.type for event in read.events[:-1]} == {"tick"}


def test_a_reconnecting_client_carries_on_from_the_next_tick(served: ServedEmulator) -> None:
    read = read_stream(served.url("clock") + "?ticks=6", headers={"Last-Event-ID": "5"})

    assert [(event.type, event.last_event_id) for event in read.events] == [("tick", "6"), ("done", "6")]


def test_the_handler_is_a_server_sent_events_generator(clock: ModuleType) -> None:
    generator = clock.handler.event_source
    items = list(generator({"queryStringParameters": {"ticks": "1"}}, None))

    assert [item.event for item in items] == ["tick", "done"]
    assert items[0].id == "1" and json.loads(items[0].data)["of"] == 1


@pytest.mark.parametrize(("raw", "ticks"), [("5", 5), ("0", 1), ("100000", 300), ("soon", 30), (None, 30)])
def test_ticks_parameter_is_clamped(clock: ModuleType, raw: str | None, ticks: int) -> None:
    event = {"queryStringParameters": {"ticks": raw} if raw is not None else None}
    assert clock.requested_ticks(event) == ticks


@pytest.mark.parametrize(
    ("header", "after"), [("7", 7), ("", 0), ("x", 0), ("-1", 0), ("9999", 300), (None, 0)]
)
def test_resuming_reads_the_last_event_id(clock: ModuleType, header: str | None, after: int) -> None:
    event = {"headers": {"last-event-id": header} if header is not None else {}}
    assert clock.resumed_after(event) == after
