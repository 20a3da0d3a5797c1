"""A clock that streams one server-sent event a second, so you can watch a response arrive.

    curl -N "$URL?ticks=10"      (locally, through `cdk-stream-fn serve`)

`ticks` (1 to 300, default 30) sets how many `tick` events are sent, then `done`. stream_fn's
server-sent events helper does the rest: the event-stream head, a heartbeat if the clock ever went
quiet, and a clean `deadline` event instead of a cut-off stream when the function is about to time
out. A browser's EventSource then reconnects by itself, sending the last tick's id as
`Last-Event-ID`, and the clock carries on from the next tick.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from stream_fn import ServerSentEvent, last_event_id, sse_response

DEFAULT_TICKS = 30
MAX_TICKS = 300
TICK_SECONDS = 1


def requested_ticks(event: dict[str, Any]) -> int:
    """The `ticks` query parameter, clamped to 1..MAX_TICKS; the default when absent or not a number."""
    raw = (event.get("queryStringParameters") or {}).get("ticks", "")
    try:
        return min(max(int(raw), 1), MAX_TICKS)
    except ValueError:
        return DEFAULT_TICKS


def resumed_after(event: dict[str, Any]) -> int:
    """The tick a reconnecting client saw last (its `Last-Event-ID`), or 0 for a new client."""
    seen = last_event_id(event) or ""
    return min(int(seen), MAX_TICKS) if seen.isdigit() else 0


@sse_response
def handler(event: dict[str, Any], context: Any) -> Iterator[ServerSentEvent]:
    """A `tick` event every TICK_SECONDS, then `done`; each reaches the client as it is yielded."""
    ticks = requested_ticks(event)
    after = resumed_after(event)
    for tick in range(after + 1, ticks + 1):
        if tick > after + 1:
            time.sleep(TICK_SECONDS)  # the helper's heartbeat and deadline keep running meanwhile
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        yield ServerSentEvent(json={"tick": tick, "of": ticks, "time": now}, event="tick", id=tick)
    yield ServerSentEvent("{}", event="done")
