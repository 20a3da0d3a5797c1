"""The Lambda API's two invoke operations, so boto3 (`endpoint_url=...`) works against the emulator.

Shapes come from botocore's service model for lambda:
- `Invoke`: `POST /2015-03-31/functions/{FunctionName}/invocations`; the response body is the
  payload, `X-Amz-Function-Error: Unhandled` marks a function error (the body is then the error
  document), `X-Amz-Executed-Version`, and `X-Amz-Log-Result` for `X-Amz-Log-Type: Tail`.
  `InvocationType` `Event` answers 202 at once, `DryRun` 204. Buffered: 6 MB each way.
- `InvokeWithResponseStream`: `POST /2021-11-15/functions/{FunctionName}/response-streaming-invocations`;
  the body is an event stream of `PayloadChunk` events and one `InvokeComplete` whose `ErrorCode`
  and `ErrorDetails` carry the function's error (from the runtime's trailers, a timeout, a crash,
  the 200 MB cap); the HTTP `Content-Type` is the runtime's (`ResponseStreamContentType`).
- API errors: status, `x-amzn-ErrorType` and `{"Type": "User", "Message": ...}` as botocore's
  rest-json parser reads them (`ResourceNotFoundException` 404, `RequestTooLargeException` 413,
  `InvalidParameterValueException` / `InvalidRequestContentException` 400).
- A function whose reserved concurrency is used up: 429 `TooManyRequestsException`,
  `{"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User", "message": "Rate
  Exceeded."}` (the `Reason` values are botocore's `ThrottleReason` enum; the message is Lambda's, as
  callers quote it, e.g. alexcasalboni/aws-lambda-power-tuning#133). `Event` invocations are queued,
  not throttled, as Lambda queues asynchronous events.

Who may call it: the Host must be a name of this server (421 `MisdirectedRequest` otherwise, see
`http.admission`), and a request a browser page made (it carries `Origin`, or `Sec-Fetch-Site:
cross-site`/`same-site`) is refused with 403 `AccessDeniedException`: SDKs and the CLI send neither, and
no page of another origin has any business invoking functions with the developer's credentials (a
`text/plain` POST needs no CORS preflight, so the browser would send it). An absolute URI
(`POST http://host/2015-03-31/...`) is routed by its path.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import time
from collections.abc import Mapping
from urllib.parse import parse_qs, unquote

from cdk_stream_fn.emulator import limits
from cdk_stream_fn.emulator.front_doors import event_stream
from cdk_stream_fn.emulator.http.admission import browser_site
from cdk_stream_fn.emulator.http.connection import (
    BodyTooLarge,
    ClientGone,
    HttpConnection,
    Request,
)
from cdk_stream_fn.emulator.http.server import HttpServer
from cdk_stream_fn.emulator.http.settings import ServerSettings
from cdk_stream_fn.emulator.http.targets import TargetForm, parse_target
from cdk_stream_fn.emulator.platform_errors import FunctionError, response_too_large
from cdk_stream_fn.emulator.sandboxes.invocation import Invocation, InvocationFailed
from cdk_stream_fn.emulator.sandboxes.pool import FunctionPool, Throttled
from cdk_stream_fn.emulator.sandboxes.sandbox import LOG_TAIL_BYTES

log = logging.getLogger("cdk_stream_fn.emulator")

_ROUTE = re.compile(
    r"^/(?P<version>2015-03-31|2021-11-15)/functions/(?P<name>[^/]+)/"
    r"(?P<operation>invocations|response-streaming-invocations)$"
)
_ARN_NAME = re.compile(
    r"^(?:arn:[^:]+:lambda:[^:]*:\d*:)?(?:\d{12}:)?(?:function:)?(?P<name>[^:]+)(?::(?P<qualifier>.+))?$"
)


class ApiError(Exception):
    """An error the Lambda API answers with (not a function error)."""

    def __init__(self, status: int, error_type: str, message: str, **fields: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        #: More members of the error document (a throttle's `Reason`).
        self.fields = fields

    def document(self) -> dict[str, str]:
        """The JSON error body: `Type` and `Message` (a throttle's is `message`, as Lambda sends it)."""
        if self.error_type == "TooManyRequestsException":
            return {**self.fields, "Type": "User", "message": self.message}
        return {**self.fields, "Type": "User", "Message": self.message}


class LambdaApiServer:
    """`Invoke` and `InvokeWithResponseStream` for the functions in `pools` (name or alias to pool);
    `settings` are the server's timeouts and connection cap (`ServerSettings()`'s defaults unless given)."""

    def __init__(
        self,
        pools: Mapping[str, FunctionPool],
        *,
        region: str = "us-east-1",
        allowed_hosts: tuple[str, ...] = (),
        settings: ServerSettings | None = None,
    ) -> None:
        self.pools = dict(pools)
        self.region = region
        self._http = HttpServer(
            name="Lambda API",
            serve=self._serve,
            settings=settings or ServerSettings(),
            allowed_hosts=allowed_hosts,
        )
        self._background: set[asyncio.Task[None]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> LambdaApiServer:
        await self._http.start(host, port)
        return self

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def endpoint_url(self) -> str:
        return f"http://{self._http.host}:{self._http.port}"

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._http.stop()

    async def _serve(self, conn: HttpConnection) -> None:
        while (request := await conn.next_request()) is not None:
            try:
                await self._route(conn, request)
            except ApiError as error:
                await _api_error(conn, error, close=conn.close_after_response())
            if conn.close_after_response():
                return

    async def _route(self, conn: HttpConnection, request: Request) -> None:
        """Answer one request (a streamed one ends cleanly even when the function fails: the error
        travels in `InvokeComplete`); raise `ApiError` for a request the API refuses."""
        target = parse_target(request.method, request.target)
        refusal = self._http.hosts.refusal(request.headers, request.http_version, authority=target.authority)
        if refusal is not None:
            log.warning("Lambda API: %s %s refused: %s", request.method, request.target, refusal.message)
            raise ApiError(refusal.status, refusal.code, refusal.message)
        browser = browser_site(request.headers)
        if browser is not None:
            log.warning(
                "Lambda API: %s %s from a browser page (%s): 403", request.method, request.target, browser
            )
            raise ApiError(
                403,
                "AccessDeniedException",
                f"the Lambda API of cdk-stream-fn serve refuses requests from browser pages ({browser}): "
                "they would invoke your functions with your AWS credentials. Call it from an SDK or "
                "`cdk-stream-fn invoke`; a page can use a function URL (with its Cors configuration).",
            )
        if target.form is TargetForm.ABSOLUTE:
            path, query = target.path, target.query
        else:
            path, _, query = request.target.partition("?")
        match = _ROUTE.match(path)
        if match is None or request.method != "POST":
            raise ApiError(
                404,
                "UnknownOperationException",
                f"{request.method} {path} is not an operation this emulator serves; it serves "
                "Invoke (POST /2015-03-31/functions/{name}/invocations) and InvokeWithResponseStream "
                "(POST /2021-11-15/functions/{name}/response-streaming-invocations)",
            )
        streaming = match["operation"] == "response-streaming-invocations"
        pool = self._find(unquote(match["name"]), parse_qs(query).get("Qualifier", [None])[0])
        invocation_type = request.header(b"x-amz-invocation-type") or "RequestResponse"
        allowed = ("RequestResponse", "DryRun") if streaming else ("RequestResponse", "Event", "DryRun")
        if invocation_type not in allowed:
            raise ApiError(
                400,
                "InvalidParameterValueException",
                f"InvocationType must be one of {', '.join(allowed)}, got {invocation_type!r}",
            )
        client_context = _client_context(request.header(b"x-amz-client-context"))
        try:
            payload = await conn.read_body(limits.MAX_REQUEST_PAYLOAD_BYTES)
        except BodyTooLarge as error:
            raise ApiError(
                413,
                "RequestTooLargeException",
                f"{error.size} byte payload is too large for the {invocation_type} invocation type "
                f"(limit {error.limit} bytes)",
            ) from None
        payload = payload or b"{}"
        try:
            json.loads(payload)
        except ValueError as error:
            raise ApiError(
                400, "InvalidRequestContentException", f"Could not parse request body into json: {error}"
            ) from None
        if invocation_type == "DryRun":
            await conn.respond(204, b"", headers=_version_header())
            return
        try:
            invocation = await pool.submit(
                pool.request(payload, client_context=client_context), throttle=invocation_type != "Event"
            )
        except Throttled as throttled:
            log.warning("Lambda API: throttled (429): %s", throttled)
            raise ApiError(
                429,
                "TooManyRequestsException",
                "Rate Exceeded.",
                Reason="ReservedFunctionConcurrentInvocationLimitExceeded",
            ) from None
        if invocation_type == "Event":
            task = asyncio.create_task(_drain(invocation))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            await conn.respond(202, b"", headers=[("x-amzn-requestid", invocation.request_id)])
            return
        tail = (request.header(b"x-amz-log-type") or "None") == "Tail"
        if tail:
            invocation.want_log_tail()
        try:
            if streaming:
                await _respond_streaming(conn, invocation, tail=tail)
            else:
                await _respond_buffered(conn, invocation, tail=tail)
        finally:
            if not invocation.ended:
                invocation.abandon()
            operation = "InvokeWithResponseStream" if streaming else "Invoke"
            failure = f" · {invocation.error.error_type}" if invocation.error else ""
            elapsed = (time.perf_counter_ns() - invocation.timeline.submitted_ns) / 1e9
            log.info(
                "%s: %s -> %d bytes · %.2f s%s",
                pool.config.name,
                operation,
                invocation.bytes_received,
                elapsed,
                failure,
            )

    def _find(self, function_name: str, qualifier: str | None) -> FunctionPool:
        match = _ARN_NAME.match(function_name)
        name = match["name"] if match else function_name
        qualifier = qualifier or (match["qualifier"] if match else None)
        pool = self.pools.get(name) or self.pools.get(function_name)
        if pool is None or qualifier not in (None, limits.FUNCTION_VERSION):
            arn = f"arn:aws:lambda:{self.region}:{limits.ACCOUNT_ID}:function:{name}"
            if qualifier:
                arn += f":{qualifier}"
            served = ", ".join(sorted(self.pools)) or "none"
            raise ApiError(404, "ResourceNotFoundException", f"Function not found: {arn} (serving: {served})")
        return pool


async def _respond_buffered(conn: HttpConnection, invocation: Invocation, *, tail: bool) -> None:
    error: FunctionError | None = None
    content_type = "application/json"
    body = b""
    try:
        head = await invocation.head()
    except InvocationFailed as failed:
        error = failed.error
    else:
        content_type = head.content_type
        parts, size = [], 0
        async for data in invocation.body():
            size += len(data)
            if size > limits.MAX_BUFFERED_RESPONSE_BYTES:
                invocation.abandon()
                error = response_too_large(limits.MAX_BUFFERED_RESPONSE_BYTES)
                break
            parts.append(data)
        body = b"".join(parts)
        error = error or invocation.error
    await _finished_running(invocation, tail)
    headers = _version_header() + [("x-amzn-requestid", invocation.request_id)]
    if tail:
        headers.append(("x-amz-log-result", _log_result(invocation)))
    if error is not None:
        headers.append(("x-amz-function-error", "Unhandled"))
        body, content_type = error.payload, "application/json"
    await conn.respond(200, body, content_type=content_type, headers=headers)


async def _respond_streaming(conn: HttpConnection, invocation: Invocation, *, tail: bool) -> None:
    try:
        head = await invocation.head()
        content_type = head.content_type
        failed = None
    except InvocationFailed as error:
        content_type, failed = "application/json", error.error
    headers = [
        ("content-type", content_type),
        *_version_header(),
        ("x-amzn-requestid", invocation.request_id),
    ]
    await conn.start_response(200, headers)
    if failed is None:
        async for data in invocation.body():
            for start in range(0, len(data), event_stream.MAX_PAYLOAD_BYTES):
                await conn.send_body(
                    event_stream.payload_chunk(data[start : start + event_stream.MAX_PAYLOAD_BYTES])
                )
        failed = invocation.error
    await _finished_running(invocation, tail)
    log_result = _log_result(invocation) if tail else None
    if failed is not None:
        log.warning("request %s ended with %s: %s", invocation.request_id, failed.error_type, failed.message)
        complete = event_stream.invoke_complete(failed.error_type, failed.message, log_result)
    else:
        complete = event_stream.invoke_complete(log_result=log_result)
    await conn.end_response(complete)


async def _finished_running(invocation: Invocation, tail: bool) -> None:
    """With `LogType: Tail`, wait (briefly) for the sandbox to finish so the log tail is complete."""
    if tail:
        try:
            await asyncio.wait_for(invocation.want_log_tail().wait(), 2)
        except asyncio.TimeoutError:
            pass


async def _drain(invocation: Invocation) -> None:
    """An `Event` invocation: nobody waits for the result, but errors are worth a log line."""
    try:
        await invocation.head()
        async for _ in invocation.body():
            pass
    except InvocationFailed:
        pass
    if invocation.error is not None:
        log.warning(
            "asynchronous request %s failed: %s: %s",
            invocation.request_id,
            invocation.error.error_type,
            invocation.error.message,
        )


def _client_context(encoded: str | None) -> str | None:
    """`X-Amz-Client-Context` is base64 of a JSON object; the runtime receives the JSON.

    It travels on as a header of `GET /next`, so JSON with line breaks or text outside Latin-1 (valid
    JSON, but not a valid header value) is passed on re-encoded, compact and ASCII: the same document.
    """
    if encoded is None:
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        document = json.loads(decoded)
    except (binascii.Error, ValueError):
        raise ApiError(
            400,
            "InvalidRequestContentException",
            "Client context must be a valid Base64-encoded JSON object.",
        ) from None
    if not decoded.isascii() or not decoded.isprintable():
        return json.dumps(document, separators=(",", ":"))
    return decoded


def _log_result(invocation: Invocation) -> str:
    """`LogResult`: the last 4 KB of the function's output, base64-encoded."""
    return base64.b64encode(invocation.log_tail[-LOG_TAIL_BYTES:]).decode()


def _version_header() -> list[tuple[str, str]]:
    return [("x-amz-executed-version", limits.FUNCTION_VERSION)]


async def _api_error(conn: HttpConnection, error: ApiError, *, close: bool) -> None:
    headers = [("x-amzn-errortype", error.error_type)]
    try:
        await conn.respond_json(error.status, error.document(), headers=headers, close=close)
    except ClientGone:
        pass
