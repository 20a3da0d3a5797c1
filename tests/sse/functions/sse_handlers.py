"""Server-sent events handlers the end-to-end tests run in real runtime processes behind the emulator.

Query parameters shape each run: ``count`` events in all, ``per`` events per connection (then the
stream ends and a browser reconnects with ``Last-Event-ID``), ``pause`` seconds between events.
Every tick names the id it resumed after, so a test sees what the client sent back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from stream_fn import (
    HttpResponseStream,
    ServerSentEvent,
    ServerSentEvents,
    last_event_id,
    sse_response,
    streamify_response,
)


def _query(event: dict[str, Any], name: str, default: str) -> str:
    return (event.get("queryStringParameters") or {}).get(name) or default


class Plan:
    """Which ticks this invocation sends: after the client's last id, up to ``per`` of them."""

    def __init__(self, event: dict[str, Any], resumed_after: str | None) -> None:
        self.count = int(_query(event, "count", "3"))
        self.pause = float(_query(event, "pause", "0"))
        self.after = int(resumed_after or 0)
        self.last = min(self.count, self.after + int(_query(event, "per", str(self.count))))

    def ticks(self) -> range:
        return range(self.after + 1, self.last + 1)

    def tick(self, n: int) -> ServerSentEvent:
        return ServerSentEvent(json={"n": n, "resumed_after": self.after}, event="tick", id=n)

    def done(self) -> ServerSentEvent | None:
        return ServerSentEvent("", event="done") if self.last == self.count else None


@sse_response(heartbeat=0.25, retry=200)
def ticks(event: dict[str, Any], context: Any) -> Iterator[ServerSentEvent]:
    """A synchronous generator that blocks (time.sleep) between events."""
    plan = Plan(event, last_event_id(event))
    for n in plan.ticks():
        if n > plan.after + 1:
            time.sleep(plan.pause)
        yield plan.tick(n)
    done = plan.done()
    if done is not None:
        yield done


@sse_response(heartbeat=0.25, retry=200)
async def async_ticks(event: dict[str, Any], context: Any) -> AsyncIterator[ServerSentEvent]:
    """An async generator that awaits between events."""
    plan = Plan(event, last_event_id(event))
    for n in plan.ticks():
        if n > plan.after + 1:
            await asyncio.sleep(plan.pause)
        yield plan.tick(n)
    done = plan.done()
    if done is not None:
        yield done


@streamify_response
def plain_ticks(event: dict[str, Any], response_stream: Any, context: Any) -> None:
    """A handler that writes itself, waiting with events.sleep()."""
    with ServerSentEvents(response_stream, event, context, heartbeat=0.25, retry=200) as events:
        plan = Plan(event, events.last_event_id)
        for n in plan.ticks():
            if n > plan.after + 1 and not events.sleep(plan.pause):
                return
            events.send(plan.tick(n))
        done = plan.done()
        if done is not None:
            events.send(done)


@streamify_response
async def async_plain_ticks(event: dict[str, Any], response_stream: Any, context: Any) -> None:
    """An async handler that writes itself, waiting with await events.asleep()."""
    with ServerSentEvents(response_stream, event, context, heartbeat=0.25, retry=200) as events:
        plan = Plan(event, events.last_event_id)
        for n in plan.ticks():
            if n > plan.after + 1 and not await events.asleep(plan.pause):
                return
            events.send(plan.tick(n))
        done = plan.done()
        if done is not None:
            events.send(done)


@sse_response(heartbeat=None, deadline_margin=1.0)
def endless(event: dict[str, Any], context: Any) -> Iterator[ServerSentEvent]:
    """Ticks until the deadline closes it; says so in the log, so a test can see it stopped in time."""
    n = 0
    try:
        while True:
            n += 1
            yield ServerSentEvent(json={"n": n}, event="tick", id=n)
            time.sleep(0.1)
    finally:
        print(f"endless: closed after tick {n}", flush=True)


@sse_response(heartbeat=None, deadline_margin=1.0)
async def async_endless(event: dict[str, Any], context: Any) -> AsyncIterator[ServerSentEvent]:
    """Waits far past its deadline in one await: cancelled at the deadline."""
    yield ServerSentEvent("waiting", id=1)
    try:
        await asyncio.sleep(600)
    except asyncio.CancelledError:
        print("async_endless: cancelled at the deadline", flush=True)
        raise
    yield ServerSentEvent("never sent")


@streamify_response
def stuck(event: dict[str, Any], response_stream: Any, context: Any) -> None:
    """Sends one event, then hangs past the function's timeout, ignoring the deadline."""
    with ServerSentEvents(response_stream, event, context, heartbeat=None, deadline_margin=1.0) as events:
        events.send("before the hang", id=1)
        time.sleep(600)


@sse_response(heartbeat=None, retry=200)
def silent(event: dict[str, Any], context: Any) -> Iterator[ServerSentEvent]:
    """Like ``ticks`` without a heartbeat: a slow stream that goes quiet between events."""
    plan = Plan(event, last_event_id(event))
    for n in plan.ticks():
        if n > plan.after + 1:
            time.sleep(plan.pause)
        yield plan.tick(n)
    done = plan.done()
    if done is not None:
        yield done


PAGE = """<!doctype html>
<meta charset="utf-8">
<title>server-sent events</title>
<pre id="log"></pre>
<script>
  // Every event, open and error the browser's EventSource sees, reported to the test as JSON.
  const seen = [];
  const source = new EventSource(STREAM + location.search);
  const note = (what) => { seen.push(what); };
  source.onopen = () => note({kind: "open"});
  source.onerror = () => note({kind: "error", readyState: source.readyState});
  source.addEventListener("tick", (event) => note({kind: "tick", data: JSON.parse(event.data),
                                                    lastEventId: event.lastEventId}));
  source.addEventListener("done", () => {
    source.close();
    document.getElementById("log").textContent = "SEEN" + JSON.stringify(seen) + "END";
  });
</script>
"""


@streamify_response
def page(event: dict[str, Any], response_stream: Any, context: Any) -> None:
    """The page a browser opens; ``stream`` names the path of the event stream it reads."""
    stream = HttpResponseStream.from_(response_stream, status_code=200, headers={"content-type": "text/html"})
    target = _query(event, "stream", "/ticks")
    stream.write(PAGE.replace("STREAM", f'"{target}"'))


ROUTES = {
    "/ticks": ticks,
    "/async-ticks": async_ticks,
    "/plain-ticks": plain_ticks,
    "/async-plain-ticks": async_plain_ticks,
    "/silent": silent,
}


@streamify_response
def site(event: dict[str, Any], response_stream: Any, context: Any) -> Any:
    """One origin for a browser: the page at ``/``, the streams above at their paths."""
    handler = ROUTES.get(event.get("rawPath", "/"), page)
    return handler(event, response_stream, context)  # an async handler's coroutine: the runtime awaits it
