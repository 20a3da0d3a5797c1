"""Slow, idle and too many clients: timeouts and the connection cap of the function URL and Lambda API
servers, seen from raw sockets and real clients. Short timeouts are configured; nothing asserts a duration."""

from __future__ import annotations

import base64
import http.client
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cdk_stream_fn.emulator.http.settings import ServerSettings
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

from .harness import ServedEmulator, wait_for_log

pytestmark = pytest.mark.timeout(60)

FUNCTIONS = Path(__file__).parent / "functions"
SHORT = 0.4

Serve = Callable[..., ServedEmulator]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start an emulator serving `hello`, `echo` and `bytes` with the given `ServerSettings` fields."""
    started: list[ServedEmulator] = []

    def _serve(**settings: float | None) -> ServedEmulator:
        functions = [
            FunctionConfig("hello", "handlers.hello", FUNCTIONS, timeout_seconds=30),
            FunctionConfig("echo", "handlers.echo_event", FUNCTIONS, timeout_seconds=30),
            FunctionConfig("bytes", "handlers.stream_bytes", FUNCTIONS, timeout_seconds=30),
        ]
        started.append(ServedEmulator(functions, http_settings=ServerSettings(**settings)))  # type: ignore[arg-type]
        return started[-1]

    yield _serve
    for emulator in started:
        emulator.close()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=20)


def read_to_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while data := sock.recv(65536):
        received += data
    return received


def test_a_request_head_that_does_not_arrive_in_time_gets_408(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    served = serve(header_timeout=SHORT)
    with (
        caplog.at_level(logging.WARNING, logger="cdk_stream_fn.emulator"),
        connect(served.port("hello")) as sock,
    ):
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        answer = read_to_close(sock)

    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"connection: close\r\n" in answer.lower()
    assert "sent no complete request head within 0.4 s: 408" in caplog.text


def test_a_late_head_on_a_keep_alive_connection_gets_408_too(serve: Serve) -> None:
    served = serve(header_timeout=SHORT)
    conn = http.client.HTTPConnection("127.0.0.1", served.port("hello"), timeout=20)
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"hello world"
    assert conn.sock is not None
    conn.sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    answer = read_to_close(conn.sock)
    conn.close()

    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_a_head_sent_a_line_at_a_time_must_still_be_whole_in_time(serve: Serve) -> None:
    served = serve(header_timeout=SHORT)
    with connect(served.port("hello")) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        sock.settimeout(SHORT / 8)
        answer = b""
        while not answer:  # slowloris: a header line well within every gap, the head never complete
            try:
                sock.sendall(b"x-slow: yes\r\n")
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(20)
        answer += read_to_close(sock)

    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_a_body_that_stops_arriving_gets_408(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    served = serve(body_timeout=SHORT)
    with (
        caplog.at_level(logging.WARNING, logger="cdk_stream_fn.emulator"),
        connect(served.port("echo")) as sock,
    ):
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        answer = read_to_close(sock)

    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert "sent no request body bytes for 0.4 s: 408" in caplog.text


def test_a_body_that_keeps_coming_slowly_is_read_whole(serve: Serve) -> None:
    served = serve(body_timeout=2.0)
    pieces = [b"a" * 10] * 5
    stop = threading.Event()

    def slowly() -> Iterator[bytes]:
        for piece in pieces:
            stop.wait(0.2)
            yield piece

    response = httpx.post(served.url("echo"), content=slowly(), timeout=20)

    assert response.status_code == 200
    assert base64.b64decode(response.json()["body"]) == b"a" * 50


def test_an_idle_keep_alive_connection_is_closed_quietly(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    served = serve(keep_alive_timeout=SHORT)
    conn = http.client.HTTPConnection("127.0.0.1", served.port("hello"), timeout=20)
    with caplog.at_level(logging.DEBUG, logger="cdk_stream_fn.emulator"):
        answers = []
        for _ in range(3):  # one after the other: each idle wait starts its own timeout
            conn.request("GET", "/")
            answers.append(conn.getresponse().read())
        assert conn.sock is not None
        after = read_to_close(conn.sock)
    conn.close()

    assert answers == [b"hello world"] * 3
    assert after == b"", "closed without a word: an unsolicited 408 would read as the next request's answer"
    assert "was idle for 0.4 s after its last response: connection closed" in caplog.text


def test_a_connection_that_never_sends_a_request_is_closed_quietly(serve: Serve) -> None:
    served = serve(header_timeout=SHORT)
    with connect(served.port("hello")) as sock:
        assert read_to_close(sock) == b""
    assert httpx.get(served.url("hello"), timeout=20).text == "hello world"


def test_the_lambda_api_has_the_same_timeouts(serve: Serve) -> None:
    served = serve(header_timeout=SHORT)
    port = int(served.endpoint.rsplit(":", 1)[1])
    with connect(port) as sock:
        sock.sendall(b"POST /2015-03-31/functions/hello/invocations HTTP/1.1\r\n")
        answer = read_to_close(sock)

    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_a_client_that_reads_none_of_a_response_is_dropped_and_the_function_runs_on(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    served = serve(send_timeout=SHORT)
    size = 64 * 1024 * 1024
    with (
        caplog.at_level(logging.WARNING, logger="cdk_stream_fn.emulator"),
        connect(served.port("bytes")) as sock,
    ):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(f"GET /?size={size} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        logged = wait_for_log(caplog, "read none of the response for 0.4 s: connection dropped")
        try:
            received = read_to_close(sock)
        except ConnectionResetError:
            received = b""

    assert "read none of the response for 0.4 s: connection dropped" in logged
    assert len(received) < size
    served.idle("bytes")
    assert httpx.get(served.url("bytes") + "?size=10", timeout=20).content == b"\xab" * 10


def test_at_the_cap_the_oldest_idle_connection_makes_room(serve: Serve) -> None:
    served = serve(max_connections=2)
    port = served.port("hello")
    with connect(port) as oldest:
        younger = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        younger.request("GET", "/")  # served, then idle like `oldest`, which never sent anything
        assert younger.getresponse().read() == b"hello world"

        newest = httpx.get(served.url("hello"), timeout=20)

        assert newest.text == "hello world"
        assert read_to_close(oldest) == b"", "the oldest idle connection was closed to make room"
        younger.request("GET", "/")
        assert younger.getresponse().read() == b"hello world", "the younger one still serves"
        younger.close()


def test_at_the_cap_with_no_idle_connection_new_clients_wait_their_turn(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    served = serve(max_connections=1)
    port = served.port("echo")
    with caplog.at_level(logging.WARNING, logger="cdk_stream_fn.emulator"), connect(port) as busy:
        busy.sendall(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
        )
        assert busy.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"  # reading the body: not idle
        with connect(port) as waiting:  # the kernel completes the handshake; the server does not accept it
            waiting.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            wait_for_log(caplog, "new connections wait until one closes")
            busy.sendall(b"{}")  # the busy exchange ends; its connection turns idle and makes room
            answer = read_to_close(waiting)
        first = read_to_close(busy)

    assert (
        "1 connections open, the cap (max_connections): new connections wait until one closes" in caplog.text
    )
    assert "ERROR" not in caplog.text, "the connection closed to make room is closed cleanly"
    assert first.startswith(b"HTTP/1.1 200 OK\r\n") and first.endswith(b"0\r\n\r\n"), (
        "answered whole, then closed"
    )
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), "the waiting client was accepted and served"


def test_settings_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"header_timeout must be positive or None, got 0; max_connections"):
        ServerSettings(header_timeout=0, max_connections=-1)
