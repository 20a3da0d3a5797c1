"""SigV4 checks for `AWS_IAM` function URLs (opt-in: `serve --verify-sigv4`), with botocore.

"If your function URL uses the AWS_IAM auth type, you must sign each HTTP request using AWS Signature
Version 4 (SigV4). ... When your function URL receives a request, Lambda also calculates the SigV4
signature. Lambda processes the request only if the signatures match." (awsdocs/aws-lambda-developer-guide
`doc_source/urls-invocation.md`). Locally the only principal is the developer: a request must be signed
for service `lambda` in the emulator's region by the credentials `serve` runs with, and the signature is
recomputed with botocore's `SigV4Auth` over the request as it arrived.

AWS documents no bodies for these refusals; the status is 403 and the messages are the ones AWS's
endpoints are seen to send: `{"Message":"Forbidden"}` for an unsigned request (awslabs/aws-sdk-rust#515),
"The security token included in the request is invalid." for credentials it does not know
(jamesmbourne/aws4-axios#1553), "The request signature we calculated does not match the signature you
provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for
details." (erlcloud/erlcloud#690, RJPearson94/terraform-aws-open-next#48) and "Signature expired: <date>
is now earlier than <date> (<now> - 5 min.)" for a stale `X-Amz-Date`. Each refusal also carries a
`detail` that says what to change locally.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cdk_stream_fn.emulator.http.admission import Refusal

Headers = Sequence[tuple[bytes, bytes]]

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "lambda"
#: How far `X-Amz-Date` may be from the emulator's clock, as AWS allows ("... - 5 min.").
MAX_SKEW = datetime.timedelta(minutes=5)
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

FORBIDDEN = "Forbidden"
INVALID_TOKEN = "The security token included in the request is invalid."
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True)
class SigningCredentials:
    """The credentials requests must be signed with: the developer's own, as `serve` resolved them."""

    access_key: str
    secret_key: str
    token: str | None = None


class SignatureCheck:
    """Checks that requests carry a valid SigV4 signature by `credentials` for `lambda` in `region`."""

    def __init__(
        self,
        credentials: SigningCredentials,
        region: str,
        *,
        clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.timezone.utc),
    ) -> None:
        self.credentials = credentials
        self.region = region
        self._clock = clock

    def refusal(
        self, *, method: str, host: str, target: str, headers: Headers, body: bytes
    ) -> Refusal | None:
        """Why this request's signature is not accepted, or None if it is valid.

        `host` is the Host the request named, `target` its origin-form path and query as sent.
        """
        fields = _fields(headers)
        authorization = fields.get("authorization", [""])[0].strip()
        if not authorization.startswith(ALGORITHM + " "):
            return self._refuse(
                "AccessDeniedException",
                FORBIDDEN,
                "this function URL has AuthType AWS_IAM and serve checks signatures (--verify-sigv4): "
                f"sign the request with SigV4 for service '{SERVICE}' in region '{self.region}' with your "
                "AWS credentials (e.g. `cdk-stream-fn invoke URL --sign`, or botocore's SigV4Auth)",
            )
        parameters = _parameters(authorization[len(ALGORITHM) :])
        missing = [key for key in ("Credential", "SignedHeaders", "Signature") if key not in parameters]
        if missing:
            return self._refuse(
                "IncompleteSignatureException",
                " ".join(f"Authorization header requires '{key}' parameter." for key in missing),
                f"the Authorization header must name Credential, SignedHeaders and Signature ({ALGORITHM})",
            )
        scope = parameters["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            return self._refuse(
                "IncompleteSignatureException",
                "Credential should be scoped to a valid region, service and request type.",
                "the credential scope must be <access key>/<date>/<region>/lambda/aws4_request",
            )
        access_key, scope_date, region, service, _ = scope
        if access_key != self.credentials.access_key:
            return self._refuse(
                "UnrecognizedClientException",
                INVALID_TOKEN,
                f"the request is signed with access key {access_key!r}; serve accepts only the credentials "
                f"it runs with (access key {self.credentials.access_key[:4]}...{self.credentials.access_key[-4:]})",
            )
        token = fields.get("x-amz-security-token", [None])[0]
        if token != self.credentials.token:
            return self._refuse(
                "UnrecognizedClientException",
                INVALID_TOKEN,
                "the X-Amz-Security-Token header does not match the session token of serve's credentials",
            )
        if service != SERVICE or region != self.region:
            return self._refuse(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{SERVICE}' and region: '{self.region}'.",
                f"sign for service '{SERVICE}' in region '{self.region}', not '{service}' in '{region}'",
            )
        stale = self._stale(fields.get("x-amz-date", [""])[0], scope_date)
        if stale is not None:
            return stale
        signed = parameters["SignedHeaders"].lower().split(";")
        if "host" not in signed:
            return self._refuse("InvalidSignatureException", MISMATCH, "the Host header must be signed")
        declared = fields.get("x-amz-content-sha256", [None])[0]
        if declared is not None and _is_hex_digest(declared) and declared != hashlib.sha256(body).hexdigest():
            return self._refuse(
                "InvalidSignatureException",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                "the body is not the one the X-Amz-Content-SHA256 header describes",
            )
        expected = self._signature(method, host, target, headers, body, signed, fields["x-amz-date"][0])
        if not hmac.compare_digest(expected, parameters["Signature"]):
            return self._refuse(
                "InvalidSignatureException",
                MISMATCH,
                "the signature does not match this request signed with serve's credentials "
                f"(service '{SERVICE}', region '{self.region}', signed headers {';'.join(signed)})",
            )
        return None

    def _stale(self, amz_date: str, scope_date: str) -> Refusal | None:
        try:
            signed_at = datetime.datetime.strptime(amz_date, _DATE_FORMAT).replace(
                tzinfo=datetime.timezone.utc
            )
        except ValueError:
            return self._refuse(
                "IncompleteSignatureException",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
                "sign with an X-Amz-Date header (YYYYMMDDTHHMMSSZ)",
            )
        if not amz_date.startswith(scope_date):
            return self._refuse(
                "InvalidSignatureException",
                MISMATCH,
                "the date of the credential scope differs from X-Amz-Date",
            )
        now = self._clock()
        if signed_at < now - MAX_SKEW:
            return self._refuse(
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than {(now - MAX_SKEW).strftime(_DATE_FORMAT)} "
                f"({now.strftime(_DATE_FORMAT)} - 5 min.)",
                "sign the request again (signatures are good for 5 minutes)",
            )
        if signed_at > now + MAX_SKEW:
            return self._refuse(
                "InvalidSignatureException",
                f"Signature not yet current: {amz_date} is still later than "
                f"{(now + MAX_SKEW).strftime(_DATE_FORMAT)} ({now.strftime(_DATE_FORMAT)} + 5 min.)",
                "check the clock of the machine that signed the request",
            )
        return None

    def _signature(
        self,
        method: str,
        host: str,
        target: str,
        headers: Headers,
        body: bytes,
        signed: list[str],
        amz_date: str,
    ) -> str:
        """The signature botocore computes for this request, over exactly the headers the client signed."""
        from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
        from botocore.awsrequest import AWSRequest, HTTPHeaders  # type: ignore[import-untyped]
        from botocore.credentials import ReadOnlyCredentials  # type: ignore[import-untyped]

        class SignedHeadersOnly(SigV4Auth):  # type: ignore[misc]
            """SigV4Auth choosing the headers the client listed in SignedHeaders, not its own choice."""

            def headers_to_sign(self, request: Any) -> Any:
                selected = HTTPHeaders()
                for name, value in request.headers.items():
                    if name.lower() in signed:
                        selected[name.lower()] = value
                return selected

        request_headers = HTTPHeaders()
        for name, value in headers:
            request_headers[name.decode("latin-1")] = value.decode("latin-1")
        request = AWSRequest(method=method, url=f"http://{host}{target}", data=body)
        request.headers = request_headers
        request.context["timestamp"] = amz_date
        credentials = ReadOnlyCredentials(
            self.credentials.access_key, self.credentials.secret_key, self.credentials.token
        )
        signer = SignedHeadersOnly(credentials, SERVICE, self.region)
        canonical = signer.canonical_request(request)
        return str(signer.signature(signer.string_to_sign(request, canonical), request))

    @staticmethod
    def _refuse(code: str, message: str, detail: str) -> Refusal:
        return Refusal(403, code, message, detail)


def _fields(headers: Headers) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for name, value in headers:
        fields.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return fields


def _parameters(text: str) -> dict[str, str]:
    """`Credential=..., SignedHeaders=..., Signature=...` as a dict."""
    parameters = {}
    for part in text.split(","):
        key, separator, value = part.strip().partition("=")
        if separator:
            parameters[key.strip()] = value.strip()
    return parameters


def _is_hex_digest(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value.lower())
