"""WSGI apps through a function URL: a real Flask app and a plain WSGI callable, a real HTTP client."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from emulator.harness import ServedEmulator, event_data

from .conftest import logged, read_event_stream, wait_for_log

pytestmark = pytest.mark.timeout(60)


def test_the_environ_carries_method_path_query_headers_and_server(served: ServedEmulator) -> None:
    response = httpx.get(
        served.url("flask") + "echo/caf%C3%A9/x",
        params=[("tag", "x"), ("tag", "y z")],
        headers={"x-trace": "abc", "cookie": "session=abc; theme=dark"},
        timeout=20,
    )
    echo = response.json()

    assert response.status_code == 200
    assert echo["method"] == "GET"
    assert echo["rest"] == "café/x"
    assert echo["path"] == "/echo/café/x"
    assert echo["script_name"] == ""
    assert echo["path_info"] == "/echo/café/x".encode().decode("latin-1")  # PEP 3333: bytes as latin-1
    assert echo["query_string"] == "tag=x&tag=y+z"
    assert echo["args"] == [["tag", "x"], ["tag", "y z"]]
    assert echo["cookies"] == {"session": "abc", "theme": "dark"}
    assert echo["remote_addr"] == "127.0.0.1"
    assert echo["server"] == ["127.0.0.1", str(served.port("flask"))]
    assert echo["scheme"] == "http"
    assert echo["url"] == f"http://127.0.0.1:{served.port('flask')}/echo/café/x?tag=x&tag=y+z"  # an IRI
    assert echo["http_headers"]["HTTP_X_TRACE"] == "abc"
    assert echo["http_headers"]["HTTP_HOST"] == f"127.0.0.1:{served.port('flask')}"
    assert echo["request_id"] == response.headers["x-amzn-requestid"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"name=Zo%C3%AB&items=1&items=2"),
        ("text/csv", "a,b\n1,ü\n".encode()),
        ("application/octet-stream", bytes(range(256)) * 4),
    ],
)
def test_request_bodies_arrive_byte_for_byte(served: ServedEmulator, content_type: str, body: bytes) -> None:
    response = httpx.put(
        served.url("flask") + "echo/upload", content=body, headers={"content-type": content_type}, timeout=20
    )
    echo = response.json()

    assert response.status_code == 200
    assert base64.b64decode(echo["body"]) == body
    assert echo["content_type"] == content_type
    assert echo["content_length"] == str(len(body))


def test_a_flask_generator_streams_event_by_event(served: ServedEmulator) -> None:
    response, received = read_event_stream(served.port("flask"), "/stream?count=3&gap=0.6")
    arrivals = [arrival for arrival, _ in received]
    events = [event_data(text) for _, text in received]

    assert response.status == 200
    assert response.getheader("content-type") == "text/event-stream; charset=utf-8"
    assert events == [{"index": index, "path": "/stream"} for index in range(3)]  # request context kept alive
    assert arrivals[1] - arrivals[0] > 0.3
    assert arrivals[2] - arrivals[1] > 0.3


def test_json_lines_stream_line_by_line(served: ServedEmulator) -> None:
    with httpx.stream("GET", served.url("flask") + "jsonl?count=5", timeout=20) as response:
        lines = [json.loads(line) for line in response.iter_lines() if line]

    assert response.headers["content-type"] == "application/x-ndjson"
    assert lines == [{"index": index} for index in range(5)]


def test_status_headers_and_every_set_cookie_reach_the_client(served: ServedEmulator) -> None:
    response = httpx.get(served.url("flask") + "cookies", timeout=20)

    assert response.status_code == 202
    assert response.text == "cookies set"
    assert response.headers["x-multi"] == "one, two"
    set_cookies = response.headers.get_list("set-cookie")
    assert len(set_cookies) == 2
    assert set_cookies[0].startswith("session=abc123;") and "HttpOnly" in set_cookies[0]
    assert set_cookies[1].startswith("theme=dark;")
    assert httpx.get(served.url("flask") + "missing", timeout=20).status_code == 404


def test_an_error_while_streaming_truncates_the_response(served: ServedEmulator) -> None:
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("GET", served.url("flask") + "fail-mid", timeout=20) as response,
    ):
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            received += chunk
    logs = "\n".join(wait_for_log(served, "flask", "broke after the first part"))

    assert received == b"first part\n"
    assert "[ERROR] ValueError: broke after the first part" in logs


def test_the_write_callable_and_the_iterable_both_stream_and_close_is_called(served: ServedEmulator) -> None:
    response = httpx.get(served.url("raw-wsgi") + "write", timeout=20)

    assert response.status_code == 200
    assert response.text == "written directly, then iterated"
    assert logged(served, "raw-wsgi", "close() called for /write")


def test_close_is_called_even_when_the_iterable_fails(served: ServedEmulator) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(served.url("raw-wsgi") + "iterable-fails", timeout=20)

    assert logged(served, "raw-wsgi", "close() called for /iterable-fails")


def test_an_exception_before_the_response_is_a_500_logged_with_the_request_id(served: ServedEmulator) -> None:
    response = httpx.get(served.url("raw-wsgi") + "raise-before-start", timeout=20)
    request_id = response.headers["x-amzn-requestid"]
    logs = wait_for_log(served, "raw-wsgi", request_id)

    assert response.status_code == 500
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "Internal Server Error"
    assert any(request_id in line and "Exception in the WSGI app" in line for line in logs)


def test_start_response_with_exc_info_replaces_the_status_before_the_body(served: ServedEmulator) -> None:
    response = httpx.get(served.url("raw-wsgi") + "exc-info-before-body", timeout=20)

    assert response.status_code == 503
    assert response.text == "replaced by a 503"


def test_an_interim_status_is_refused_with_what_to_use_and_answered_with_a_500(
    served: ServedEmulator,
) -> None:
    response = httpx.get(served.url("raw-wsgi") + "early-hints", timeout=20)

    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert logged(
        served, "raw-wsgi", "the WSGI app's response status must be an int from 200 to 599, got 103"
    )


def test_a_header_value_beyond_latin_1_is_refused_naming_the_header_and_what_to_do(
    served: ServedEmulator,
) -> None:
    refused = httpx.get(served.url("raw-wsgi") + "header-beyond-latin-1", timeout=20)
    assert refused.status_code == 500
    assert "x-note" not in refused.headers
    assert logged(served, "raw-wsgi", "the value of header 'X-Note' has '\u2713' (U+2713)")
    assert logged(served, "raw-wsgi", "Percent-encode the value")

    accepted = httpx.get(served.url("raw-wsgi") + "header-in-latin-1", timeout=20)
    assert accepted.status_code == 200 and accepted.text == "sent"  # Latin-1 letters such as é stay allowed


def test_an_empty_body_keeps_status_and_headers_and_is_closed(served: ServedEmulator) -> None:
    response = httpx.get(served.url("raw-wsgi") + "empty", timeout=20)

    assert response.status_code == 204
    assert response.headers["x-empty"] == "yes"
    assert logged(served, "raw-wsgi", "close() called for /empty")


def test_an_app_that_never_calls_start_response_is_a_500(served: ServedEmulator) -> None:
    response = httpx.get(served.url("raw-wsgi") + "no-start-response", timeout=20)

    assert response.status_code == 500
    assert response.text == "Internal Server Error"
