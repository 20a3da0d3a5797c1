"""The Runtime API, driven by a raw-socket runtime that writes the protocol byte for byte."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from pathlib import Path

import h11
import pytest

from cdk_stream_fn.emulator import limits
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig, lambda_environment
from cdk_stream_fn.emulator.sandboxes.invocation import Invocation, InvocationFailed, InvokeRequest
from cdk_stream_fn.emulator.sandboxes.lifecycle import Phase
from cdk_stream_fn.emulator.sandboxes.runtime_api import RuntimeApiServer

from .harness import LoopThread, RawRuntime, Reply, buffered, chunk, streaming_head

pytestmark = pytest.mark.timeout(60)

PRELUDE = b'{"statusCode":201,"headers":{"x-a":"b"},"cookies":["c=d"]}'


class Api:
    """A started RuntimeApiServer on the loop thread, plus helpers to read invocations."""

    def __init__(self, loop: LoopThread, **options: object) -> None:
        self.loop = loop
        self.server: RuntimeApiServer = loop.run(RuntimeApiServer.start(**options))

    def invoke(self, payload: bytes = b'{"hello":"world"}', **fields: object) -> Invocation:
        async def _invoke() -> Invocation:
            return self.server.invoke(InvokeRequest(payload=payload, **fields))  # type: ignore[arg-type]

        return self.loop.run(_invoke())

    def collect(self, invocation: Invocation) -> tuple[object, list[bytes]]:
        """Wait for the whole response: (head or the InvocationFailed error, body chunks)."""

        async def _collect() -> tuple[object, list[bytes]]:
            try:
                head: object = await invocation.head()
            except InvocationFailed as failed:
                return failed, []
            return head, [c async for c in invocation.body()]

        return self.loop.run(_collect())

    def stop(self) -> None:
        self.loop.run(self.server.stop())


def picked_up_soon(api: Api, invocation: Invocation) -> bool:
    """The invocation counts as picked up (marked on the loop right after its event was written)."""
    return api.loop.run(asyncio.wait_for(invocation.picked_up.wait(), 2))


def a_fresh_runtime_gets_the_next_event(api: Api) -> bool:
    """The listener still serves: a new connection's `GET /next` receives a newly submitted invocation."""
    fresh = RawRuntime(api.server.address)
    try:
        invocation = api.invoke()
        return fresh.next().headers["lambda-runtime-aws-request-id"] == invocation.request_id
    finally:
        fresh.close()


@pytest.fixture
def api(loop_thread: LoopThread) -> Api:
    return Api(loop_thread, timeout_seconds=30)


@pytest.fixture
def runtime(api: Api):
    client = RawRuntime(api.server.address)
    yield client
    client.close()


def test_next_hands_over_the_event_with_lambda_headers(api: Api, runtime: RawRuntime) -> None:
    invocation = api.invoke(
        b'{"hello":"world"}',
        client_context='{"custom":{"a":"b"}}',
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
    )
    before_ms = time.time() * 1000
    reply = runtime.next()

    assert reply.status == 200
    assert reply.body == b'{"hello":"world"}'
    assert reply.headers["lambda-runtime-aws-request-id"] == invocation.request_id
    assert (
        reply.headers["lambda-runtime-invoked-function-arn"]
        == "arn:aws:lambda:us-east-1:123456789012:function:f"
    )
    assert reply.headers["lambda-runtime-trace-id"].startswith("Root=1-")
    assert reply.headers["lambda-runtime-client-context"] == '{"custom":{"a":"b"}}'
    assert "lambda-runtime-cognito-identity" not in reply.headers
    deadline = int(reply.headers["lambda-runtime-deadline-ms"])
    assert before_ms + 29_000 < deadline < before_ms + 31_000
    assert picked_up_soon(api, invocation)


def test_a_streamed_response_byte_for_byte_reaches_the_invocation(api: Api, runtime: RawRuntime) -> None:
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]

    reply = runtime.exchange(
        streaming_head(request_id)
        + chunk(PRELUDE)
        + chunk(b"\0" * 8)
        + chunk(b"hello ")
        + chunk(b"world")
        + b"0\r\n\r\n"
    )

    assert (reply.status, reply.json()) == (202, {"status": "OK"})
    head, body = api.collect(invocation)
    assert head.content_type == limits.HTTP_INTEGRATION_CONTENT_TYPE  # type: ignore[attr-defined]
    assert head.streaming  # type: ignore[attr-defined]
    assert b"".join(body) == PRELUDE + b"\0" * 8 + b"hello world"
    assert invocation.error is None
    assert invocation.finished.is_set()


def test_chunks_reach_the_consumer_before_the_stream_ends(api: Api, runtime: RawRuntime) -> None:
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]

    async def first_chunk() -> bytes:
        await invocation.head()
        async for data in invocation.body():
            return data
        raise AssertionError("no chunk")

    runtime.start(streaming_head(request_id, "text/plain") + chunk(b"first"))
    assert api.loop.run(first_chunk(), timeout=5) == b"first"

    runtime.send(chunk(b"second") + b"0\r\n\r\n")
    assert runtime.read_reply().status == 202


def test_error_trailers_end_the_stream_with_the_decoded_error(api: Api, runtime: RawRuntime) -> None:
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]
    error_doc = {"errorMessage": "boom\r\nsecond line", "errorType": "ValueError", "stackTrace": []}
    trailer_body = base64.b64encode(json.dumps(error_doc).encode()).decode()

    reply = runtime.exchange(
        streaming_head(request_id, "text/plain")
        + chunk(b"partial")
        + b"0\r\n"
        + b"Lambda-Runtime-Function-Error-Type: Function.ValueError\r\n"
        + f"Lambda-Runtime-Function-Error-Body: {trailer_body}\r\n".encode()
        + b"\r\n"
    )

    assert reply.status == 202
    _, body = api.collect(invocation)
    assert body == [b"partial"]
    assert invocation.error is not None
    assert invocation.error.error_type == "Function.ValueError"
    assert invocation.error.message == "boom\r\nsecond line"
    assert json.loads(invocation.error.payload) == error_doc


def test_a_buffered_response_is_accepted_with_its_content_type(api: Api, runtime: RawRuntime) -> None:
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]

    reply = runtime.exchange(buffered(request_id, b'{"ok":true}'))

    assert (reply.status, reply.json()) == (202, {"status": "OK"})
    head, body = api.collect(invocation)
    assert (head.content_type, head.streaming) == ("application/json", False)  # type: ignore[attr-defined]
    assert body == [b'{"ok":true}']


def test_a_buffered_response_over_6_mib_is_413_and_fails_the_invocation(
    api: Api, runtime: RawRuntime
) -> None:
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]

    reply = runtime.exchange(buffered(request_id, b"x" * (limits.MAX_BUFFERED_RESPONSE_BYTES + 1)))

    assert reply.status == 413
    assert reply.json() == {
        "errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "RequestEntityTooLarge",
    }
    failed, _ = api.collect(invocation)
    assert isinstance(failed, InvocationFailed)
    assert failed.error.error_type == "Function.ResponseSizeTooLarge"
    # RAPID's `ErrorResponseTooLarge`: the size is the whole body, read to its end.
    assert failed.error.message == (
        "Response payload size (6291557 bytes) exceeded maximum allowed payload size (6291556 bytes)."
    )


def test_exactly_the_buffered_limit_is_accepted(api: Api, runtime: RawRuntime) -> None:
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]

    reply = runtime.exchange(buffered(request_id, b"x" * limits.MAX_BUFFERED_RESPONSE_BYTES))

    assert reply.status == 202
    _, body = api.collect(invocation)
    assert len(b"".join(body)) == limits.MAX_BUFFERED_RESPONSE_BYTES


def test_a_second_response_for_the_same_id_is_403(api: Api, runtime: RawRuntime) -> None:
    api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]
    assert runtime.exchange(buffered(request_id, b"{}")).status == 202

    second = runtime.exchange(buffered(request_id, b"{}"))
    error = runtime.exchange(buffered(request_id, b"{}", action="error"))

    assert second.status == 403
    assert second.json()["errorType"] == "InvalidStateTransition"
    assert error.status == 403


def test_an_unknown_request_id_is_400(api: Api, runtime: RawRuntime) -> None:
    api.invoke()
    runtime.next()

    reply = runtime.exchange(buffered("not-the-current-id", b"{}"))

    assert reply.status == 400
    assert reply.json() == {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}


@pytest.mark.parametrize("mode", ["buffered", "Streaming", "STREAMING", "stream"])
def test_a_response_mode_other_than_streaming_is_400_and_fails_the_invocation_as_rapid_does(
    api: Api, runtime: RawRuntime, mode: str
) -> None:
    """RAPID (`rapi/handler/invocationresponse.go`) takes the header only as exactly `streaming`; anything
    else fails the invocation with `Runtime.InvalidResponseModeHeader` and answers 400, and the state it
    left makes a second answer 403."""
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]

    bad = runtime.exchange(streaming_head(request_id, mode=mode) + chunk(b"x") + b"0\r\n\r\n")
    again = runtime.exchange(buffered(request_id, b"{}"))

    assert (bad.status, bad.json()) == (
        400,
        {"errorMessage": "Invalid function response mode", "errorType": "InvalidFunctionResponseMode"},
    )
    failed, _ = api.collect(invocation)
    assert isinstance(failed, InvocationFailed)
    assert failed.error.error_type == "Runtime.InvalidResponseModeHeader"
    assert (again.status, again.json()) == (
        403,
        {
            "errorMessage": "State transition from InvocationResponse to InvocationResponse failed for "
            "runtime. Error: State transition is not allowed",
            "errorType": "InvalidStateTransition",
        },
    )


def test_without_a_response_mode_the_response_is_buffered(api: Api, runtime: RawRuntime) -> None:
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]

    reply = runtime.exchange(
        streaming_head(request_id, "text/plain").replace(
            b"Lambda-Runtime-Function-Response-Mode: streaming\r\n", b""
        )
        + chunk(b"all ")
        + chunk(b"at once")
        + b"0\r\n\r\n"
    )

    assert reply.status == 202
    head, body = api.collect(invocation)
    assert (head.content_type, head.streaming) == ("text/plain", False)  # type: ignore[attr-defined]
    assert body == [b"all at once"]


def test_error_reports_fail_the_invocation_with_type_and_message(api: Api, runtime: RawRuntime) -> None:
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]
    document = {"errorMessage": "division by zero", "errorType": "ZeroDivisionError", "stackTrace": ["x"]}

    reply = runtime.exchange(
        buffered(
            request_id,
            json.dumps(document).encode(),
            action="error",
            extra="Lambda-Runtime-Function-Error-Type: Function.ZeroDivisionError\r\n",
        )
    )

    assert reply.status == 202
    failed, _ = api.collect(invocation)
    assert isinstance(failed, InvocationFailed)
    assert failed.error.error_type == "Function.ZeroDivisionError"
    assert failed.error.message == "division by zero"
    assert json.loads(failed.error.payload) == document


def test_an_error_type_header_of_the_wrong_shape_is_ignored(api: Api, runtime: RawRuntime) -> None:
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]

    runtime.exchange(
        buffered(
            request_id,
            b'{"errorMessage":"m","errorType":"KeyError"}',
            action="error",
            extra="Lambda-Runtime-Function-Error-Type: not a type\r\n",
        )
    )

    failed, _ = api.collect(invocation)
    assert failed.error.error_type == "KeyError"  # type: ignore[attr-defined]


def test_init_error_is_recorded(api: Api, runtime: RawRuntime) -> None:
    document = b'{"errorMessage":"No module named app","errorType":"ImportError"}'
    reply = runtime.exchange(
        b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Lambda-Runtime-Function-Error-Type: Runtime.ImportModuleError\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(document), document)
    )

    assert reply.status == 202
    assert api.server.init_failed.is_set()
    assert api.server.init_error is not None
    assert api.server.init_error.error_type == "Runtime.ImportModuleError"


def test_a_stream_over_the_cap_is_cut_at_the_cap_and_reported(loop_thread: LoopThread) -> None:
    api = Api(loop_thread, max_streamed_bytes=1000)
    runtime = RawRuntime(api.server.address)
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]

    reply = runtime.exchange(
        streaming_head(request_id, "text/plain")
        + chunk(b"a" * 600)
        + chunk(b"b" * 600)
        + chunk(b"c" * 10)
        + b"0\r\n\r\n"
    )

    assert reply.status == 413
    assert reply.json()["errorType"] == "RequestEntityTooLarge"
    _, body = api.collect(invocation)
    assert b"".join(body) == b"a" * 600 + b"b" * 400
    assert invocation.error is not None
    assert invocation.error.error_type == "Function.ResponseSizeTooLarge"
    runtime.close()


def test_a_slow_consumer_holds_the_runtime_back(api: Api, runtime: RawRuntime) -> None:
    """Backpressure: nothing reads the invocation, so the emulator must stop reading the runtime."""
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]
    block = b"z" * 65536
    total = 64 * 1024 * 1024
    runtime.start(streaming_head(request_id, "application/octet-stream"))

    def write_everything() -> None:
        for _ in range(total // len(block)):
            runtime.send(chunk(block))
        runtime.send(b"0\r\n\r\n")

    writer = threading.Thread(target=write_everything, daemon=True)
    writer.start()
    time.sleep(0.5)

    held = invocation.bytes_received
    assert held <= limits.PIPE_BYTES + len(block)
    assert writer.is_alive()

    _, body = api.collect(invocation)
    writer.join(10)
    assert sum(len(c) for c in body) == total
    assert runtime.read_reply().status == 202


def test_malformed_chunked_framing_truncates_the_invocation_and_the_server_keeps_serving(
    api: Api, runtime: RawRuntime
) -> None:
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]

    reply = runtime.exchange(streaming_head(request_id, "text/plain") + chunk(b"ok") + b"zz\r\nnot hex\r\n")

    assert (reply.status, reply.json()) == (
        400,
        {"errorMessage": "HTTP request detected as truncated", "errorType": "TruncatedHTTPRequest"},
    )
    assert runtime.sock.recv(1024) == b"", "RAPID (Go's net/http) drops the connection"
    _, body = api.collect(invocation)
    assert body == [b"ok"]
    assert invocation.error is not None
    assert invocation.error.error_type == "Runtime.TruncatedResponse"
    assert a_fresh_runtime_gets_the_next_event(api)


def test_a_runtime_that_disconnects_mid_stream_truncates_the_response(api: Api, runtime: RawRuntime) -> None:
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]

    runtime.start(streaming_head(request_id, "text/plain") + chunk(b"partial"))
    runtime.close()

    _, body = api.collect(invocation)
    assert body == [b"partial"]
    assert invocation.error is not None
    assert invocation.error.error_type == "Runtime.TruncatedResponse"


def test_asking_for_the_next_event_without_answering_fails_the_held_invocation(
    api: Api, runtime: RawRuntime
) -> None:
    first = api.invoke()
    runtime.next()
    second = api.invoke()

    reply = runtime.next()

    assert reply.headers["lambda-runtime-aws-request-id"] == second.request_id
    failed, _ = api.collect(first)
    assert isinstance(failed, InvocationFailed)
    assert failed.error.error_type == "Runtime.InvalidResponse"


def test_unknown_routes_and_methods_get_clear_errors(api: Api, runtime: RawRuntime) -> None:
    missing = runtime.exchange(b"GET /2018-06-01/runtime/nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    wrong_method = runtime.exchange(
        b"POST /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )

    assert missing.status == 404
    assert "/2018-06-01/runtime/nothing" in missing.json()["errorMessage"]
    assert wrong_method.status == 405
    assert wrong_method.headers["allow"] == "GET"


def test_expect_100_continue_is_honoured(api: Api, runtime: RawRuntime) -> None:
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]
    runtime.start(
        f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n".encode()
    )

    interim = runtime.sock.recv(1024)
    runtime.send(b"{}")
    reply = runtime.read_reply()

    assert interim.startswith(b"HTTP/1.1 100 ")
    assert reply.status == 202
    _, body = api.collect(invocation)
    assert body == [b"{}"]


def test_garbage_gets_400_and_the_listener_survives(api: Api, runtime: RawRuntime) -> None:
    runtime.start(b"\x16\x03\x01 this is not http\r\n\r\n")
    answer = runtime.sock.recv(1024)

    assert answer.startswith(b"HTTP/1.1 400 ")
    assert a_fresh_runtime_gets_the_next_event(api)


def test_headers_over_the_limit_get_431_and_the_listener_survives(api: Api, runtime: RawRuntime) -> None:
    oversized = b"x" * (limits.MAX_HEADER_BYTES + 1)
    runtime.start(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nX-Big: " + oversized + b"\r\n\r\n")
    answer = runtime.sock.recv(1024)

    assert answer.startswith(b"HTTP/1.1 431 ")
    assert a_fresh_runtime_gets_the_next_event(api)


def test_a_response_and_the_next_request_in_one_write_are_both_served(api: Api, runtime: RawRuntime) -> None:
    first = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]
    second = api.invoke()

    runtime.start(
        buffered(request_id, b'{"n":1}')
        + b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )

    assert runtime.read_reply().status == 202
    leftover, _ = runtime.h11.trailing_data
    runtime.start(b"")  # a fresh reply parser for the second answer, fed what the first read left over
    if leftover:
        runtime.h11.receive_data(leftover)  # (empty data would tell h11 the connection closed)
    assert runtime.read_reply().headers["lambda-runtime-aws-request-id"] == second.request_id
    _, body = api.collect(first)
    assert body == [b'{"n":1}']


def test_a_runtime_that_shuts_down_its_sending_side_still_gets_the_answer(
    api: Api, runtime: RawRuntime
) -> None:
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]

    runtime.start(buffered(request_id, b"{}"))
    runtime.sock.shutdown(socket.SHUT_WR)

    assert runtime.read_reply().status == 202
    _, body = api.collect(invocation)
    assert body == [b"{}"]


def test_a_runtime_already_waiting_gets_the_event_the_moment_it_is_submitted(
    api: Api, runtime: RawRuntime
) -> None:
    replies: list[Reply] = []
    waiter = threading.Thread(target=lambda: replies.append(runtime.next()), daemon=True)
    waiter.start()
    time.sleep(0.2)
    assert not replies, "nothing to hand out yet"

    invocation = api.invoke()
    waiter.join(5)

    assert replies[0].headers["lambda-runtime-aws-request-id"] == invocation.request_id
    assert picked_up_soon(api, invocation)


def test_a_connection_that_left_while_waiting_does_not_swallow_the_next_event(api: Api) -> None:
    gone = RawRuntime(api.server.address)
    gone.start(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    time.sleep(0.2)
    gone.close()
    time.sleep(0.2)

    assert a_fresh_runtime_gets_the_next_event(api)


def test_a_runtime_that_disconnects_mid_buffered_body_fails_the_invocation(
    api: Api, runtime: RawRuntime
) -> None:
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]

    runtime.start(buffered(request_id, b'{"much": "more than this"}')[:-10])
    runtime.close()

    failed, _ = api.collect(invocation)
    assert isinstance(failed, InvocationFailed)
    assert failed.error.error_type == "Runtime.TruncatedResponse"


# -- trailers: RAPID reads at most 4 KiB of them ------------------------------------------------------

ERROR_DOCUMENT = {"errorMessage": "boom", "errorType": "ValueError"}


def trailer_section(size: int) -> bytes:
    """A trailer section of exactly `size` bytes as framed (fields with their CRLF, then the final CRLF):
    an error type, its base64 error body, and a padding field."""
    fields = (
        b"Lambda-Runtime-Function-Error-Type: Function.ValueError\r\n"
        + b"Lambda-Runtime-Function-Error-Body: "
        + base64.b64encode(json.dumps(ERROR_DOCUMENT).encode())
        + b"\r\n"
    )
    padding = size - len(fields) - len(b"X-Padding: \r\n") - 2
    section = fields + b"X-Padding: " + b"p" * padding + b"\r\n" + b"\r\n"
    assert len(section) == size
    return section


@pytest.mark.parametrize("size", [4095, limits.MAX_TRAILER_BYTES])
def test_a_trailer_section_of_up_to_4_kib_is_read(api: Api, runtime: RawRuntime, size: int) -> None:
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]

    reply = runtime.exchange(
        streaming_head(request_id, "text/plain") + chunk(b"partial") + b"0\r\n" + trailer_section(size)
    )

    assert reply.status == 202
    _, body = api.collect(invocation)
    assert body == [b"partial"]
    assert invocation.error is not None
    assert invocation.error.error_type == "Function.ValueError"
    assert json.loads(invocation.error.payload) == ERROR_DOCUMENT


@pytest.mark.parametrize("size", [limits.MAX_TRAILER_BYTES + 1, 4099])
def test_a_trailer_section_over_4_kib_truncates_the_response_as_rapid_does(
    api: Api, runtime: RawRuntime, size: int
) -> None:
    """Go's net/http reads trailers only within its 4 KiB buffer; RAPID then answers 400
    TruncatedHTTPRequest, drops the connection, and the caller gets Runtime.TruncatedResponse without
    the runtime's error."""
    invocation = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]

    reply = runtime.exchange(
        streaming_head(request_id, "text/plain") + chunk(b"partial") + b"0\r\n" + trailer_section(size)
    )

    assert (reply.status, reply.json()) == (
        400,
        {"errorMessage": "HTTP request detected as truncated", "errorType": "TruncatedHTTPRequest"},
    )
    assert runtime.sock.recv(1024) == b""
    _, body = api.collect(invocation)
    assert body == [b"partial"]
    assert invocation.error is not None
    assert invocation.error.error_type == "Runtime.TruncatedResponse"
    assert a_fresh_runtime_gets_the_next_event(api)


# -- RAPID's state rules over the wire ----------------------------------------------------------------


def test_an_init_error_after_the_runtime_asked_for_events_is_403(api: Api, runtime: RawRuntime) -> None:
    api.invoke()
    runtime.next()

    reply = runtime.exchange(
        b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}"
    )

    assert (reply.status, reply.json()) == (
        403,
        {
            "errorMessage": "State transition from Running to InitError failed for runtime. "
            "Error: State transition is not allowed",
            "errorType": "InvalidStateTransition",
        },
    )
    assert not api.server.init_failed.is_set()


def test_next_after_an_init_error_is_403(api: Api, runtime: RawRuntime) -> None:
    runtime.exchange(
        b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}"
    )

    reply = runtime.next()

    assert reply.status == 403
    assert reply.json()["errorMessage"].startswith("State transition from InitError to Ready failed")
    assert api.server.phase is Phase.INIT_FAILED


# -- SnapStart's restore routes ------------------------------------------------------------------------

RESTORE_NEXT = b"GET /2018-06-01/runtime/restore/next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def restore_error(error_type: str = "Runtime.AfterRestoreError") -> bytes:
    document = json.dumps({"errorMessage": "hook failed", "errorType": "RuntimeError"}).encode()
    return (
        b"POST /2018-06-01/runtime/restore/error HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Lambda-Runtime-Function-Error-Type: %s\r\nContent-Length: %d\r\n\r\n%s"
        % (error_type.encode(), len(document), document)
    )


def test_restore_routes_exist_only_for_snap_start(api: Api, runtime: RawRuntime) -> None:
    assert runtime.exchange(RESTORE_NEXT).status == 404
    assert runtime.exchange(restore_error()).status == 404


def test_restore_next_answers_once_the_snapshot_is_restored_then_events_flow(loop_thread: LoopThread) -> None:
    api = Api(loop_thread, snap_start=True)
    runtime = RawRuntime(api.server.address)
    replies: list[Reply] = []
    waiter = threading.Thread(target=lambda: replies.append(runtime.exchange(RESTORE_NEXT)), daemon=True)
    waiter.start()
    time.sleep(0.2)
    assert not replies, "/restore/next waits for the restore"
    assert api.server.phase is Phase.RESTORE_READY

    async def restore() -> None:
        api.server.restore()

    api.loop.run(restore())
    waiter.join(5)

    assert (replies[0].status, replies[0].body) == (200, b"")
    assert replies[0].headers["connection"] == "close", "the connection from before the snapshot ends"
    assert api.server.phase is Phase.RESTORING
    runtime.close()
    restored = RawRuntime(api.server.address)
    invocation = api.invoke()
    assert restored.next().headers["lambda-runtime-aws-request-id"] == invocation.request_id
    assert api.server.phase is Phase.READY
    restored.close()


def test_the_restore_closes_every_connection_from_before_the_snapshot(loop_thread: LoopThread) -> None:
    """A runtime that reuses a connection from before the snapshot fails: Lambda guarantees none survives."""
    api = Api(loop_thread, snap_start=True)
    idle = RawRuntime(api.server.address)
    assert idle.exchange(b"GET /2018-06-01/runtime/nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").status == 404
    waiting = RawRuntime(api.server.address)
    waiter = threading.Thread(target=lambda: waiting.exchange(RESTORE_NEXT), daemon=True)
    waiter.start()
    deadline = time.monotonic() + 5
    while api.server.phase is not Phase.RESTORE_READY and time.monotonic() < deadline:
        time.sleep(0.01)

    async def restore() -> None:
        api.server.restore()

    api.loop.run(restore())
    waiter.join(5)
    api.invoke()

    for stale in (idle, waiting):
        with pytest.raises((ConnectionError, h11.RemoteProtocolError)):
            stale.next()
        stale.close()
    fresh = RawRuntime(api.server.address)
    assert fresh.next().status == 200
    fresh.close()


def test_a_restore_error_while_restoring_is_accepted_and_recorded(loop_thread: LoopThread) -> None:
    api = Api(loop_thread, snap_start=True)

    async def restore() -> None:
        api.server.restore()

    api.loop.run(restore())  # before the runtime asks: its /restore/next then answers at once
    runtime = RawRuntime(api.server.address)
    assert runtime.exchange(RESTORE_NEXT).status == 200

    reply = runtime.exchange(restore_error())
    again = runtime.exchange(restore_error())

    assert (reply.status, reply.json()) == (202, {"status": "OK"})
    assert api.server.restore_error is not None
    assert api.server.restore_error.error_type == "Runtime.AfterRestoreError"
    assert api.server.phase is Phase.RESTORE_FAILED
    assert again.status == 403
    runtime.close()


def test_a_restore_error_before_restoring_is_403(loop_thread: LoopThread) -> None:
    api = Api(loop_thread, snap_start=True)
    runtime = RawRuntime(api.server.address)

    reply = runtime.exchange(restore_error())

    assert reply.status == 403
    assert reply.json()["errorMessage"].startswith(
        "State transition from Started to RuntimeRestoreErrorState failed"
    )
    runtime.close()


# -- several invocations at once ---------------------------------------------------------------------


def test_with_concurrency_several_runtime_connections_each_hold_an_invocation(
    loop_thread: LoopThread,
) -> None:
    api = Api(loop_thread, concurrency=3)
    runtimes = [RawRuntime(api.server.address) for _ in range(3)]
    replies: dict[int, Reply] = {}
    waiters = [
        threading.Thread(target=lambda n=n: replies.update({n: runtimes[n].next()}), daemon=True)
        for n in range(3)
    ]
    for waiter in waiters:
        waiter.start()
    time.sleep(0.2)

    invocations = [api.invoke(json.dumps({"n": n}).encode()) for n in range(3)]
    for waiter in waiters:
        waiter.join(5)

    held = {replies[n].headers["lambda-runtime-aws-request-id"]: n for n in range(3)}
    assert set(held) == {invocation.request_id for invocation in invocations}
    assert len(api.server.held) == 3
    for request_id, n in reversed(list(held.items())):  # answered out of order, each on its connection
        event = json.loads(replies[n].body)
        assert runtimes[n].exchange(buffered(request_id, b'{"echo":%d}' % event["n"])).status == 202
    for n, invocation in enumerate(invocations):
        _, body = api.collect(invocation)
        assert json.loads(b"".join(body)) == {"echo": n}
    for runtime in runtimes:
        runtime.close()


def test_with_concurrency_one_a_second_invocation_waits_for_the_first(api: Api, runtime: RawRuntime) -> None:
    first = api.invoke()
    second = api.invoke()
    request_id = runtime.next().headers["lambda-runtime-aws-request-id"]

    assert request_id == first.request_id
    assert not second.picked_up.is_set()
    assert runtime.exchange(buffered(request_id, b"{}")).status == 202
    assert runtime.next().headers["lambda-runtime-aws-request-id"] == second.request_id


FUNCTIONS = Path(__file__).parent / "functions"


def test_two_stream_fn_processes_share_one_runtime_api_with_concurrency_two(loop_thread: LoopThread) -> None:
    """Lambda Managed Instances' model: several runtime processes, each with its own one-at-a-time
    /next loop, against one Runtime API that lets them hold an invocation each."""
    api = Api(loop_thread, concurrency=2)
    config = FunctionConfig(name="fn", handler="handlers.pid_after_pause", code_dir=FUNCTIONS)

    async def scenario() -> list[tuple[int, int, int]]:
        environment = lambda_environment(config, api.server.address)
        processes = [
            await asyncio.create_subprocess_exec(*config.command(), cwd=config.code_dir, env=environment)
            for _ in range(2)
        ]
        try:
            invocations = [api.server.invoke(InvokeRequest(payload=b'{"pause": "1"}')) for _ in range(2)]
            results = []
            for invocation in invocations:
                body = await invocation.read_all()
                await invocation.finished.wait()
                results.append((int(body), invocation.timeline.picked_up_ns, invocation.timeline.ended_ns))
            return results
        finally:
            for process in processes:
                process.kill()
                await process.wait()

    (first_pid, _, first_ended), (second_pid, second_picked, _) = api.loop.run(scenario(), timeout=30)

    assert first_pid != second_pid
    assert second_picked < first_ended, "both were held at once"
