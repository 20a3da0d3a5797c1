"""A function URL's Cors configuration: the rules as tables, then preflights and responses over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cdk_stream_fn.emulator.front_doors import cors
from cdk_stream_fn.emulator.sandboxes.config import CorsSettings, FunctionConfig

from .harness import ServedEmulator

pytestmark = pytest.mark.timeout(60)

FUNCTIONS = Path(__file__).parent / "functions"
APP = "http://localhost:5173"
SETTINGS = CorsSettings(
    allow_origins=(APP,),
    allow_methods=("GET", "PUT"),
    allow_headers=("content-type", "x-api-key"),
    expose_headers=("x-custom",),
    max_age=300,
)
PREFLIGHT = [
    (b"origin", APP.encode()),
    (b"access-control-request-method", b"PUT"),
    (b"access-control-request-headers", b"x-api-key"),
]


def test_a_preflight_is_an_options_request_with_origin_and_a_requested_method() -> None:
    assert cors.is_preflight("OPTIONS", PREFLIGHT)
    assert not cors.is_preflight("OPTIONS", [(b"origin", APP.encode())])
    assert not cors.is_preflight("PUT", PREFLIGHT)


def test_an_allowed_origin_gets_every_configured_preflight_header() -> None:
    assert cors.preflight_headers(SETTINGS, PREFLIGHT) == [
        ("access-control-allow-origin", APP),
        ("vary", "Origin"),
        ("access-control-allow-methods", "GET, PUT"),
        ("access-control-allow-headers", "content-type, x-api-key"),
        ("access-control-max-age", "300"),
    ]


@pytest.mark.parametrize("origin", [b"http://localhost:5174", b"https://localhost:5173", b"null"])
def test_an_origin_outside_allow_origins_gets_no_cors_headers(origin: bytes) -> None:
    headers = [(b"origin", origin), (b"access-control-request-method", b"GET")]

    assert cors.preflight_headers(SETTINGS, headers) == []
    assert cors.response_headers(SETTINGS, headers) == []


def test_a_wildcard_origin_is_answered_with_a_wildcard_unless_credentials_are_allowed() -> None:
    anyone = CorsSettings(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))
    with_cookies = CorsSettings(
        allow_origins=("*",), allow_methods=("*",), allow_headers=("*",), allow_credentials=True
    )

    assert cors.preflight_headers(anyone, PREFLIGHT) == [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-methods", "*"),
        ("access-control-allow-headers", "*"),
    ]
    assert cors.preflight_headers(with_cookies, PREFLIGHT) == [
        ("access-control-allow-origin", APP),
        ("vary", "Origin"),
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-methods", "PUT"),
        ("access-control-allow-headers", "x-api-key"),
    ]


def test_responses_get_origin_and_expose_headers_only_for_a_browser_origin() -> None:
    assert cors.response_headers(SETTINGS, [(b"origin", APP.encode())]) == [
        ("access-control-allow-origin", APP),
        ("vary", "Origin"),
        ("access-control-expose-headers", "x-custom"),
    ]
    assert cors.response_headers(SETTINGS, []) == []


def test_the_urls_cors_headers_take_precedence_over_the_functions() -> None:
    function_headers = [
        ("content-type", "text/plain"),
        ("Access-Control-Allow-Origin", "*"),
        ("access-control-max-age", "1"),
    ]
    url_headers = [("access-control-allow-origin", APP), ("vary", "Origin")]

    assert cors.apply(function_headers, url_headers) == [
        ("content-type", "text/plain"),
        ("access-control-max-age", "1"),
        ("access-control-allow-origin", APP),
        ("vary", "Origin"),
    ]
    assert cors.apply(function_headers, []) == function_headers


@pytest.fixture(scope="module")
def served() -> Iterator[ServedEmulator]:
    emulator = ServedEmulator(
        [
            FunctionConfig("with-cors", "handlers.http_response", FUNCTIONS, cors=SETTINGS),
            FunctionConfig("no-cors", "handlers.echo_event", FUNCTIONS),
        ]
    )
    yield emulator
    emulator.close()


def test_the_url_answers_a_preflight_itself(served: ServedEmulator) -> None:
    response = httpx.options(
        served.url("with-cors") + "items",
        headers={name.decode(): value.decode() for name, value in PREFLIGHT},
        timeout=20,
    )

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == APP
    assert response.headers["access-control-allow-methods"] == "GET, PUT"
    assert response.headers["access-control-allow-headers"] == "content-type, x-api-key"
    assert response.headers["access-control-max-age"] == "300"
    assert "x-amzn-requestid" in response.headers


def test_without_cors_configured_a_preflight_reaches_the_function(served: ServedEmulator) -> None:
    response = httpx.options(
        served.url("no-cors"), headers={"origin": APP, "access-control-request-method": "PUT"}, timeout=20
    )

    assert response.status_code == 200
    assert response.json()["requestContext"]["http"]["method"] == "OPTIONS"
    assert "access-control-allow-origin" not in response.headers


def test_a_cross_origin_response_carries_the_configured_headers_and_curl_gets_none(
    served: ServedEmulator,
) -> None:
    browser = httpx.get(served.url("with-cors") + "x", headers={"origin": APP}, timeout=20)
    other = httpx.get(served.url("with-cors") + "x", headers={"origin": "http://evil.test"}, timeout=20)
    plain = httpx.get(served.url("with-cors") + "x", timeout=20)

    assert browser.status_code == 201
    assert browser.json() == {"path": "/x", "method": "GET"}
    assert browser.headers["access-control-allow-origin"] == APP
    assert browser.headers["access-control-expose-headers"] == "x-custom"
    assert browser.headers["x-custom"] == "yes"
    assert other.status_code == 201
    assert "access-control-allow-origin" not in other.headers
    assert plain.status_code == 201
    assert not [name for name in plain.headers if name.startswith("access-control-")]
