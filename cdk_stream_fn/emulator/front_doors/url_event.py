"""The function URL event (payload format 2.0) for one HTTP request.

Shape as in the Lambda developer guide ("Invoking Lambda function URLs", request payload): header
names lower-cased and repeated values joined with commas, `Cookie` moved to `cookies`, repeated query
parameters joined with commas, `body` base64-encoded unless the request is text, `requestContext`
with the URL's id, domain, request id and time. Locally the URL's domain is the Host the client
used, so functions that build absolute links get working local ones.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from cdk_stream_fn.emulator import limits

#: Content types whose bodies Lambda passes as text (`isBase64Encoded: false`) when they are UTF-8.
_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|javascript|xml|x-www-form-urlencoded|graphql|x-ndjson)|.*\+(json|xml))$"
)
_ACCESS_KEY = re.compile(r"Credential=([A-Z0-9]+)/")


def url_id(function_name: str) -> str:
    """A stable 32-character URL id per function, like the `<url-id>` in `<url-id>.lambda-url...`."""
    return hashlib.sha256(function_name.encode()).hexdigest()[:32]


def is_text(content_type: str | None, body: bytes) -> bool:
    """Whether the body goes into the event as text: a textual content type and valid UTF-8."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not _TEXT_TYPES.match(media_type):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def build_url_event(
    *,
    method: str,
    target: str,
    headers: Sequence[tuple[bytes, bytes]],
    body: bytes,
    source_ip: str,
    function_name: str,
    region: str,
    request_id: str | None = None,
    trace_id: str | None = None,
    http_version: str = "1.1",
    server_port: int | None = None,
    auth_type: str = "NONE",
    now: float | None = None,
) -> dict[str, Any]:
    """Build the event a function behind a function URL receives for this request."""
    now = time.time() if now is None else now
    request_id = request_id or str(uuid.uuid4())
    raw_path, _, raw_query = target.partition("?")
    raw_path = raw_path or "/"

    joined: dict[str, str] = {}
    cookies: list[str] = []
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    joined.setdefault("x-forwarded-for", source_ip)
    joined.setdefault("x-forwarded-proto", "http")
    if server_port is not None:
        joined.setdefault("x-forwarded-port", str(server_port))
    if trace_id:
        joined.setdefault("x-amzn-trace-id", trace_id)

    api_id = url_id(function_name)
    domain = joined.get("host") or f"{api_id}.lambda-url.{region}.on.aws"
    request_context: dict[str, Any] = {
        "accountId": "anonymous" if auth_type == "NONE" else limits.ACCOUNT_ID,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": f"HTTP/{http_version}",
            "sourceIp": source_ip,
            "userAgent": joined.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    authorizer = _iam_authorizer(joined.get("authorization"))
    if authorizer is not None:
        request_context["authorizer"] = authorizer

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    if raw_query:
        parameters: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            parameters[key] = f"{parameters[key]},{value}" if key in parameters else value
        event["queryStringParameters"] = parameters
    event["requestContext"] = request_context
    if body:
        text = is_text(joined.get("content-type"), body)
        event["body"] = body.decode("utf-8") if text else base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = not text
    else:
        event["isBase64Encoded"] = False
    return event


def _iam_authorizer(authorization: str | None) -> dict[str, Any] | None:
    """`requestContext.authorizer.iam` for a SigV4-signed request (the signature itself is not checked)."""
    if not authorization or not authorization.startswith("AWS4-HMAC-SHA256"):
        return None
    match = _ACCESS_KEY.search(authorization)
    access_key = match.group(1) if match else ""
    return {
        "iam": {
            "accessKey": access_key,
            "accountId": limits.ACCOUNT_ID,
            "callerId": access_key,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": f"arn:aws:iam::{limits.ACCOUNT_ID}:user/local",
            "userId": access_key,
        }
    }
