"""ResponseStream's state machine on its own: every state x every operation, without a socket.

The stream drives a streamed request through the protocol ``stream_fn.runtime_api`` defines
(``streamed_response`` to open one, then ``send``, ``send_chunk`` and ``finish``); here a recording
peer implements that protocol, so each case says which calls an operation makes, what it raises and
which state it leaves. The bytes those calls put on the wire are tested in test_streams.py and
test_runtime_api_client.py against the fake Runtime API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from stream_fn import (
    ContentTypeTooLateError,
    HttpResponseStream,
    ResponseStream,
    StreamConnectionError,
    StreamEndedError,
)
from stream_fn.runtime_api import ConnectionLostError, RuntimeApiError, RuntimeApiUnavailableError

pytestmark = pytest.mark.timeout(30)

OCTET_STREAM = "application/octet-stream"
HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"
TRAILERS = [("Lambda-Runtime-Function-Error-Type", "Function.ValueError")]
Call = tuple[Any, ...]


class RecordingRequest:
    """One streamed request: records every call, and raises ``peer.fail_with`` when it is set."""

    def __init__(self, peer: RecordingPeer) -> None:
        self._peer = peer

    def send(self, parts: Sequence[Any]) -> None:
        self._peer.record(("send", [bytes(part) for part in parts]))

    def send_chunk(self, data: Any, size: int) -> None:
        assert size == len(bytes(data)) > 0
        self._peer.record(("send_chunk", bytes(data)))

    def finish(self, parts: Sequence[Any] = (), trailers: Sequence[tuple[str, str]] = ()) -> None:
        self._peer.record(("finish", [bytes(part) for part in parts], list(trailers)))


class RecordingPeer:
    """Implements the streamed-request protocol's factory (``streamed_response``) and keeps a log."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.fail_with: Exception | None = None

    def streamed_response(self, request_id: str, content_type: str) -> RecordingRequest:
        self.calls.append(("open", content_type))
        return RecordingRequest(self)

    def record(self, call: Call) -> None:
        self.calls.append(call)
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error


def state_of(stream: ResponseStream) -> str:
    return repr(stream).rsplit(" ", 1)[1].rstrip(">")


def stream_in(state: str) -> tuple[ResponseStream, RecordingPeer]:
    """A stream brought to ``state`` through the public API, with its peer's log emptied."""
    peer = RecordingPeer()
    stream = ResponseStream(peer, "req-1")
    if state in ("started", "ended", "failed"):
        stream.write(b"a")
    if state == "ended":
        stream.end()
    if state == "failed":
        peer.fail_with = ConnectionLostError("[Errno 104] Connection reset by peer")
        with pytest.raises(StreamConnectionError):
            stream.write(b"b")
    assert state_of(stream) == state
    peer.calls.clear()
    return stream, peer


OPERATIONS: dict[str, Callable[[ResponseStream], object]] = {
    "write": lambda stream: stream.write(b"x"),
    "write nothing": lambda stream: stream.write(b""),
    "flush": lambda stream: stream.flush(),
    "end": lambda stream: stream.end(),
    "close": lambda stream: stream.close(),
    "set_content_type": lambda stream: stream.set_content_type("text/plain"),
    "HttpResponseStream.from_": lambda stream: HttpResponseStream.from_(stream, status_code=201),
    "runtime finishes": lambda stream: stream._finish(),
    "runtime fails": lambda stream: stream._fail(TRAILERS),
}

# (state, operation): (state after, the peer calls it made, what it returns or raises)
TABLE: dict[tuple[str, str], tuple[str, list[Call], object]] = {
    ("open", "write"): ("started", [("open", OCTET_STREAM), ("send", [b"x"])], 1),
    ("open", "write nothing"): ("open", [], 0),
    ("open", "flush"): ("started", [("open", OCTET_STREAM), ("send", [])], None),
    ("open", "end"): ("ended", [("open", OCTET_STREAM), ("finish", [], [])], None),
    ("open", "close"): ("ended", [("open", OCTET_STREAM), ("finish", [], [])], None),
    ("open", "set_content_type"): ("open", [], None),
    ("open", "HttpResponseStream.from_"): ("open", [], "stream"),
    ("open", "runtime finishes"): ("ended", [("open", OCTET_STREAM), ("finish", [], [])], None),
    ("open", "runtime fails"): ("failed", [], True),  # True: nothing was sent, report through /error
    ("started", "write"): ("started", [("send_chunk", b"x")], 1),
    ("started", "write nothing"): ("started", [], 0),
    ("started", "flush"): ("started", [], None),
    ("started", "end"): ("ended", [("finish", [], [])], None),
    ("started", "close"): ("ended", [("finish", [], [])], None),
    ("started", "set_content_type"): ("started", [], ContentTypeTooLateError),
    ("started", "HttpResponseStream.from_"): ("started", [], ContentTypeTooLateError),
    ("started", "runtime finishes"): ("ended", [("finish", [], [])], None),
    ("started", "runtime fails"): ("failed", [("finish", [], TRAILERS)], False),
    ("ended", "write"): ("ended", [], StreamEndedError),
    ("ended", "write nothing"): ("ended", [], StreamEndedError),
    ("ended", "flush"): ("ended", [], StreamEndedError),
    ("ended", "end"): ("ended", [], None),
    ("ended", "close"): ("ended", [], None),
    ("ended", "set_content_type"): ("ended", [], StreamEndedError),
    ("ended", "HttpResponseStream.from_"): ("ended", [], StreamEndedError),
    ("ended", "runtime finishes"): ("ended", [], None),
    ("ended", "runtime fails"): ("ended", [], False),
    ("failed", "write"): ("failed", [], StreamEndedError),
    ("failed", "write nothing"): ("failed", [], StreamEndedError),
    ("failed", "flush"): ("failed", [], StreamEndedError),
    ("failed", "end"): ("failed", [], None),
    ("failed", "close"): ("failed", [], None),
    ("failed", "set_content_type"): ("failed", [], StreamEndedError),
    ("failed", "HttpResponseStream.from_"): ("failed", [], StreamEndedError),
    ("failed", "runtime finishes"): ("failed", [], None),
    ("failed", "runtime fails"): ("failed", [], False),
}


def test_the_table_covers_every_state_and_operation() -> None:
    assert set(TABLE) == {
        (state, operation) for state in ("open", "started", "ended", "failed") for operation in OPERATIONS
    }


@pytest.mark.parametrize(("state", "operation"), list(TABLE), ids=[f"{s}-{o}" for s, o in TABLE])
def test_each_operation_in_each_state(state: str, operation: str) -> None:
    stream, peer = stream_in(state)
    state_after, calls, outcome = TABLE[state, operation]

    if isinstance(outcome, type) and issubclass(outcome, Exception):
        with pytest.raises(outcome):
            OPERATIONS[operation](stream)
    else:
        returned = OPERATIONS[operation](stream)
        assert returned == (stream if outcome == "stream" else outcome)
    assert peer.calls == calls
    assert state_of(stream) == state_after
    assert stream.started == (state_after != "open")
    assert stream.closed == (state_after in ("ended", "failed"))


def test_the_prelude_and_its_delimiter_open_the_body_as_two_parts_before_the_first_write() -> None:
    peer = RecordingPeer()
    stream = HttpResponseStream.from_(ResponseStream(peer, "req-1"), status_code=201)
    stream.write(b"body")
    stream.write(b"more")

    prelude = b'{"statusCode":201}'
    assert peer.calls == [
        ("open", HTTP_INTEGRATION),
        ("send", [prelude, b"\0" * 8, b"body"]),
        ("send_chunk", b"more"),
    ]


def test_ending_an_http_stream_with_nothing_written_still_sends_the_prelude() -> None:
    peer = RecordingPeer()
    stream = HttpResponseStream.from_(ResponseStream(peer, "req-1"), status_code=204)
    stream.end()
    assert peer.calls == [("open", HTTP_INTEGRATION), ("finish", [b'{"statusCode":204}', b"\0" * 8], [])]


def test_the_content_type_set_before_the_start_is_the_one_the_request_opens_with() -> None:
    stream, peer = stream_in("open")
    stream.set_content_type("text/event-stream")
    stream.flush()
    assert peer.calls[0] == ("open", "text/event-stream")
    assert stream.content_type == "text/event-stream"


@pytest.mark.parametrize("operation", ["write", "runtime fails"])
def test_a_lost_connection_fails_the_stream_with_the_reason(operation: str) -> None:
    stream, peer = stream_in("started")
    peer.fail_with = ConnectionLostError(
        "[Errno 32] Broken pipe (the Runtime API answered HTTP 413: too large)"
    )
    with pytest.raises(StreamConnectionError, match="lost the connection .*: \\[Errno 32\\] .*HTTP 413"):
        OPERATIONS[operation](stream)
    assert state_of(stream) == "failed"


@pytest.mark.parametrize(
    "error",
    [RuntimeApiError("POST /response", 413, b"too large"), RuntimeApiUnavailableError("no reply")],
)
def test_a_response_the_runtime_api_does_not_accept_fails_the_stream_at_its_end(error: Exception) -> None:
    stream, peer = stream_in("started")
    peer.fail_with = error
    with pytest.raises(StreamConnectionError, match="did not accept the streamed response") as raised:
        stream.end()
    assert raised.value.__cause__ is error  # the loop looks for a 5xx down this chain
    assert state_of(stream) == "failed"


def test_a_request_that_could_not_connect_leaves_the_stream_open() -> None:
    stream, peer = stream_in("open")
    peer.fail_with = RuntimeApiUnavailableError("cannot connect to the Runtime API")
    with pytest.raises(RuntimeApiUnavailableError):
        stream.write(b"x")
    assert state_of(stream) == "open"  # nothing was sent: the error can still go to /error
    assert stream._fail(TRAILERS) is True
