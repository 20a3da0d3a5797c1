"""Function URLs end to end: real HTTP clients, the emulator, and real runtime processes."""

from __future__ import annotations

import asyncio
import base64
import http.client
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import h11
import httpx
import pytest

from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

from .harness import ServedEmulator, wait_for_log

pytestmark = pytest.mark.timeout(60)

FUNCTIONS = Path(__file__).parent / "functions"
RAW_RUNTIME = [sys.executable, str(Path(__file__).parent / "runtimes" / "raw_runtime.py")]

HANDLERS = {
    "hello": "handlers.hello",
    "slow": "handlers.write_sleep_write",
    "http": "handlers.http_response",
    "echo": "handlers.echo_event",
    "bytes": "handlers.stream_bytes",
    "fail-mid": "handlers.fail_mid_stream",
    "fail-early": "handlers.fail_early",
    "crash": "handlers.crash",
}
RAW_SCENARIOS = [
    "no_delimiter",
    "bad_json",
    "nul_in_header",
    "wrong_types",
    "ends_before_delimiter",
    "split_everywhere",
    "content_length_header",
    "status_100",
    "status_101",
    "status_103",
    "non_latin1_header",
    "non_latin1_cookie",
    "control_in_header",
    "no_content_with_body",
]


def functions() -> list[FunctionConfig]:
    configs = [
        FunctionConfig(name, handler, FUNCTIONS, timeout_seconds=10) for name, handler in HANDLERS.items()
    ]
    configs.append(FunctionConfig("late", "handlers.pid_after_pause", FUNCTIONS, timeout_seconds=1))
    configs.append(FunctionConfig("statuses", "statuses.handler", FUNCTIONS, timeout_seconds=10))
    configs += [FunctionConfig(f"raw-{s}", s, FUNCTIONS, runtime_command=RAW_RUNTIME) for s in RAW_SCENARIOS]
    return configs


@pytest.fixture(scope="module")
def served() -> Iterator[ServedEmulator]:
    emulator = ServedEmulator(functions())
    yield emulator
    emulator.close()


def connect(served: ServedEmulator, name: str) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", served.port(name), timeout=20)


def test_first_bytes_arrive_well_before_the_second_write(served: ServedEmulator) -> None:
    conn = connect(served, "slow")
    conn.request("GET", "/?pause=1")
    response = conn.getresponse()
    first = response.read1(65536)
    first_at = time.monotonic()
    rest = response.read()
    done_at = time.monotonic()
    conn.close()

    assert response.status == 200
    assert response.getheader("content-type") == "text/plain"
    assert response.getheader("transfer-encoding") == "chunked"
    assert first == b"first\n"
    assert rest == b"second\n"
    assert done_at - first_at > 0.5, "the first write must reach the client before the one-second pause"


def test_status_headers_and_cookies_from_http_response_stream(served: ServedEmulator) -> None:
    response = httpx.post(served.url("http") + "orders/7?x=1", content=b"{}", timeout=20)

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-custom"] == "yes"
    assert response.headers.get_list("set-cookie") == ["session=abc; Path=/; HttpOnly", "theme=dark"]
    assert response.headers["x-amzn-requestid"]
    assert response.json() == {"path": "/orders/7", "method": "POST"}


def test_the_function_receives_the_whole_request_as_a_url_event(served: ServedEmulator) -> None:
    response = httpx.put(
        served.url("echo") + "a/b?tag=1&tag=2",
        content=bytes(range(256)),
        headers={"content-type": "application/octet-stream", "x-trace": "t1", "cookie": "k=v; k2=v2"},
        timeout=20,
    )
    event = response.json()

    assert event["version"] == "2.0"
    assert event["rawPath"] == "/a/b"
    assert event["queryStringParameters"] == {"tag": "1,2"}
    assert event["cookies"] == ["k=v", "k2=v2"]
    assert event["headers"]["x-trace"] == "t1"
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == bytes(range(256))
    assert event["requestContext"]["http"]["method"] == "PUT"
    assert event["requestContext"]["requestId"] == response.headers["x-amzn-requestid"]


def test_a_raw_stream_is_a_200_with_the_runtimes_content_type(served: ServedEmulator) -> None:
    response = httpx.get(served.url("hello"), timeout=20)

    assert (response.status_code, response.headers["content-type"], response.text) == (
        200,
        "text/plain",
        "hello world",
    )


def test_keep_alive_serves_several_requests_on_one_connection(served: ServedEmulator) -> None:
    conn = connect(served, "hello")
    bodies = []
    for _ in range(3):
        conn.request("GET", "/")
        bodies.append(conn.getresponse().read())
    conn.close()

    assert bodies == [b"hello world"] * 3


def test_head_gets_the_head_without_a_body(served: ServedEmulator) -> None:
    response = httpx.head(served.url("http"), timeout=20)

    assert response.status_code == 201
    assert response.content == b""


@pytest.mark.parametrize("name", ["fail-early", "crash", "late"])
def test_a_function_that_fails_before_responding_is_a_502(served: ServedEmulator, name: str) -> None:
    response = httpx.get(served.url(name) + "?pause=5", timeout=20)

    assert response.status_code == 502
    assert response.json() == {"Message": "Internal Server Error"}


def test_an_error_mid_stream_truncates_the_response(
    served: ServedEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    conn = connect(served, "fail-mid")
    conn.request("GET", "/")
    response = conn.getresponse()

    with (
        caplog.at_level(logging.ERROR, logger="cdk_stream_fn.emulator"),
        pytest.raises(http.client.IncompleteRead) as raised,
    ):
        response.read()
    conn.close()

    assert response.status == 200
    assert raised.value.partial == b"partial output\n"
    assert "Function.ValueError" in caplog.text


@pytest.mark.parametrize(
    "scenario", ["no_delimiter", "bad_json", "nul_in_header", "wrong_types", "ends_before_delimiter"]
)
def test_a_malformed_prelude_is_a_502_with_the_reason_logged(
    served: ServedEmulator, scenario: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="cdk_stream_fn.emulator"):
        response = httpx.get(served.url(f"raw-{scenario}"), timeout=20)

    assert response.status_code == 502
    reasons = {
        "no_delimiter": "no 8-byte NUL delimiter within the first 16384 bytes",
        "bad_json": "not valid JSON",
        "nul_in_header": "contains CR, LF or NUL",
        "wrong_types": "statusCode must be an integer",
        "ends_before_delimiter": "without the 8-byte NUL delimiter",
    }
    assert reasons[scenario] in caplog.text


def test_a_prelude_split_into_single_bytes_still_decodes(served: ServedEmulator) -> None:
    response = httpx.get(served.url("raw-split_everywhere"), timeout=20)

    assert (response.status_code, response.headers["x-split"], response.text) == (202, "yes", "ok")


def test_a_content_length_from_the_function_cannot_break_framing(served: ServedEmulator) -> None:
    response = httpx.get(served.url("raw-content_length_header"), timeout=20)

    assert (response.status_code, response.text) == (200, "short")


def test_a_request_over_6_mb_is_413_and_the_emulator_keeps_serving(served: ServedEmulator) -> None:
    response = httpx.post(served.url("echo"), content=b"x" * (6 * 1024 * 1024 + 1), timeout=20)
    again = httpx.get(served.url("hello"), timeout=20)

    assert response.status_code == 413
    assert "smaller than 6291456 bytes" in response.json()["Message"]
    assert again.text == "hello world"


def test_an_event_over_6_mb_is_413_even_when_the_body_is_under(served: ServedEmulator) -> None:
    # 4.8 MB of binary becomes 6.4 MB of base64 in the event
    response = httpx.post(
        served.url("echo"),
        content=b"\xff" * 4_800_000,
        headers={"content-type": "application/octet-stream"},
        timeout=20,
    )

    assert response.status_code == 413


def test_garbage_gets_400_and_the_emulator_keeps_serving(served: ServedEmulator) -> None:
    with socket.create_connection(("127.0.0.1", served.port("hello")), timeout=10) as sock:
        sock.sendall(b"\x00\x01 NOT HTTP AT ALL\r\n\r\n")
        answer = sock.recv(4096)

    assert answer.startswith(b"HTTP/1.1 400 ")
    assert httpx.get(served.url("hello"), timeout=20).text == "hello world"


def test_a_client_that_disconnects_mid_stream_leaves_the_function_running_to_its_end(
    served: ServedEmulator,
) -> None:
    conn = connect(served, "bytes")
    conn.request("GET", f"/?size={64 * 1024 * 1024}")
    response = conn.getresponse()
    assert len(response.read(1024 * 1024)) == 1024 * 1024
    conn.sock.close()  # type: ignore[union-attr]
    conn.close()

    served.idle("bytes")
    pool = served.emulator.pools["bytes"]
    again = httpx.get(served.url("bytes") + "?size=10", timeout=20)

    assert again.content == b"\xab" * 10
    assert [sandbox.starts for sandbox in pool.sandboxes] == [1], (
        "the runtime finished normally, it was not killed"
    )


def test_each_request_gets_an_access_log_line(
    served: ServedEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="cdk_stream_fn.emulator"):
        httpx.get(served.url("hello") + "greet?x=1", timeout=20)
        logged = wait_for_log(caplog, "hello: GET /greet?x=1 -> ")

    assert "hello: GET /greet?x=1 -> 200 · first byte" in logged
    assert "· 11 bytes ·" in logged


def test_an_http_1_0_client_gets_the_stream_up_to_the_close(served: ServedEmulator) -> None:
    with socket.create_connection(("127.0.0.1", served.port("hello")), timeout=20) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        received = b""
        while data := sock.recv(65536):
            received += data

    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"transfer-encoding" not in head.lower()
    assert b"connection: close" in head.lower()
    assert body == b"hello world"


def test_204_and_304_from_a_starlette_app_leave_the_connection_usable(served: ServedEmulator) -> None:
    base = served.url("statuses")
    with httpx.Client(timeout=20) as client:
        answers = [client.get(base + path) for path in ("no-content", "not-modified", "text", "no-content")]

    assert [(a.status_code, a.content) for a in answers] == [
        (204, b""),
        (304, b""),
        (200, b"after"),
        (204, b""),
    ]
    assert answers[1].headers["etag"] == '"v1"'
    for answer in (answers[0], answers[1]):
        assert "transfer-encoding" not in answer.headers
        assert "content-length" not in answer.headers


def test_aiohttp_reads_204_304_and_head_and_the_next_response(served: ServedEmulator) -> None:
    async def fetch_all() -> list[tuple[int, bytes]]:
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector) as session:
            answers = []
            for method, path in [
                ("GET", "no-content"),
                ("GET", "not-modified"),
                ("HEAD", "text"),
                ("GET", "text"),
            ]:
                async with session.request(method, served.url("statuses") + path) as response:
                    answers.append((response.status, await response.read()))
            return answers

    assert asyncio.run(fetch_all()) == [(204, b""), (304, b""), (200, b""), (200, b"after")]


def test_a_204_ends_with_its_head_on_the_wire(served: ServedEmulator) -> None:
    client = h11.Connection(h11.CLIENT)
    with socket.create_connection(("127.0.0.1", served.port("statuses")), timeout=20) as sock:
        for path in ("/no-content", "/text"):
            sock.sendall(
                client.send(h11.Request(method="GET", target=path, headers=[("host", "127.0.0.1")])) or b""
            )
            sock.sendall(client.send(h11.EndOfMessage()) or b"")
            events = []
            while not isinstance(event := client.next_event(), h11.EndOfMessage):
                if event is h11.NEED_DATA:
                    client.receive_data(sock.recv(65536))
                else:
                    events.append(event)
            client.start_next_cycle()
            if path == "/no-content":
                assert isinstance(events[0], h11.Response) and events[0].status_code == 204
                assert len(events) == 1, "no body, not even an empty chunked one"
                assert not {b"transfer-encoding", b"content-length"} & {k for k, _ in events[0].headers}
            else:
                assert b"".join(bytes(e.data) for e in events if isinstance(e, h11.Data)) == b"after"


def test_body_bytes_a_function_sends_with_a_204_are_dropped_and_logged(
    served: ServedEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="cdk_stream_fn.emulator"),
        httpx.Client(timeout=20) as client,
    ):
        first = client.get(served.url("raw-no_content_with_body"))
        second = client.get(served.url("raw-no_content_with_body"))
        logged = wait_for_log(caplog, "dropped 27 body bytes")

    assert [(r.status_code, r.content) for r in (first, second)] == [(204, b""), (204, b"")]
    assert "dropped 27 body bytes the function sent with status 204" in logged


def test_head_of_a_204_keeps_the_connection_usable(served: ServedEmulator) -> None:
    with httpx.Client(timeout=20) as client:
        head = client.head(served.url("statuses") + "no-content")
        after = client.get(served.url("statuses") + "text")

    assert (head.status_code, head.content, after.text) == (204, b"", "after")


@pytest.mark.parametrize("status", [100, 101, 103])
def test_an_interim_status_in_the_prelude_is_a_502_that_curl_reads(
    served: ServedEmulator, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="cdk_stream_fn.emulator"):
        curl = subprocess.run(
            [
                "curl",
                "-s",
                "--max-time",
                "15",
                "-o",
                "-",
                "-w",
                "\n%{http_code} %{http_version}",
                served.url(f"raw-status_{status}"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        logged = wait_for_log(caplog, f"statusCode {status} is an interim (1xx) status")

    body, _, status_line = curl.stdout.rpartition("\n")
    assert (curl.returncode, status_line) == (0, "502 1.1")
    assert body == '{"Message": "Internal Server Error"}'
    assert f"statusCode {status} is an interim (1xx) status, which a function URL cannot send" in logged


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [
        ("non_latin1_header", "header 'x-note' has '✓' (U+2713) at position 5, outside Latin-1"),
        ("non_latin1_cookie", "cookie 'note=✓' has '✓' (U+2713) at position 5, outside Latin-1"),
        ("control_in_header", "header 'x-a' contains the control character '\\x07'"),
    ],
)
def test_a_header_no_http_head_can_carry_is_a_502_never_an_empty_reply(
    served: ServedEmulator, scenario: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="cdk_stream_fn.emulator"):
        curl = subprocess.run(
            [
                "curl",
                "-s",
                "--max-time",
                "15",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                served.url(f"raw-{scenario}"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        logged = wait_for_log(caplog, reason)

    assert (curl.returncode, curl.stdout) == (0, "502")
    assert reason in logged
    assert httpx.get(served.url("hello"), timeout=20).text == "hello world"
