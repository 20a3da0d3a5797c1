"""ASGI apps through a function URL: a real FastAPI app and plain ASGI callables, a real HTTP client."""

from __future__ import annotations

import base64
import http.client
import json
import time
from typing import Any

import httpx
import pytest
from emulator.harness import ServedEmulator, event_data

from .conftest import logged, read_event_stream, wait_for_log

pytestmark = pytest.mark.timeout(60)


def get(served: ServedEmulator, function: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(served.url(function) + path.lstrip("/"), timeout=20, **kwargs)


def test_the_scope_carries_method_path_query_headers_client_and_server(served: ServedEmulator) -> None:
    response = httpx.get(
        served.url("fastapi") + "echo/caf%C3%A9/a%2Fb",
        params=[("tag", "x"), ("tag", "y z"), ("empty", "")],
        headers={"x-trace": "abc", "accept-language": "fr"},
        timeout=20,
    )
    echo = response.json()
    headers = dict(echo["headers"])

    assert response.status_code == 200
    assert echo["method"] == "GET"
    assert echo["path"] == "/echo/café/a/b"
    assert echo["raw_path"] == "/echo/caf%C3%A9/a%2Fb"
    assert echo["root_path"] == ""
    assert echo["query_string"] == "tag=x&tag=y+z&empty="
    assert echo["query"] == [["tag", "x"], ["tag", "y z"], ["empty", ""]]
    assert headers["x-trace"] == "abc"
    assert headers["accept-language"] == "fr"
    assert headers["host"] == f"127.0.0.1:{served.port('fastapi')}"
    assert echo["client"] == ["127.0.0.1", 0]
    assert echo["server"] == ["127.0.0.1", served.port("fastapi")]
    # The emulator says x-forwarded-proto: http; a real function URL says https.
    assert echo["scheme"] == "http"
    assert echo["http_version"] == "1.1"
    assert echo["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert echo["url"].startswith(f"http://127.0.0.1:{served.port('fastapi')}/echo/")
    assert echo["request_id"] == response.headers["x-amzn-requestid"]
    assert echo["function_url_event"] is True


def test_cookies_sent_by_the_client_reach_the_app(served: ServedEmulator) -> None:
    response = get(served, "fastapi", "/echo/c", headers={"cookie": "session=abc; theme=dark"})

    assert response.json()["cookies"] == {"session": "abc", "theme": "dark"}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", json.dumps({"name": "Zoë", "items": [1, 2]}).encode()),
        ("text/plain; charset=utf-8", "plain text, ünïcode".encode()),
        ("application/octet-stream", bytes(range(256)) * 3),
        ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\xff\x00" * 100),
    ],
)
def test_request_bodies_arrive_byte_for_byte(served: ServedEmulator, content_type: str, body: bytes) -> None:
    response = httpx.post(
        served.url("fastapi") + "echo/upload",
        content=body,
        headers={"content-type": content_type},
        timeout=20,
    )

    assert response.status_code == 200
    assert base64.b64decode(response.json()["body"]) == body


def test_status_codes_pass_through(served: ServedEmulator) -> None:
    statuses = {
        code: get(served, "fastapi", f"/status/{code}").status_code for code in (201, 202, 404, 418, 503)
    }

    assert statuses == {201: 201, 202: 202, 404: 404, 418: 418, 503: 503}
    assert get(served, "fastapi", "/no-such-route").status_code == 404


def test_response_headers_and_every_set_cookie_reach_the_client(served: ServedEmulator) -> None:
    response = get(served, "fastapi", "/cookies")

    assert response.status_code == 200
    assert response.text == "cookies set"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-custom"] == "custom value"
    assert response.headers["x-multi"] == "one, two"
    set_cookies = response.headers.get_list("set-cookie")
    assert len(set_cookies) == 2
    assert set_cookies[0].startswith("session=abc123;")
    assert "HttpOnly" in set_cookies[0] and "SameSite=strict" in set_cookies[0]
    assert set_cookies[1].startswith("theme=dark;") and "Max-Age=3600" in set_cookies[1]
    assert response.cookies["theme"] == "dark"


def test_json_lines_stream_line_by_line(served: ServedEmulator) -> None:
    with httpx.stream("GET", served.url("fastapi") + "jsonl?count=6", timeout=20) as response:
        lines = [json.loads(line) for line in response.iter_lines() if line]

    assert response.headers["content-type"] == "application/x-ndjson"
    assert lines == [{"index": index, "square": index * index} for index in range(6)]


def test_server_sent_events_arrive_one_by_one_as_the_app_produces_them(served: ServedEmulator) -> None:
    response, received = read_event_stream(served.port("fastapi"), "/sse?events=3&gap=0.6")
    arrivals = [arrival for arrival, _ in received]
    events = [event_data(text) for _, text in received]

    assert response.status == 200
    assert response.getheader("content-type") == "text/event-stream; charset=utf-8"
    assert response.getheader("cache-control") == "no-cache"
    assert [event["index"] for event in events] == [0, 1, 2]
    assert len(arrivals) == 3
    # The app sleeps 0.6 s between events: the client sees each one when it is produced, not all at the end.
    assert arrivals[1] - arrivals[0] > 0.3
    assert arrivals[2] - arrivals[1] > 0.3


def test_is_disconnected_is_false_while_the_response_streams(served: ServedEmulator) -> None:
    response = get(served, "fastapi", "/sse?events=2&gap=0.05")
    events = [event_data(block) for block in response.text.split("\n\n") if block]

    assert [event["disconnected"] for event in events] == [False, False]


def test_an_app_error_before_the_response_is_a_500_without_details_and_logged_with_the_request_id(
    served: ServedEmulator,
) -> None:
    response = get(served, "fastapi", "/fail-early")
    request_id = response.headers["x-amzn-requestid"]
    logs = "\n".join(wait_for_log(served, "fastapi", "secret database password"))

    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert "secret" not in response.text
    assert any(request_id in line and "Exception in the ASGI app" in line for line in logs.splitlines())


def test_an_error_after_the_response_started_truncates_it(served: ServedEmulator) -> None:
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("GET", served.url("fastapi") + "fail-mid", timeout=20) as response,
    ):
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            received += chunk
    logs = "\n".join(wait_for_log(served, "fastapi", "broke after the first part"))

    assert received == b"first part\n"
    assert "[ERROR] ValueError: broke after the first part" in logs


def test_a_plain_asgi_app_without_lifespan_support_is_served_with_a_complete_scope(
    served: ServedEmulator,
) -> None:
    response = get(served, "raw-asgi", "/scope?a=1")
    scope = response.json()

    assert response.status_code == 200
    assert scope["type"] == "http"
    assert scope["method"] == "GET"
    assert scope["path"] == "/scope"
    assert scope["raw_path"] == "/scope"
    assert scope["query_string"] == "a=1"
    assert scope["root_path"] == ""
    assert scope["has_state"] is False
    assert scope["request"] == {"type": "http.request", "more_body": False}


def test_repeated_headers_are_joined_and_set_cookies_kept_apart(served: ServedEmulator) -> None:
    response = get(served, "raw-asgi", "/repeated-headers")

    assert response.status_code == 201
    assert response.text == "created"
    assert response.headers["vary"] == "accept, accept-encoding"
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/; HttpOnly"]
    assert response.cookies["a"] == "1" and response.cookies["b"] == "2"


def test_receive_gives_http_disconnect_once_the_response_is_complete(served: ServedEmulator) -> None:
    response = get(served, "raw-asgi", "/disconnect-after-response")

    assert response.text == "done"
    assert logged(served, "raw-asgi", "after the response, receive() gave http.disconnect")


@pytest.mark.parametrize("path", ["/raise-before-start", "/raise-after-start-before-body", "/no-response"])
def test_a_failure_before_any_byte_is_a_plain_500(served: ServedEmulator, path: str) -> None:
    response = get(served, "raw-asgi", path)

    assert response.status_code == 500
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "Internal Server Error"
    assert "secret" not in response.text


def test_the_500_log_names_the_exception(served: ServedEmulator) -> None:
    response = get(served, "raw-asgi", "/raise-before-start")
    request_id = response.headers["x-amzn-requestid"]
    logs = wait_for_log(served, "raw-asgi", request_id)
    lines = [line for line in logs if request_id in line]

    assert any("Exception in the ASGI app; answering 500 Internal Server Error" in line for line in lines)
    assert logged(served, "raw-asgi", 'raise KeyError("secret key name")')


def test_a_header_with_a_line_break_is_refused_not_sent(served: ServedEmulator) -> None:
    response = get(served, "raw-asgi", "/bad-header")

    assert response.status_code == 500
    assert "evil" not in response.headers.get("set-cookie", "")


def test_an_interim_status_is_refused_with_what_to_use_and_answered_with_a_500(
    served: ServedEmulator,
) -> None:
    response = get(served, "raw-asgi", "/early-hints")

    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert logged(
        served, "raw-asgi", "the ASGI app's response status must be an int from 200 to 599, got 103"
    )
    assert logged(served, "raw-asgi", "send the Link headers with the final response")


def test_an_app_that_returns_mid_response_leaves_it_truncated(served: ServedEmulator) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        get(served, "raw-asgi", "/incomplete")
    logs = wait_for_log(served, "raw-asgi", "IncompleteResponseError")

    assert any(
        "IncompleteResponseError: the ASGI app returned before the response was complete" in line
        for line in logs
    )


def test_an_empty_response_keeps_its_status_and_headers(served: ServedEmulator) -> None:
    response = get(served, "raw-asgi", "/empty")

    assert response.status_code == 204
    assert response.headers["x-empty"] == "yes"
    assert response.content == b""


def test_an_empty_body_part_sends_the_status_and_headers_before_the_body(served: ServedEmulator) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", served.port("raw-asgi"), timeout=20)
    try:
        started = time.monotonic()
        connection.request("GET", "/headers-first")
        response = connection.getresponse()
        headers_at = time.monotonic() - started
        body = response.read()
        body_at = time.monotonic() - started
    finally:
        connection.close()

    assert response.status == 200
    assert response.getheader("content-type") == "text/plain"
    assert body == b"the slow part"
    assert body_at - headers_at > 0.3  # the app waits 0.6 s after the empty part
