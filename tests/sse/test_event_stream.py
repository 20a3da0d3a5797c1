"""ServerSentEvents on a real response stream, in process, against the fake Runtime API.

What a user relies on: the head goes out at once, a heartbeat fills silences while the handler
blocks or awaits, the deadline ends the stream cleanly even while the handler is stuck, nothing is
ever written after the end, and streams running at once keep to themselves. Intervals are a tenth of
a second so the tests are quick; the assertions are about order and presence, never about speed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from runtime.fake_runtime_api import FakeRuntimeApi, RecordedRequest
from stream_fn import (
    InvalidEventError,
    PreludeAlreadySetError,
    ServerSentEvent,
    ServerSentEvents,
    StreamConnectionError,
    StreamEndedError,
    last_event_id,
    sse_response,
    streamify_response,
)
from stream_fn.context import FunctionSettings, LambdaContext
from stream_fn.framing import PRELUDE_DELIMITER
from stream_fn.runtime_api import RuntimeApiClient
from stream_fn.streams import HttpResponseStream, ResponseStream

from .event_stream_parser import Comment, ParsedEvent, parse

pytestmark = pytest.mark.timeout(30)

REQUEST_ID = "sse-request-1"
HEAD = {"content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no"}


@pytest.fixture
def stream(client: RuntimeApiClient) -> ResponseStream:
    return ResponseStream(client, REQUEST_ID)


def context(seconds_left: float) -> LambdaContext:
    return LambdaContext(FunctionSettings(environ={}), REQUEST_ID, int((time.time() + seconds_left) * 1000))


def finished(fake_api: FakeRuntimeApi, request_id: str = REQUEST_ID) -> RecordedRequest:
    return fake_api.wait_for_result(request_id, timeout=10)


def split_head(request: RecordedRequest) -> tuple[dict[str, Any], bytes]:
    """The HTTP prelude and the event stream after it."""
    prelude, body = request.body.split(PRELUDE_DELIMITER, 1)
    return json.loads(prelude), body


def sse_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("stream_fn.sse")]


def test_the_head_goes_out_before_the_first_event(fake_api: FakeRuntimeApi, stream: ResponseStream) -> None:
    with ServerSentEvents(stream, heartbeat=None) as events:
        opened = fake_api.wait_for(lambda request: len(request.chunks) >= 2, what="the head")
        assert json.loads(opened.chunks[0]) == {"statusCode": 200, "headers": HEAD}
        events.send("first")

    prelude, body = split_head(finished(fake_api))
    assert prelude == {"statusCode": 200, "headers": HEAD}
    assert body == b"data: first\n\n"
    assert opened.header("content-type") == "application/vnd.awslambda.http-integration-response"


def test_retry_headers_and_cookies_go_with_the_head(fake_api: FakeRuntimeApi, stream: ResponseStream) -> None:
    with ServerSentEvents(
        stream,
        retry=2500,
        headers={"Content-Type": "text/event-stream; charset=utf-8", "x-app": "yes"},
        cookies=["seen=1; Secure"],
    ):
        pass

    prelude, body = split_head(finished(fake_api))
    assert prelude["headers"] == {
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
        "content-type": "text/event-stream; charset=utf-8",
        "x-app": "yes",
    }
    assert prelude["cookies"] == ["seen=1; Secure"]
    assert body == b"retry: 2500\n\n"
    assert parse(body).retry == 2500


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"headers": {"content-type": "application/json"}},
            "an event stream's content-type is text/event-stream",
        ),
        ({"headers": {"x-bad": "a\nb"}}, "must not contain CR, LF"),
        ({"cookies": "a=b"}, "cookies must be a list"),
        ({"heartbeat": 0}, "heartbeat must be more than 0 seconds; pass None"),
        ({"heartbeat": "15"}, "heartbeat is a number of seconds"),
        ({"deadline_margin": -1}, "deadline_margin is a number of seconds"),
        ({"retry": -5}, "whole milliseconds"),
        ({"deadline_event": "bye"}, "deadline_event must be a ServerSentEvent or None"),
    ],
)
def test_bad_options_are_refused_before_anything_is_sent(
    fake_api: FakeRuntimeApi, stream: ResponseStream, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError) as raised:
        ServerSentEvents(stream, **options)
    assert message in str(raised.value)
    with pytest.raises(ValueError) as at_import:
        sse_response(**options)
    assert message in str(at_import.value)
    assert not stream.started


def test_a_stream_that_already_has_its_head_says_what_to_do(stream: ResponseStream) -> None:
    HttpResponseStream.from_(stream, status_code=200)
    with pytest.raises(PreludeAlreadySetError, match="pass headers=/cookies= to ServerSentEvents"):
        ServerSentEvents(stream)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"version": "2.0", "rawPath": "/", "headers": {"last-event-id": "41"}}, "41"),  # function URL
        ({"httpMethod": "GET", "headers": {"Last-Event-ID": "abc 1"}}, "abc 1"),  # API Gateway REST
        ({"httpMethod": "GET", "headers": None, "multiValueHeaders": {"Last-Event-Id": ["1", "2"]}}, "2"),
        ({"version": "2.0", "headers": {"last-event-id": ""}}, None),
        ({"version": "2.0", "headers": {"accept": "text/event-stream"}}, None),
        ({"version": "2.0"}, None),
        ("not an HTTP event", None),
        (None, None),
    ],
)
def test_the_last_event_id_comes_from_the_request_headers(event: Any, expected: str | None) -> None:
    assert last_event_id(event) == expected


def test_the_stream_knows_the_last_event_id_it_was_asked_to_resume_after(stream: ResponseStream) -> None:
    event = {"version": "2.0", "rawPath": "/", "headers": {"last-event-id": "41"}}
    assert ServerSentEvents(stream, event).last_event_id == "41"
    assert ServerSentEvents(ResponseStream(stream._client, "other")).last_event_id is None


def test_a_handler_blocked_between_events_still_sends_heartbeats(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    with ServerSentEvents(stream, heartbeat=0.05) as events:
        events.send("before", id=1)
        time.sleep(0.6)  # blocks the thread, as a slow call would
        events.send("after", id=2)

    _, body = split_head(finished(fake_api))
    sequence = parse(body).sequence
    datas = [part.data for part in sequence if isinstance(part, ParsedEvent)]
    between = sequence[1:-1]
    assert datas == ["before", "after"]
    assert len(between) >= 2 and all(part == Comment(" heartbeat", 0.0) for part in between)


def test_events_reset_the_silence_so_a_busy_stream_sends_no_heartbeat(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    with ServerSentEvents(stream, heartbeat=5.0) as events:
        for n in range(20):
            events.send(str(n))
            time.sleep(0.01)

    _, body = split_head(finished(fake_api))
    assert parse(body).comments == []


def test_nothing_is_written_after_the_stream_ends(fake_api: FakeRuntimeApi, stream: ResponseStream) -> None:
    with ServerSentEvents(stream, heartbeat=0.02) as events:
        events.send("only")
    assert sse_threads() == []  # the timer thread was stopped and joined as the block ended

    time.sleep(0.2)
    request = finished(fake_api)
    assert request.complete and request.trailers == []
    assert bytes(request.chunks[-1]) == b"data: only\n\n"


def test_closing_while_heartbeats_race_to_write_never_writes_after_the_end(
    fake_api: FakeRuntimeApi, client: RuntimeApiClient
) -> None:
    """Heartbeats due every millisecond, the stream closed at once: the end is always the last thing sent."""
    for attempt in range(30):
        stream = ResponseStream(client, f"race-{attempt}")
        events = ServerSentEvents(stream, heartbeat=0.001)
        with events:
            events.send("last", id=attempt)
            time.sleep(0.003 * (attempt % 3))

        request = finished(fake_api, f"race-{attempt}")
        # A heartbeat tried after the end would have been refused by the stream and kept here.
        assert events._failure is None
        assert request.complete and request.trailers == []
        assert split_head(request)[1].count(b"data: last") == 1
    assert sse_threads() == []


def test_a_stream_the_runtime_ends_stops_its_heartbeat(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    events = ServerSentEvents(stream, heartbeat=0.05)
    events.send("no with block")  # starts the heartbeat
    stream._finish()  # what the runtime does when the handler returns

    deadline = time.monotonic() + 10
    while sse_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sse_threads() == []
    assert not events.open
    _, body = split_head(finished(fake_api))
    assert body.count(b"data: no with block") == 1


def test_the_deadline_sends_a_final_event_and_ends_the_stream(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    sent = []
    with ServerSentEvents(stream, {}, context(1.3), heartbeat=None, deadline_margin=1.0) as events:
        while events.sleep(0.05):
            sent.append(events.send("tick"))
        assert events.deadline_reached and not events.open
        assert events.send("too late") is False
        assert events.comment("too late") is False

    request = finished(fake_api)
    events_read = parse(split_head(request)[1]).events
    assert sent and all(sent)
    assert [event.type for event in events_read] == ["message"] * len(sent) + ["deadline"]
    assert events_read[-1].data == ""
    assert request.complete and request.trailers == []


def test_the_deadline_ends_the_stream_while_the_handler_is_stuck(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    release = threading.Event()
    ended_while_stuck = []

    def handler() -> None:
        with ServerSentEvents(stream, {}, context(1.2), heartbeat=None, deadline_margin=1.0) as events:
            events.send("one")
            release.wait(20)  # ignores the deadline, like a call that hangs
            ended_while_stuck.append(events.deadline_reached)

    thread = threading.Thread(target=handler)
    thread.start()
    request = finished(fake_api)  # complete while the handler still waits
    release.set()
    thread.join(10)

    assert [event.type for event in parse(split_head(request)[1]).events] == ["message", "deadline"]
    assert ended_while_stuck == [True]


def test_a_deadline_already_near_at_the_start_ends_at_once(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    final = ServerSentEvent("come back later", event="bye", retry=10_000)
    with ServerSentEvents(stream, {}, context(0.5), deadline_margin=2.0, deadline_event=final) as events:
        assert events.sleep(10) is False

    _, body = split_head(finished(fake_api))
    assert body == b"event: bye\nretry: 10000\ndata: come back later\n\n"


def test_without_a_final_event_the_deadline_only_ends_the_stream(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    with ServerSentEvents(stream, {}, context(1.1), deadline_margin=1.0, deadline_event=None) as events:
        events.send("x")
        events.sleep(10)

    _, body = split_head(finished(fake_api))
    assert body == b"data: x\n\n"


def test_sending_after_the_handler_closed_the_stream_is_an_error(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    events = ServerSentEvents(stream)
    events.close(ServerSentEvent("", event="done"))
    events.close()  # a second close does nothing

    with pytest.raises(StreamEndedError, match="it was closed"):
        events.send("late")
    _, body = split_head(finished(fake_api))
    assert body == b"event: done\ndata:\n\n"


def test_an_error_in_the_handler_leaves_the_stream_to_the_runtime(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    with pytest.raises(RuntimeError), ServerSentEvents(stream, heartbeat=0.02) as events:
        events.send("partial")
        raise RuntimeError("failed mid-stream")

    assert sse_threads() == [] and not stream.closed  # no heartbeat, and no end: the runtime reports it
    time.sleep(0.1)
    stream._fail([("Lambda-Runtime-Function-Error-Type", "Function.RuntimeError")])
    request = finished(fake_api)
    assert split_head(request)[1] == b"data: partial\n\n"
    assert request.trailer("lambda-runtime-function-error-type") == "Function.RuntimeError"


def test_a_connection_lost_under_the_heartbeat_reaches_the_handler(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    fake_api.reset_after_chunks = 3
    with pytest.raises(StreamConnectionError), ServerSentEvents(stream, heartbeat=0.02) as events:
        events.send("one")
        events.sleep(10)  # wakes as soon as a heartbeat finds the connection gone

    assert fake_api.reset_done.is_set()
    assert sse_threads() == []


def test_several_streams_at_once_keep_to_themselves(fake_api: FakeRuntimeApi) -> None:
    """As under Lambda Managed Instances: invocations on threads, each with its own stream and timer."""
    errors: list[BaseException] = []

    def invocation(index: int) -> None:
        client = RuntimeApiClient(fake_api.address, "test-agent")
        try:
            stream = ResponseStream(client, f"request-{index}")
            seconds_left = 1.2 + index * 0.2
            heartbeat = 0.03 * (index + 1)
            with ServerSentEvents(
                stream, {}, context(seconds_left), heartbeat=heartbeat, deadline_margin=1
            ) as events:
                n = 0
                while events.sleep(0.07):
                    n += 1
                    events.send(f"{index}:{n}", id=f"{index}-{n}")
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)
        finally:
            client.close()

    threads = [threading.Thread(target=invocation, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert errors == []
    for index in range(4):
        parsed = parse(split_head(finished(fake_api, f"request-{index}"))[1])
        ticks = [event for event in parsed.events if event.type == "message"]
        assert ticks and all(event.data.startswith(f"{index}:") for event in ticks)
        assert [event.last_event_id for event in ticks] == [f"{index}-{n}" for n in range(1, len(ticks) + 1)]
        assert parsed.events[-1].type == "deadline"


def test_an_async_handler_gets_its_heartbeat_from_the_event_loop(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    threads_seen = []

    async def handler() -> None:
        with ServerSentEvents(stream, {}, context(1.5), heartbeat=0.05, deadline_margin=1.0) as events:
            events.send("before")
            await asyncio.sleep(0.4)
            threads_seen.extend(sse_threads())
            with pytest.raises(RuntimeError, match="await events.asleep"):
                events.sleep(1)
            while await events.asleep(0.1):
                pass
            assert events.deadline_reached

    asyncio.run(handler())

    parsed = parse(split_head(finished(fake_api))[1])
    assert threads_seen == []  # no thread: the loop ran the timer
    assert len(parsed.comments) >= 2
    assert parsed.events[0].data == "before" and parsed.events[-1].type == "deadline"


def test_asleep_needs_a_stream_started_on_an_event_loop(stream: ResponseStream) -> None:
    with (
        ServerSentEvents(stream, heartbeat=None) as events,
        pytest.raises(RuntimeError, match=r"use events.sleep\(seconds\)"),
    ):
        asyncio.run(events.asleep(1))


# -- @sse_response, called the way the runtime calls it -------------------------------------------


def test_a_generator_is_closed_at_its_next_yield_after_the_deadline(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    closed_after = []

    @sse_response(heartbeat=None, deadline_margin=1.0)
    def ticks(event: Any, context: Any) -> Iterator[ServerSentEvent]:
        n = 0
        try:
            while True:
                n += 1
                yield ServerSentEvent(str(n), id=n)
                time.sleep(0.05)
        finally:
            closed_after.append(n)

    ticks({}, stream, context(1.3))

    events_read = parse(split_head(finished(fake_api))[1]).events
    assert events_read[-1].type == "deadline"
    assert closed_after == [len(events_read)]  # the tick made after the deadline was dropped
    assert [event.data for event in events_read[:-1]] == [str(n) for n in range(1, len(events_read))]


def test_an_async_generator_is_cancelled_at_the_deadline(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    cancelled = []

    @sse_response(heartbeat=None, deadline_margin=1.0)
    async def waits(event: Any, context: Any) -> AsyncIterator[str]:
        yield "first"
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        yield "never"

    asyncio.run(waits({}, stream, context(1.2)))

    assert cancelled == [True]
    assert [event.type for event in parse(split_head(finished(fake_api))[1]).events] == [
        "message",
        "deadline",
    ]


def test_sse_response_takes_generators_only() -> None:
    def plain(event: Any, context: Any) -> None:
        return None

    def three(event: Any, stream: Any, context: Any) -> Iterator[str]:
        yield ""

    @streamify_response
    def marked(event: Any, context: Any) -> Iterator[str]:
        yield ""

    with pytest.raises(TypeError, match="use @streamify_response and `with ServerSentEvents"):
        sse_response(plain)
    with pytest.raises(TypeError, match="must take \\(event, context\\)"):
        sse_response(three)
    with pytest.raises(TypeError, match="needs a generator"):
        sse_response(marked)


def test_sse_response_keeps_the_generator_for_unit_tests() -> None:
    def ticks(event: Any, context: Any) -> Iterator[str]:
        yield "x"

    handler = sse_response(retry=100)(ticks)

    assert handler.event_source is ticks  # type: ignore[attr-defined]
    assert handler.__name__ == "ticks"
    assert list(handler.event_source({}, None)) == ["x"]  # type: ignore[attr-defined]


def test_a_bad_item_fails_the_invocation_with_a_clear_error(stream: ResponseStream) -> None:
    @sse_response(heartbeat=None)
    def bad(event: Any, context: Any) -> Iterator[Any]:
        yield {"n": 1}

    with pytest.raises(InvalidEventError, match=r"yield ServerSentEvent\(json=value\)"):
        bad({}, stream, None)
