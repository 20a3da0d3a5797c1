"""When a stream owes a heartbeat or its final event: the schedule's decisions, from times alone."""

from __future__ import annotations

import pytest
from stream_fn.sse_schedule import DEADLINE, HEARTBEAT, KeepAliveSchedule


@pytest.mark.parametrize(
    ("heartbeat", "stop_at", "last_write", "now", "due", "next_due"),
    [
        # heartbeat every 15 s, deadline at 100
        (15.0, 100.0, 0.0, 14.9, None, 15.0),
        (15.0, 100.0, 0.0, 15.0, HEARTBEAT, 15.0),
        (15.0, 100.0, 10.0, 20.0, None, 25.0),  # a write at 10 pushed the heartbeat to 25
        (15.0, 100.0, 90.0, 100.0, DEADLINE, 100.0),  # the deadline comes before the next heartbeat
        (15.0, 100.0, 80.0, 100.0, DEADLINE, 95.0),  # both due: the deadline wins
        (15.0, 100.0, 0.0, 250.0, DEADLINE, 15.0),  # a late timer still ends the stream
        # no heartbeat, no deadline, or neither
        (None, 100.0, 0.0, 99.0, None, 100.0),
        (None, 100.0, 0.0, 100.0, DEADLINE, 100.0),
        (15.0, None, 0.0, 1000.0, HEARTBEAT, 15.0),
        (None, None, 0.0, 1000.0, None, None),
        # a deadline already passed when the stream starts
        (15.0, -1.0, 0.0, 0.0, DEADLINE, -1.0),
    ],
)
def test_what_is_due_and_when_next(
    heartbeat: float | None,
    stop_at: float | None,
    last_write: float,
    now: float,
    due: str | None,
    next_due: float | None,
) -> None:
    schedule = KeepAliveSchedule(0.0, heartbeat, stop_at)
    schedule.wrote(last_write)

    assert schedule.due(now) == due
    assert schedule.next_due() == next_due


def test_every_write_restarts_the_silence() -> None:
    schedule = KeepAliveSchedule(0.0, 1.0, None)
    for now in (0.5, 1.2, 2.0):
        assert schedule.due(now) is None
        schedule.wrote(now)
    assert schedule.due(3.0) == HEARTBEAT
