"""`serve --verify-sigv4`: AWS_IAM function URLs check SigV4 signatures (botocore signs the requests)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cdk_stream_fn.emulator.front_doors.iam_auth import MISMATCH, SignatureCheck, SigningCredentials
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

from .harness import ServedEmulator

pytestmark = pytest.mark.timeout(60)

FUNCTIONS = Path(__file__).parent / "functions"
KEY, SECRET = "AKIDLOCALEXAMPLE0001", "local-secret-for-tests"
DEVELOPER = SigningCredentials(KEY, SECRET)


def signed_headers(
    url: str,
    *,
    method: str = "POST",
    body: bytes = b"{}",
    key: str = KEY,
    secret: str = SECRET,
    token: str | None = None,
    region: str = "us-east-1",
    service: str = "lambda",
) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body, headers={"content-type": "application/json"})
    SigV4Auth(Credentials(key, secret, token), service, region).add_auth(request)
    return dict(request.headers.items())


@pytest.fixture(scope="module")
def served() -> Iterator[ServedEmulator]:
    emulator = ServedEmulator(
        [
            FunctionConfig("private", "handlers.echo_event", FUNCTIONS, auth_type="AWS_IAM"),
            FunctionConfig("public", "handlers.echo_event", FUNCTIONS, auth_type="NONE"),
        ],
        signing_credentials=DEVELOPER,
    )
    yield emulator
    emulator.close()


def test_a_request_signed_with_the_developers_credentials_runs(served: ServedEmulator) -> None:
    url = served.url("private") + "items?b=2&a=1"

    response = httpx.post(url, headers=signed_headers(url), content=b"{}", timeout=20)

    assert response.status_code == 200
    event = response.json()
    assert event["rawPath"] == "/items"
    assert event["requestContext"]["authorizer"]["iam"]["accessKey"] == KEY


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"secret": "not-the-secret"}, "InvalidSignatureException", MISMATCH),
        (
            {"key": "AKIDSOMEONEELSE00000"},
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        (
            {"token": "a-session-token"},
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        (
            {"region": "eu-west-1"},
            "InvalidSignatureException",
            "Credential should be scoped to correct service: 'lambda' and region: 'us-east-1'.",
        ),
        (
            {"service": "execute-api"},
            "InvalidSignatureException",
            "Credential should be scoped to correct service: 'lambda' and region: 'us-east-1'.",
        ),
    ],
)
def test_a_request_signed_otherwise_is_forbidden_as_aws_would(
    served: ServedEmulator, change: dict[str, str], code: str, message: str
) -> None:
    url = served.url("private")

    response = httpx.post(url, headers=signed_headers(url, **change), content=b"{}", timeout=20)

    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"] == code
    assert response.json()["Message"] == message
    assert response.json()["Detail"]


def test_an_unsigned_request_is_forbidden_and_says_how_to_sign(served: ServedEmulator) -> None:
    response = httpx.post(served.url("private"), content=b"{}", timeout=20)

    assert response.status_code == 403
    assert response.json()["Message"] == "Forbidden"
    assert "cdk-stream-fn invoke URL --sign" in response.json()["Detail"]


@pytest.mark.parametrize("tamper", ["body", "path", "query", "method"])
def test_a_request_changed_after_signing_does_not_match(served: ServedEmulator, tamper: str) -> None:
    url = served.url("private") + "items?a=1"
    headers = signed_headers(url, body=b'{"amount": 1}')
    method, target, body = "POST", url, b'{"amount": 1}'
    if tamper == "body":
        body = b'{"amount": 1000}'
    elif tamper == "path":
        target = served.url("private") + "admin?a=1"
    elif tamper == "query":
        target = served.url("private") + "items?a=2"
    else:
        method = "PUT"

    response = httpx.request(method, target, headers=headers, content=body, timeout=20)

    assert response.status_code == 403
    assert response.json()["Message"] == MISMATCH


def test_urls_with_auth_type_none_need_no_signature(served: ServedEmulator) -> None:
    assert httpx.post(served.url("public"), content=b"{}", timeout=20).status_code == 200


def test_a_stale_or_future_signature_is_refused_with_aws_wording() -> None:
    url = "http://127.0.0.1:9000/"
    headers = [(name.lower().encode(), value.encode()) for name, value in signed_headers(url).items()]
    headers.append((b"host", b"127.0.0.1:9000"))
    now = datetime.datetime.now(datetime.timezone.utc)

    def check(at: datetime.datetime) -> str | None:
        refusal = SignatureCheck(DEVELOPER, "us-east-1", clock=lambda: at).refusal(
            method="POST", host="127.0.0.1:9000", target="/", headers=headers, body=b"{}"
        )
        return None if refusal is None else refusal.message

    assert check(now) is None
    late = check(now + datetime.timedelta(minutes=10))
    early = check(now - datetime.timedelta(minutes=10))
    assert late is not None and late.startswith("Signature expired: ") and late.endswith(" - 5 min.)")
    assert early is not None and early.startswith("Signature not yet current: ")
