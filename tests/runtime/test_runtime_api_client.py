"""The Runtime API client on its own: reply framing, addresses, request ids, streamed requests, and a broken
or absent server."""

from __future__ import annotations

import _socket
import socket
import threading
import time
from typing import Any

import pytest
from stream_fn import ResponseStream, StreamConnectionError
from stream_fn.runtime_api import (
    ConnectionLostError,
    RuntimeApiClient,
    RuntimeApiError,
    RuntimeApiUnavailableError,
    parse_address,
    path_segment,
)

from .fake_runtime_api import API, FakeRuntimeApi

pytestmark = pytest.mark.timeout(30)


def test_next_invocation_reads_the_event_and_its_headers(
    fake_api: FakeRuntimeApi, client: RuntimeApiClient
) -> None:
    fake_api.push(
        {"k": "v"},
        request_id="req-1",
        deadline_ms=1234,
        extra_headers=[("Lambda-Runtime-Aws-Tenant-Id", "t")],
    )
    invocation = client.next_invocation()
    assert invocation.request_id == "req-1"
    assert invocation.deadline_ms == 1234
    assert invocation.tenant_id == "t"
    assert invocation.content_type == "application/json"
    assert invocation.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:test-fn"
    assert invocation.body == b'{"k": "v"}'


@pytest.mark.parametrize("chunked", [False, True])
def test_large_events_arrive_intact_with_either_framing(
    fake_api: FakeRuntimeApi, client: RuntimeApiClient, chunked: bool
) -> None:
    fake_api.chunked_replies = chunked
    body = bytes(range(256)) * (5 * 4096)  # 5 MiB
    fake_api.push(raw_body=body, content_type="application/octet-stream")
    assert client.next_invocation().body == body
    client.post_response("any", b"{}", "application/json")  # the connection is still in step


def test_buffered_response_request_exact_bytes(fake_api: FakeRuntimeApi, client: RuntimeApiClient) -> None:
    client.post_response("req-2", b'"ok"', "application/json")
    assert fake_api.raw_bytes() == (
        b"POST /2018-06-01/runtime/invocation/req-2/response HTTP/1.1\r\n"
        + f"Host: {fake_api.address}\r\n".encode()
        + b'User-Agent: test-agent\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\n"ok"'
    )


def test_request_ids_are_percent_encoded_into_the_path(
    fake_api: FakeRuntimeApi, client: RuntimeApiClient
) -> None:
    client.post_response("a b/c\u00e9", b"{}", "application/json")
    assert fake_api.requests[0].target == f"{API}/invocation/a%20b%2Fc%C3%A9/response"
    assert path_segment("8476a536-e9f4-11e8-9739-2dfe598c3fcd") == "8476a536-e9f4-11e8-9739-2dfe598c3fcd"


def test_an_unexpected_status_is_an_error_with_the_body(
    fake_api: FakeRuntimeApi, client: RuntimeApiClient
) -> None:
    fake_api.response_status = lambda request: (403, b'{"errorType":"InvalidStateTransition"}')
    with pytest.raises(RuntimeApiError, match="HTTP 403.*InvalidStateTransition") as raised:
        client.post_response("req-3", b"{}", "application/json")
    assert not raised.value.fatal
    fake_api.response_status = lambda request: (500, b"")
    with pytest.raises(RuntimeApiError) as raised:
        client.post_invocation_error("req-4", b"{}", "Function.X", None)
    assert raised.value.fatal


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:9001", ("127.0.0.1", 9001)),
        ("localhost:1", ("localhost", 1)),
        ("[::1]:9001", ("::1", 9001)),
    ],
)
def test_addresses(address: str, expected: tuple[str, int]) -> None:
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", ["9001", "host:", ":9001", "host:port", "host:70000"])
def test_bad_addresses_say_what_is_expected(address: str) -> None:
    with pytest.raises(ValueError, match="AWS_LAMBDA_RUNTIME_API must be host:port"):
        parse_address(address)


def test_a_host_name_is_resolved(fake_api: FakeRuntimeApi) -> None:
    client = RuntimeApiClient(fake_api.address.replace("127.0.0.1", "localhost"), "test-agent")
    try:
        fake_api.push({}, request_id="via-localhost")
        assert client.next_invocation().request_id == "via-localhost"
    finally:
        client.close()


def test_no_server_is_reported_clearly() -> None:
    with socket.create_server(("127.0.0.1", 0)) as unused:
        port = unused.getsockname()[1]
    client = RuntimeApiClient(f"127.0.0.1:{port}", "test-agent", reconnect_delays=(0.01,))
    with pytest.raises(RuntimeApiUnavailableError, match=f"Runtime API at 127.0.0.1:{port}"):
        client.next_invocation()


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "invalid status line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            "closed the connection in the middle of a reply",
        ),
        (b"", "closed the connection before replying"),
    ],
)
def test_a_malformed_reply_is_an_error_that_says_what_was_wrong(reply: bytes, message: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:

        def answer() -> None:
            for _ in range(2):  # the first attempt and the one retry get the same bad reply
                try:
                    connection, _ = server.accept()
                except OSError:
                    return
                with connection:
                    connection.recv(65536)
                    connection.sendall(reply)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        client = RuntimeApiClient(
            f"127.0.0.1:{server.getsockname()[1]}", "test-agent", reconnect_delays=(0.01,)
        )
        with pytest.raises(RuntimeApiUnavailableError, match=message):
            client.next_invocation()
        client.close()
    thread.join(timeout=5)


def test_a_streamed_request_frames_each_part_as_one_chunk_and_ends_with_its_trailers(
    fake_api: FakeRuntimeApi, client: RuntimeApiClient
) -> None:
    request = client.streamed_response("req-s", "text/plain")
    assert fake_api.raw_bytes() == b""  # nothing goes out before the first part
    request.send([b"ab", bytearray(b"c")])
    request.send_chunk(memoryview(b"xyz"), 3)
    request.finish([b"end"], [("Lambda-Runtime-Function-Error-Type", "Function.X")])

    recorded = fake_api.wait_for_result("req-s")
    assert recorded.chunks == [b"ab", b"c", b"xyz", b"end"]
    assert recorded.trailers == [("lambda-runtime-function-error-type", "Function.X")]
    assert fake_api.raw_bytes() == (
        b"POST /2018-06-01/runtime/invocation/req-s/response HTTP/1.1\r\n"
        + f"Host: {fake_api.address}\r\n".encode()
        + b"User-Agent: test-agent\r\nContent-Type: text/plain\r\n"
        + b"Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
        + b"Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n"
        + b"2\r\nab\r\n1\r\nc\r\n3\r\nxyz\r\n3\r\nend\r\n"
        + b"0\r\nLambda-Runtime-Function-Error-Type: Function.X\r\n\r\n"
    )


class CountingSocket(_socket.socket):
    """The client's real socket, counting its ``sendmsg`` calls and what each one carried."""

    sent: list[list[bytes]]

    def sendmsg(self, buffers: Any, *args: Any) -> int:  # type: ignore[override]
        buffers = list(buffers)
        self.sent.append([bytes(buffer) for buffer in buffers])
        return super().sendmsg(buffers, *args)


def test_each_write_is_one_sendmsg_and_the_head_goes_with_the_first(
    fake_api: FakeRuntimeApi, client: RuntimeApiClient
) -> None:
    fake_api.push({}, request_id="req-count")
    client.next_invocation()  # opens the connection the streamed request will reuse
    connection = client._connection
    assert connection is not None
    counting = CountingSocket(fileno=connection.sock.detach())
    counting.sent = []
    connection.sock = counting

    stream = ResponseStream(client, "req-count")
    payload = b"p" * 100_000
    stream.write(b"first")
    stream.write(payload)
    stream.write("third")
    stream.end()

    assert fake_api.wait_for_result("req-count").chunks == [b"first", payload, b"third"]
    first, second, third, last = counting.sent
    assert first[0].startswith(b"POST ") and first[1:] == [b"5\r\n", b"first", b"\r\n"]
    assert second == [b"186a0\r\n", payload, b"\r\n"]
    assert third == [b"5\r\n", b"third", b"\r\n"]
    assert last == [b"0\r\n\r\n"]


def test_a_send_that_fails_reports_the_reply_the_runtime_api_sent_before_closing() -> None:
    """RAPID may answer a streamed request before it is complete (e.g. 413) and close the connection."""
    reply = b'{"errorType":"Function.ResponseSizeTooLarge"}'
    with socket.create_server(("127.0.0.1", 0)) as server:

        def answer_early() -> None:
            connection, _ = server.accept()
            received = b""
            while b"\r\n\r\n" not in received:
                received += connection.recv(65536)
            connection.sendall(
                b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: application/json\r\n"
                + b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(reply), reply)
            )
            time.sleep(0.2)  # more of the body arrives unread, so the close resets the connection
            connection.close()

        thread = threading.Thread(target=answer_early, daemon=True)
        thread.start()
        client = RuntimeApiClient(f"127.0.0.1:{server.getsockname()[1]}", "test-agent")
        stream = ResponseStream(client, "req-early")
        try:
            with pytest.raises(StreamConnectionError) as raised:
                for _ in range(2000):
                    stream.write(b"x" * 4096)
                    time.sleep(0.001)
        finally:
            client.close()
        thread.join(timeout=5)

    message = str(raised.value)
    assert "lost the connection to the Lambda Runtime API" in message
    assert "the Runtime API answered HTTP 413: " + reply.decode() in message
    assert isinstance(raised.value.__cause__, ConnectionLostError)
    assert client._connection is None  # the next request opens a new connection
