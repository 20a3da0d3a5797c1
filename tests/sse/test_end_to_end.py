"""Server-sent events end to end: real runtime processes behind the emulator's function URLs, read by httpx.

Every handler style (generator, async generator, a handler that writes itself, its async form)
must give a client the same stream: the head at once, each event as it is produced, heartbeats in
the silences, resuming after ``Last-Event-ID``, and at the deadline a final event and a complete
response instead of a cut one. Time bounds are lower bounds on gaps the handlers themselves sleep,
so a slow machine cannot make them fail.
"""

from __future__ import annotations

import json

import pytest
from emulator.harness import ServedEmulator

from .conftest import function_log
from .event_stream_parser import Comment, ParsedEvent, read_stream
from .idle_proxy import IdleTimeoutProxy

pytestmark = pytest.mark.timeout(90)

STYLES = ["ticks", "async-ticks", "plain-ticks", "async-plain-ticks"]


def ticks_of(events: list[ParsedEvent]) -> list[dict[str, int]]:
    return [json.loads(event.data) for event in events if event.type == "tick"]


@pytest.mark.parametrize("style", STYLES)
def test_every_handler_style_streams_events_as_they_happen(served: ServedEmulator, style: str) -> None:
    read = read_stream(served.url(style) + "?count=3&pause=0.6")

    assert read.status == 200 and read.complete, read.error
    assert read.headers["content-type"] == "text/event-stream"
    assert read.headers["cache-control"] == "no-cache"
    assert read.headers["x-accel-buffering"] == "no"
    assert read.parser.retry == 200
    assert [event.type for event in read.events] == ["tick", "tick", "tick", "done"]
    assert [tick["n"] for tick in ticks_of(read.events)] == [1, 2, 3]
    assert [event.last_event_id for event in read.events] == ["1", "2", "3", "3"]
    first, _, third, _ = read.events
    assert third.arrived - first.arrived > 0.9  # produced 1.2 s apart, so not held back and sent together


@pytest.mark.parametrize("style", STYLES)
def test_heartbeats_fill_the_silences_between_events(served: ServedEmulator, style: str) -> None:
    read = read_stream(served.url(style) + "?count=2&pause=1.5")

    sequence = read.parser.sequence
    tick_positions = [index for index, part in enumerate(sequence) if isinstance(part, ParsedEvent)]
    between = sequence[tick_positions[0] + 1 : tick_positions[1]]
    assert len(between) >= 2 and all(isinstance(part, Comment) for part in between)
    assert read.events[-1].type == "done" and read.complete


@pytest.mark.parametrize("style", STYLES)
def test_a_reconnecting_client_resumes_after_its_last_event_id(served: ServedEmulator, style: str) -> None:
    read = read_stream(served.url(style) + "?count=5", headers={"Last-Event-ID": "3"})

    assert ticks_of(read.events) == [{"n": 4, "resumed_after": 3}, {"n": 5, "resumed_after": 3}]
    assert read.events[-1].type == "done"


def test_the_head_arrives_before_the_first_event(served: ServedEmulator) -> None:
    read = read_stream(served.url("ticks") + "?count=2&pause=1")

    first_arrival, first_bytes = read.chunks[0]
    assert first_bytes.startswith(b"retry: 200\n\n")
    assert read.events[1].arrived - first_arrival > 0.5  # the head and retry did not wait for tick 2


def test_a_generator_that_would_run_forever_ends_cleanly_at_its_deadline(served: ServedEmulator) -> None:
    read = read_stream(served.url("endless"))

    assert read.complete, read.error  # a complete response, not one the timeout cut off
    assert read.events[-1] == ParsedEvent(
        "deadline", "", read.events[-2].last_event_id, read.events[-1].arrived
    )
    ticks = ticks_of(read.events)
    assert len(ticks) >= 2 and [tick["n"] for tick in ticks] == list(range(1, len(ticks) + 1))
    lines = function_log(served, "endless", "endless: closed after tick")
    assert f"endless: closed after tick {len(ticks) + 1}" in lines  # closed at the yield after the deadline


def test_an_async_generator_waiting_at_the_deadline_is_cancelled(served: ServedEmulator) -> None:
    read = read_stream(served.url("async-endless"))

    assert read.complete, read.error
    assert [(event.type, event.data) for event in read.events] == [("message", "waiting"), ("deadline", "")]
    lines = function_log(served, "async-endless", "cancelled at the deadline")
    assert any("async_endless: cancelled at the deadline" in line for line in lines)


def test_a_stuck_handler_still_gives_the_client_a_complete_stream(served: ServedEmulator) -> None:
    read = read_stream(served.url("stuck"))

    assert read.complete, read.error
    assert [(event.type, event.data) for event in read.events] == [
        ("message", "before the hang"),
        ("deadline", ""),
    ]


def test_behind_a_proxy_that_drops_quiet_responses_the_heartbeat_keeps_the_stream_open(
    served: ServedEmulator,
) -> None:
    proxy = IdleTimeoutProxy(served.port("site"), idle_seconds=1.0)
    try:
        kept = read_stream(proxy.url("/ticks?count=3&pause=2"))
        cut = read_stream(proxy.url("/silent?count=3&pause=2"))
    finally:
        proxy.close()

    assert kept.complete, kept.error
    assert [event.type for event in kept.events] == ["tick", "tick", "tick", "done"]
    assert not cut.complete  # the same stream without heartbeats: dropped after its first event
    assert [tick["n"] for tick in ticks_of(cut.events)] == [1]
