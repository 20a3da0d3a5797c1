"""A function URL (InvokeMode RESPONSE_STREAM) on loopback: every path and method goes to the function.

Each request becomes a payload-format-2.0 event; the runtime's response is forwarded as it arrives.
An HTTP integration response (`application/vnd.awslambda.http-integration-response`) has its JSON
prelude turned into the status line, headers and `Set-Cookie` headers, then its body forwarded chunk
by chunk; any other response is sent as a 200 with the runtime's content type.

Before a request reaches the function it is admitted (`_admit`), as Lambda's front end would:
- only a path reaches the function: `CONNECT host:443` is answered 405 and `OPTIONS *` 200 with `Allow`
  (neither names a resource of the function); an absolute URI (`GET http://host/path`) is served as its
  path, with its authority in place of the Host header (RFC 9112 §3.2.2, see `http.targets`);
- the Host must be a name of this server (421 otherwise; `http.admission`);
- methods other than the seven Lambda documents for `requestContext.http.method` ("GET, POST, PUT,
  HEAD, OPTIONS, PATCH, and DELETE", awsdocs/aws-lambda-developer-guide `doc_source/urls-invocation.md`)
  get 405 with `Allow`; AWS documents no answer for them;
- with the URL's `Cors` configured, a browser's preflight is answered from it without invoking the
  function, and its CORS headers go on every response (`cors`);
- `AuthType: AWS_IAM`: with `signatures` (`serve --verify-sigv4`) a request must be signed by the
  developer's credentials (403 otherwise, `iam_auth`); without it signatures are not checked, but a
  browser's cross-origin request is refused with 403 all the same, because on AWS a page cannot sign
  one and gets 403: a local-only door to the developer's credentials stays shut, while curl, SDKs and
  pages the function serves itself (same origin) work as before, and so do pages of an origin the
  URL's Cors AllowOrigins names explicitly (not through `*`), which the developer declared trusted;
- a function whose reserved concurrency is used up answers 429 (`pool.Throttled`). AWS documents the
  status, not the body; the emulator sends `{"Message": "Rate Exceeded."}`, the Lambda API's wording.

Failure answers, and what each is based on:
- a request whose event would pass 6 MB: 413 (Lambda's synchronous payload limit);
- the function fails before its response starts (error, crash, timeout, init error): 502
  `{"Message": "Internal Server Error"}`, the answer of function URLs and API Gateway to a function error;
- a function that cannot run on this machine (`serve` could not install a dependency of it): 502 with a
  `Detail` that says so, which Lambda cannot have;
- a malformed prelude: 502 as well, with the exact problem in the log (an interim 1xx status, or a
  header no HTTP head can carry, included: the whole head is checked before any of it is sent);
- an error after the body started (error trailers, timeout, the 200 MB cap): the error is logged and
  the connection dropped without the final chunk, so HTTP clients see a truncated response rather
  than a complete one (AWS documents no status for this case; a clean end would hide the error).
A client that disconnects does not stop the function: it runs to its end, as on Lambda. Neither does a
client that is too slow: a request head or body that does not arrive in time gets 408, and a client that
reads none of a response for a while is dropped (`ServerSettings`).
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from cdk_stream_fn.emulator import limits, platform_errors
from cdk_stream_fn.emulator.front_doors import cors
from cdk_stream_fn.emulator.front_doors.iam_auth import SignatureCheck
from cdk_stream_fn.emulator.front_doors.prelude import Prelude, PreludeDecoder, PreludeError
from cdk_stream_fn.emulator.front_doors.url_event import build_url_event
from cdk_stream_fn.emulator.http.admission import Refusal, cross_origin
from cdk_stream_fn.emulator.http.connection import (
    BodyTooLarge,
    ClientGone,
    HttpConnection,
    Request,
)
from cdk_stream_fn.emulator.http.framing import UnsafeHeaderError, status_has_body
from cdk_stream_fn.emulator.http.server import HttpServer
from cdk_stream_fn.emulator.http.settings import ServerSettings
from cdk_stream_fn.emulator.http.targets import RequestTarget, TargetForm, parse_target
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig
from cdk_stream_fn.emulator.sandboxes.invocation import (
    Invocation,
    InvocationFailed,
    ResponseHead,
    new_request_id,
    new_trace_id,
)
from cdk_stream_fn.emulator.sandboxes.pool import FunctionPool, Throttled

log = logging.getLogger("cdk_stream_fn.emulator")

#: Connection-level headers a function cannot set: the emulator frames the response itself.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "content-length",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


#: The methods a function URL passes to its function (`requestContext.http.method`'s documented values).
URL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_ALLOW = ", ".join(URL_METHODS)


@dataclass(frozen=True)
class _Admitted:
    """A request the URL serves: its target, the Host it named, and the CORS headers its answer gets."""

    target: RequestTarget
    host: str
    cors_headers: list[tuple[str, str]]


class FunctionUrlServer:
    """Serves one function's URL.

    `allowed_hosts`: Host names accepted besides the loopback names and the listening address;
    `signatures`: check SigV4 signatures of an `AWS_IAM` URL (None: not checked);
    `settings`: its timeouts and connection cap (`ServerSettings()`'s defaults unless given).
    """

    def __init__(
        self,
        pool: FunctionPool,
        *,
        allowed_hosts: tuple[str, ...] = (),
        signatures: SignatureCheck | None = None,
        settings: ServerSettings | None = None,
    ) -> None:
        self.pool = pool
        self._signatures = signatures
        self._http = HttpServer(
            name=f"{self.config.name} URL",
            serve=self._serve,
            settings=settings or ServerSettings(),
            allowed_hosts=allowed_hosts,
        )

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FunctionUrlServer:
        await self._http.start(host, port)
        return self

    @property
    def config(self) -> FunctionConfig:
        """The function's configuration now: `serve` may replace it (a new synthesis) while this URL serves."""
        return self.pool.config

    @property
    def signatures(self) -> SignatureCheck | None:
        """The signature check that applies: only an `AWS_IAM` URL checks signatures."""
        return self._signatures if self.config.auth_type == "AWS_IAM" else None

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def url(self) -> str:
        return f"http://{self._http.host}:{self._http.port}/"

    async def stop(self) -> None:
        await self._http.stop()

    async def _serve(self, conn: HttpConnection) -> None:
        while (request := await conn.next_request()) is not None:
            if not await self._handle(conn, request) or conn.close_after_response():
                return

    async def _admit(self, conn: HttpConnection, request: Request) -> _Admitted | None:
        """Check what precedes the function (target, Host, method, CORS preflight, a browser calling an
        AWS_IAM URL); answer and return None for a request that stops here."""
        method, headers = request.method, request.headers
        target = parse_target(method, request.target)
        if target.form is TargetForm.INVALID:
            await self._refuse(conn, Refusal(400, "BadRequest", f"invalid request target {request.target!r}"))
            return None
        if target.form is TargetForm.AUTHORITY:
            not_a_proxy = Refusal(
                405, "MethodNotAllowed", "a function URL is not a proxy: CONNECT is not served"
            )
            await self._refuse(conn, not_a_proxy, [("allow", _ALLOW)], close=True)
            return None
        refusal = self._http.hosts.refusal(headers, request.http_version, authority=target.authority)
        if refusal is not None:
            log.warning("%s: %s %s refused: %s", self.config.name, method, request.target, refusal.message)
            await self._refuse(conn, refusal, close=True)
            return None
        host = target.authority or request.header(b"host") or f"127.0.0.1:{self.port}"
        if target.form is TargetForm.ASTERISK:
            await conn.respond(200, b"", content_type="text/plain", headers=[("allow", _ALLOW)])
            return None
        settings = self.config.cors
        if method not in URL_METHODS:
            refusal = Refusal(405, "MethodNotAllowed", f"a function URL serves {_ALLOW}, not {method}")
            await self._refuse(conn, refusal, [("allow", _ALLOW)])
            return None
        if settings is not None and cors.is_preflight(method, headers):
            fields = cors.preflight_headers(settings, headers) + _request_headers(new_request_id())
            await conn.respond(200, b"", content_type="text/plain", headers=fields)
            return None
        cors_headers = cors.response_headers(settings, headers) if settings is not None else []
        refusal = self._unsigned_page(headers, host)
        if refusal is not None:
            log.warning("%s: %s %s refused: %s", self.config.name, method, request.target, refusal.detail)
            await self._refuse(conn, refusal, cors_headers)
            return None
        return _Admitted(target, host, cors_headers)

    def _unsigned_page(self, headers: list[tuple[bytes, bytes]], host: str) -> Refusal | None:
        """A browser page of another origin calling an AWS_IAM URL whose signatures are not checked: on AWS
        it could not sign the request, so it is refused, unless the URL's Cors names its origin."""
        if self.config.auth_type != "AWS_IAM" or self.signatures is not None:
            return None
        caller = cross_origin(headers, f"http://{host}")
        if caller is None:
            return None
        origin, settings = cors.header(headers, b"origin"), self.config.cors
        if origin is not None and settings is not None and cors.names_origin(settings, origin):
            return None
        return Refusal(
            403,
            "AccessDeniedException",
            "Forbidden",
            f"a browser page ({caller}) called this AuthType AWS_IAM function URL. On AWS a page "
            "cannot sign the request and gets 403; locally it gets 403 too, because unsigned "
            "requests run with your AWS credentials. Pages the function serves itself (same "
            "origin), curl and SDKs are served, and so are pages of an origin the URL's Cors "
            "AllowOrigins names (not through '*'). Or use AuthType NONE with Cors, or sign the "
            "requests with your credentials and run serve --verify-sigv4.",
        )

    async def _refuse(
        self,
        conn: HttpConnection,
        refusal: Refusal,
        headers: list[tuple[str, str]] | None = None,
        *,
        close: bool = False,
    ) -> None:
        """Answer with `{"Message": ...}` (and `"Detail"`, what to change locally) and the error type."""
        document = {"Message": refusal.message}
        if refusal.detail:
            document["Detail"] = refusal.detail
        fields = [("x-amzn-errortype", refusal.code), *_request_headers(new_request_id()), *(headers or [])]
        await conn.respond_json(refusal.status, document, headers=fields, close=close)

    async def _handle(self, conn: HttpConnection, request: Request) -> bool:
        """Answer one request; return whether the connection may carry another."""
        method = request.method
        admitted = await self._admit(conn, request)
        if admitted is None:
            return not conn.close_after_response()
        target = admitted.target.origin_form
        try:
            body = await conn.read_body(limits.MAX_REQUEST_PAYLOAD_BYTES)
        except BodyTooLarge as error:
            log.warning(
                "%s: %s %s: request body over %d bytes: 413", self.config.name, method, target, error.limit
            )
            await _request_too_large(conn, admitted.cors_headers)
            return False
        if self.signatures is not None:
            refusal = self.signatures.refusal(
                method=method, host=admitted.host, target=target, headers=request.headers, body=body
            )
            if refusal is not None:
                log.warning(
                    "%s: %s %s refused: %s (%s)",
                    self.config.name,
                    method,
                    target,
                    refusal.message,
                    refusal.detail,
                )
                await self._refuse(conn, refusal, admitted.cors_headers)
                return True
        headers = request.headers
        if admitted.target.form is TargetForm.ABSOLUTE:
            headers = [(name, value) for name, value in headers if name != b"host"]
            headers.append((b"host", admitted.host.encode("latin-1")))
        request_id, trace_id = new_request_id(), new_trace_id()
        event = build_url_event(
            method=method,
            target=target,
            headers=headers,
            body=body,
            source_ip=conn.peer[0],
            function_name=self.config.name,
            region=self.config.region,
            request_id=request_id,
            trace_id=trace_id,
            http_version=request.http_version,
            server_port=self.port,
            auth_type=self.config.auth_type,
        )
        payload = json.dumps(event).encode()
        if len(payload) > limits.MAX_REQUEST_PAYLOAD_BYTES:
            log.warning(
                "%s: %s %s: event of %d bytes over 6 MB: 413", self.config.name, method, target, len(payload)
            )
            await _request_too_large(conn, admitted.cors_headers)
            return False
        try:
            invocation = await self.pool.submit(
                self.pool.request(payload, request_id=request_id, trace_id=trace_id)
            )
        except Throttled as throttled:
            log.warning("%s: %s %s: throttled (429): %s", self.config.name, method, target, throttled)
            await self._refuse(
                conn, Refusal(429, "TooManyRequestsException", "Rate Exceeded."), admitted.cors_headers
            )
            return True
        status = 0
        try:
            keep, status = await self._respond(conn, method, invocation, admitted.cors_headers)
            return keep
        except ClientGone:
            log.info(
                "%s: the client left request %s after %d bytes; the function runs on, as on Lambda",
                self.config.name,
                invocation.request_id,
                invocation.bytes_received,
            )
            raise
        finally:
            if not invocation.ended:
                invocation.abandon()
            _access_log(self.config.name, method, target, status, invocation)

    async def _respond(
        self,
        conn: HttpConnection,
        method: str,
        invocation: Invocation,
        cors_headers: list[tuple[str, str]] | None = None,
    ) -> tuple[bool, int]:
        """Send the response as it arrives; return whether the connection may go on, and the status sent.

        `cors_headers` (the URL's CORS configuration) replace any of the same name the function set."""
        body = invocation.body()
        try:
            head = await invocation.head()
            status, headers, first = 200, [("content-type", head.content_type)], b""
            if _is_http_integration(head):
                prelude, first = await _read_prelude(invocation, body)
                status = prelude.status_code
                headers = [
                    (name, value) for name, value in prelude.headers if name.lower() not in _HOP_BY_HOP
                ]
                headers += [("set-cookie", cookie) for cookie in prelude.cookies]
        except InvocationFailed as failed:
            log.error("%s: request %s failed: %s", self.config.name, invocation.request_id, failed)
            local = (
                failed.error.message if failed.error.error_type == platform_errors.LOCAL_UNAVAILABLE else None
            )
            await _bad_gateway(conn, invocation, cors_headers, detail=local)
            return True, 502
        except PreludeError as error:
            log.error("%s: request %s: %s: 502", self.config.name, invocation.request_id, error)
            invocation.abandon()
            await _bad_gateway(conn, invocation, cors_headers)
            return True, 502
        headers = cors.apply(headers, cors_headers or []) + _platform_headers(invocation)
        try:
            await conn.start_response(status, headers, first)
        except UnsafeHeaderError as error:
            # A value the runtime controls (its content type) that no head can carry; the prelude's own
            # headers were checked when it was parsed.
            log.error("%s: request %s: %s: 502", self.config.name, invocation.request_id, error)
            invocation.abandon()
            await _bad_gateway(conn, invocation, cors_headers)
            return True, 502
        if method == "HEAD":
            invocation.abandon()
            await conn.end_response()
            return True, status
        if not status_has_body(status):
            await conn.end_response()
            await self._drop_body(invocation, status, first, body)
            return True, status
        async for data in body:
            await conn.send_body(data)
        if invocation.error is not None:
            log.error(
                "%s: request %s ended with %s after %d bytes: %s (response truncated)",
                self.config.name,
                invocation.request_id,
                invocation.error.error_type,
                invocation.bytes_received,
                invocation.error.message,
            )
            conn.abort()
            return False, status
        await conn.end_response()
        return True, status

    async def _drop_body(
        self, invocation: Invocation, status: int, first: bytes, body: AsyncIterator[bytes]
    ) -> None:
        """A 204 or 304 is complete with its head: read what the function sends anyway, and log it."""
        dropped = len(first)
        async for data in body:
            dropped += len(data)
        if dropped:
            log.warning(
                "%s: request %s: dropped %d body bytes the function sent with status %d, which has no "
                "body (RFC 9110 15.3.5, 15.4.5)",
                self.config.name,
                invocation.request_id,
                dropped,
                status,
            )
        if invocation.error is not None:
            log.error(
                "%s: request %s ended with %s after its %d response was sent: %s",
                self.config.name,
                invocation.request_id,
                invocation.error.error_type,
                status,
                invocation.error.message,
            )


def _access_log(name: str, method: str, target: str, status: int, invocation: Invocation) -> None:
    """One line per request: what was asked, what came back, how soon and how much."""
    timeline = invocation.timeline
    first = timeline.first_chunk_ns or timeline.ended_ns
    to_first = f"first byte {(first - timeline.submitted_ns) / 1e6:.0f} ms · " if first else ""
    elapsed = (time.perf_counter_ns() - timeline.submitted_ns) / 1e9
    log.info(
        "%s: %s %s -> %s · %s%d bytes · %.2f s",
        name,
        method,
        target,
        status or "no response",
        to_first,
        invocation.bytes_received,
        elapsed,
    )


async def _read_prelude(invocation: Invocation, body: AsyncIterator[bytes]) -> tuple[Prelude, bytes]:
    """The prelude of an HTTP integration response, and the body bytes that arrived with it.

    Raises `InvocationFailed` if the function failed before its prelude was complete (a timeout, a
    crash, error trailers), `PreludeError` if the prelude is malformed.
    """
    decoder = PreludeDecoder()
    async for data in body:
        decoded = decoder.feed(data)
        if decoded is not None:
            return decoded
    if invocation.error is not None:
        raise InvocationFailed(invocation.error)
    decoder.finish()


def _is_http_integration(head: ResponseHead) -> bool:
    return head.content_type.split(";", 1)[0].strip().lower() == limits.HTTP_INTEGRATION_CONTENT_TYPE


def _platform_headers(invocation: Invocation) -> list[tuple[str, str]]:
    return [
        ("date", email.utils.formatdate(usegmt=True)),
        ("x-amzn-requestid", invocation.request_id),
        ("x-amzn-trace-id", invocation.request.trace_id),
    ]


def _request_headers(request_id: str) -> list[tuple[str, str]]:
    """The platform's headers on an answer the URL gives itself, without invoking the function."""
    return [("date", email.utils.formatdate(usegmt=True)), ("x-amzn-requestid", request_id)]


async def _bad_gateway(
    conn: HttpConnection,
    invocation: Invocation,
    cors_headers: list[tuple[str, str]] | None = None,
    *,
    detail: str | None = None,
) -> None:
    """Lambda's 502 for a failed function; `detail` adds what the emulator knows and Lambda could not
    (a function that cannot run on this machine), as the 403 of an unsigned page does."""
    headers = _platform_headers(invocation) + (cors_headers or [])
    body = {"Message": "Internal Server Error", **({"Detail": detail} if detail else {})}
    await conn.respond_json(502, body, headers=headers)


async def _request_too_large(conn: HttpConnection, cors_headers: list[tuple[str, str]]) -> None:
    message = f"Request must be smaller than {limits.MAX_REQUEST_PAYLOAD_BYTES} bytes for the InvokeFunction operation"
    await conn.respond_json(413, {"Message": message}, headers=cors_headers, close=True)
