"""Who gets through the emulator's doors, probed as an attacker would: foreign Host names, browser pages,
proxy-style request targets, and AWS_IAM URLs called from other origins. Real clients, real servers."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cdk_stream_fn.emulator.sandboxes.config import CorsSettings, FunctionConfig
from cdk_stream_fn.emulator.sandboxes.runtime_api import RuntimeApiServer

from .harness import LoopThread, RawRuntime, ServedEmulator, lambda_client

pytestmark = pytest.mark.timeout(60)

FUNCTIONS = Path(__file__).parent / "functions"


@pytest.fixture(scope="module")
def served() -> Iterator[ServedEmulator]:
    emulator = ServedEmulator(
        [
            FunctionConfig("public", "handlers.note_invocation", FUNCTIONS, auth_type="NONE"),
            FunctionConfig("private", "handlers.note_invocation", FUNCTIONS, auth_type="AWS_IAM"),
            FunctionConfig("echo", "handlers.echo_event", FUNCTIONS),
            FunctionConfig(
                "private-app",
                "handlers.note_invocation",
                FUNCTIONS,
                auth_type="AWS_IAM",
                cors=CorsSettings(allow_origins=("http://localhost:5173",)),
            ),
            FunctionConfig(
                "private-any",
                "handlers.note_invocation",
                FUNCTIONS,
                auth_type="AWS_IAM",
                cors=CorsSettings(allow_origins=("*",)),
            ),
        ],
        allowed_hosts=("dev.example.test",),
    )
    yield emulator
    emulator.close()


def invocations(served: ServedEmulator) -> int:
    return sum(1 for _, line in served.log_lines if line.startswith("invoked "))


def raw_exchange(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send raw request bytes; read the answer until the server closes or its Content-Length is in."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        while len(body) < int(headers.get("content-length", "0")):
            body += sock.recv(65536)
    return lines[0], headers, body


# -- Host names (DNS rebinding) --------------------------------------------------------------------


def test_a_function_url_refuses_a_foreign_host_before_the_function_runs(served: ServedEmulator) -> None:
    before = invocations(served)

    rebound = httpx.post(
        served.url("public"), headers={"host": "attacker.example"}, content=b"{}", timeout=20
    )
    added = httpx.get(served.url("public"), headers={"host": "dev.example.test"}, timeout=20)
    localhost = httpx.get(f"http://localhost:{served.port('public')}/", timeout=20)

    assert rebound.status_code == 421
    assert rebound.headers["x-amzn-errortype"] == "MisdirectedRequest"
    assert rebound.headers["connection"] == "close"
    assert "Host 'attacker.example' is not a name of this server" in rebound.json()["Message"]
    assert "--allow-host" in rebound.json()["Message"]
    assert (added.status_code, localhost.status_code) == (200, 200)
    assert invocations(served) == before + 2


def test_the_lambda_api_refuses_a_foreign_host_and_serves_its_own_names(served: ServedEmulator) -> None:
    port = served.endpoint.rsplit(":", 1)[1]

    rebound = httpx.post(
        f"{served.endpoint}/2015-03-31/functions/public/invocations",
        headers={"host": f"attacker.example:{port}"},
        content=b"{}",
        timeout=20,
    )
    by_name = lambda_client(f"http://localhost:{port}").invoke(FunctionName="public", Payload=b"{}")

    assert rebound.status_code == 421
    assert rebound.headers["x-amzn-errortype"] == "MisdirectedRequest"
    assert "DNS rebinding" in rebound.json()["Message"]
    assert by_name["StatusCode"] == 200


def test_a_runtime_api_refuses_foreign_hosts_and_browser_pages(loop_thread: LoopThread) -> None:
    api = loop_thread.run(RuntimeApiServer.start())
    runtime = RawRuntime(api.address)
    try:
        rebound = runtime.exchange(
            b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: attacker.example\r\n\r\n"
        )
        runtime = RawRuntime(api.address)
        page = runtime.exchange(
            b"POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Origin: http://attacker.example\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
        )
        own = runtime.exchange(
            f"GET /2018-06-01/runtime/nothing HTTP/1.1\r\nHost: {api.address}\r\n\r\n".encode()
        )
    finally:
        runtime.close()
        loop_thread.run(api.stop())

    assert rebound.status == 421
    assert rebound.json()["errorType"] == "MisdirectedRequest"
    assert page.status == 403
    assert (
        page.json()["errorMessage"]
        == "browser pages may not call this server (Origin: http://attacker.example)"
    )
    assert own.status == 404


# -- Browser pages and the Lambda API --------------------------------------------------------------


@pytest.mark.parametrize(
    "marks",
    [
        {"origin": "http://localhost:5173", "content-type": "text/plain"},
        {"origin": "null", "content-type": "text/plain"},
        {"sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors"},
        {"sec-fetch-site": "same-site", "sec-fetch-mode": "no-cors"},
    ],
)
def test_the_lambda_api_refuses_a_browser_page_without_running_the_function(
    served: ServedEmulator, marks: dict[str, str]
) -> None:
    before = invocations(served)

    response = httpx.post(
        f"{served.endpoint}/2015-03-31/functions/public/invocations", headers=marks, content=b"{}", timeout=20
    )
    sdk = lambda_client(served.endpoint).invoke(FunctionName="public", Payload=b"{}")

    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"] == "AccessDeniedException"
    assert "refuses requests from browser pages" in response.json()["Message"]
    assert sdk["StatusCode"] == 200
    assert invocations(served) == before + 1


# -- Request targets -------------------------------------------------------------------------------


def test_connect_never_reaches_the_function(served: ServedEmulator) -> None:
    before = invocations(served)

    status, headers, body = raw_exchange(
        served.port("public"), b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
    )

    assert status == "HTTP/1.1 405 Method Not Allowed"
    assert headers["allow"] == "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    assert headers["connection"] == "close"
    assert json.loads(body)["Message"] == "a function URL is not a proxy: CONNECT is not served"
    assert invocations(served) == before


def test_options_asterisk_is_answered_by_the_url_itself(served: ServedEmulator) -> None:
    before = invocations(served)

    status, headers, body = raw_exchange(
        served.port("public"), b"OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )

    assert status == "HTTP/1.1 200 OK"
    assert headers["allow"] == "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    assert body == b""
    assert invocations(served) == before


def test_methods_lambda_does_not_pass_on_get_405(served: ServedEmulator) -> None:
    status, headers, body = raw_exchange(
        served.port("public"), b"TRACE / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )

    assert status == "HTTP/1.1 405 Method Not Allowed"
    assert headers["allow"] == "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    assert (
        json.loads(body)["Message"]
        == "a function URL serves GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, not TRACE"
    )


def test_an_absolute_uri_reaches_the_function_as_its_path(served: ServedEmulator) -> None:
    port = served.port("echo")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    connection.request("GET", f"http://localhost:{port}/a/b?q=1", headers={"Host": f"127.0.0.1:{port}"})
    event = json.loads(connection.getresponse().read())
    connection.request("GET", "http://attacker.example/a", headers={"Host": f"127.0.0.1:{port}"})
    foreign = connection.getresponse()
    foreign.read()
    connection.close()

    assert event["rawPath"] == "/a/b"
    assert event["rawQueryString"] == "q=1"
    assert event["headers"]["host"] == f"localhost:{port}"
    assert event["requestContext"]["domainName"] == f"localhost:{port}"
    assert foreign.status == 421


def test_the_lambda_api_routes_an_absolute_uri_by_its_path(served: ServedEmulator) -> None:
    port = int(served.endpoint.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    connection.request(
        "POST", f"http://127.0.0.1:{port}/2015-03-31/functions/public/invocations", body=b'{"a": 1}'
    )
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()

    assert response.status == 200
    assert json.loads(body["body"]) == {"a": 1}


# -- AWS_IAM URLs and browser pages ----------------------------------------------------------------


def test_an_aws_iam_url_refuses_a_page_of_another_origin(served: ServedEmulator) -> None:
    before = invocations(served)

    response = httpx.post(
        served.url("private"),
        headers={"origin": "http://localhost:5173", "content-type": "text/plain"},
        content=b"{}",
        timeout=20,
    )
    navigation = httpx.get(served.url("private"), headers={"sec-fetch-site": "cross-site"}, timeout=20)

    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"] == "AccessDeniedException"
    assert response.json()["Message"] == "Forbidden"
    assert (
        "a browser page (Origin: http://localhost:5173) called this AuthType AWS_IAM"
        in response.json()["Detail"]
    )
    assert navigation.status_code == 403
    assert invocations(served) == before


def test_an_aws_iam_url_serves_curl_sdks_and_its_own_pages(served: ServedEmulator) -> None:
    url = served.url("private")
    before = invocations(served)

    plain = httpx.post(url, content=b"{}", timeout=20)
    same_origin = httpx.post(
        url,
        headers={"origin": url.rstrip("/"), "sec-fetch-site": "same-origin", "content-type": "text/plain"},
        content=b"{}",
        timeout=20,
    )
    public = httpx.post(
        served.url("public"), headers={"origin": "http://localhost:5173"}, content=b"{}", timeout=20
    )

    assert (plain.status_code, same_origin.status_code, public.status_code) == (200, 200, 200)
    assert invocations(served) == before + 3


def test_an_aws_iam_url_serves_pages_of_an_origin_its_cors_names(served: ServedEmulator) -> None:
    app = {"origin": "http://localhost:5173", "content-type": "text/plain"}
    other = {"origin": "http://localhost:8080", "content-type": "text/plain"}

    named = httpx.post(served.url("private-app"), headers=app, content=b"{}", timeout=20)
    unnamed = httpx.post(served.url("private-app"), headers=other, content=b"{}", timeout=20)
    wildcard = httpx.post(served.url("private-any"), headers=app, content=b"{}", timeout=20)

    assert named.status_code == 200
    assert named.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert unnamed.status_code == 403
    assert wildcard.status_code == 403
    assert wildcard.headers["access-control-allow-origin"] == "*"
