"""When an event stream owes its client a heartbeat or its final event, from times alone: no clock, no I/O.

An event stream has two duties besides the handler's events. A **heartbeat** goes out when nothing
was written for ``heartbeat`` seconds, so that proxies which drop idle responses keep it open. The
**deadline** comes ``margin`` seconds before the invocation's own: then the stream sends its final
event and ends, so the client gets a complete response instead of one cut off by the timeout.

:class:`KeepAliveSchedule` only answers "what is due now, and when is the next thing due"; the
timers in :mod:`stream_fn.sse_timers` ask it, and :class:`stream_fn.sse.ServerSentEvents` does the
writing. Times are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

HEARTBEAT = "heartbeat"
DEADLINE = "deadline"


class KeepAliveSchedule:
    """The heartbeat and deadline of one event stream.

    :param started_at: when the stream started (counts as its first write).
    :param heartbeat: seconds of silence before a heartbeat, or None for none.
    :param stop_at: when the stream must end, or None for never.
    """

    __slots__ = ("heartbeat", "last_write", "stop_at")

    def __init__(self, started_at: float, heartbeat: float | None, stop_at: float | None) -> None:
        self.last_write = started_at
        self.heartbeat = heartbeat
        self.stop_at = stop_at

    def wrote(self, now: float) -> None:
        """Something was sent at ``now``: the next heartbeat is a whole interval away."""
        self.last_write = now

    def due(self, now: float) -> str | None:
        """What is due at ``now``: :data:`DEADLINE` (it wins), :data:`HEARTBEAT`, or None."""
        if self.stop_at is not None and now >= self.stop_at:
            return DEADLINE
        if self.heartbeat is not None and now >= self.last_write + self.heartbeat:
            return HEARTBEAT
        return None

    def next_due(self) -> float | None:
        """When the next heartbeat or the deadline is due, whichever comes first; None if neither ever is."""
        times = []
        if self.heartbeat is not None:
            times.append(self.last_write + self.heartbeat)
        if self.stop_at is not None:
            times.append(self.stop_at)
        return min(times) if times else None
