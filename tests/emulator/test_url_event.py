"""Function URL events (payload format 2.0) built from real request heads."""

from __future__ import annotations

import base64

from cdk_stream_fn.emulator.front_doors.url_event import build_url_event, is_text, url_id

NOW = 1_700_000_000.123


def event(**overrides: object) -> dict:
    arguments: dict = {
        "method": "GET",
        "target": "/items/42?a=1&b=2&a=3&empty=",
        "headers": [
            (b"Host", b"127.0.0.1:9000"),
            (b"User-Agent", b"curl/8.5.0"),
            (b"Accept", b"text/html"),
            (b"Accept", b"application/json"),
            (b"Cookie", b"session=abc; theme=dark"),
        ],
        "body": b"",
        "source_ip": "127.0.0.1",
        "function_name": "demo",
        "region": "eu-west-1",
        "request_id": "req-1",
        "trace_id": "Root=1-abc",
        "server_port": 9000,
        "now": NOW,
    }
    arguments.update(overrides)
    return build_url_event(**arguments)


def test_a_get_request_becomes_a_complete_2_0_event() -> None:
    built = event()

    assert built["version"] == "2.0"
    assert built["routeKey"] == "$default"
    assert built["rawPath"] == "/items/42"
    assert built["rawQueryString"] == "a=1&b=2&a=3&empty="
    assert built["queryStringParameters"] == {"a": "1,3", "b": "2", "empty": ""}
    assert built["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in built["headers"]
    assert built["headers"]["accept"] == "text/html,application/json"
    assert built["headers"]["host"] == "127.0.0.1:9000"
    assert built["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert built["headers"]["x-forwarded-proto"] == "http"
    assert built["headers"]["x-forwarded-port"] == "9000"
    assert built["headers"]["x-amzn-trace-id"] == "Root=1-abc"
    assert built["isBase64Encoded"] is False
    assert "body" not in built
    context = built["requestContext"]
    assert context["accountId"] == "anonymous"
    assert context["apiId"] == url_id("demo") and len(context["apiId"]) == 32
    assert context["domainName"] == "127.0.0.1:9000"
    assert context["domainPrefix"] == "127"
    assert context["http"] == {
        "method": "GET",
        "path": "/items/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "curl/8.5.0",
    }
    assert context["requestId"] == "req-1"
    assert context["time"] == "14/Nov/2023:22:13:20 +0000"
    assert context["timeEpoch"] == 1_700_000_000_123
    assert "authorizer" not in context


def test_a_json_body_is_passed_as_text() -> None:
    built = event(
        method="POST",
        headers=[(b"content-type", b"application/json; charset=utf-8")],
        body='{"name":"zoë"}'.encode(),
    )

    assert built["body"] == '{"name":"zoë"}'
    assert built["isBase64Encoded"] is False


def test_a_binary_body_is_base64() -> None:
    payload = bytes(range(256))
    built = event(method="PUT", headers=[(b"content-type", b"application/octet-stream")], body=payload)

    assert built["isBase64Encoded"] is True
    assert base64.b64decode(built["body"]) == payload


def test_text_that_is_not_utf8_is_base64() -> None:
    assert is_text("text/plain", b"caf\xe9") is False
    assert is_text("application/vnd.api+json", b"{}") is True
    assert is_text(None, b"plain") is False


def test_without_a_host_header_the_domain_is_the_url_domain() -> None:
    built = event(headers=[])

    assert built["requestContext"]["domainName"] == f"{url_id('demo')}.lambda-url.eu-west-1.on.aws"
    assert built["requestContext"]["http"]["userAgent"] == ""


def test_a_sigv4_signed_request_carries_the_iam_authorizer() -> None:
    authorization = (
        b"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/lambda/aws4_request, "
        b"SignedHeaders=host;x-amz-date, Signature=abc"
    )
    built = event(headers=[(b"authorization", authorization)], auth_type="AWS_IAM")

    iam = built["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == "AKIDEXAMPLE"
    assert built["requestContext"]["accountId"] == "123456789012"
