"""A function URL (InvokeMode RESPONSE_STREAM) on loopback: every path and method goes to the function.

Each request becomes a payload-format-2.0 event; the runtime's response is forwarded as it arrives.
An HTTP integration response (`application/vnd.awslambda.http-integration-response`) has its JSON
prelude turned into the status line, headers and `Set-Cookie` headers, then its body forwarded chunk
by chunk; any other response is sent as a 200 with the runtime's content type.

Failure answers, and what each is based on:
- a request whose event would pass 6 MB: 413 (Lambda's synchronous payload limit);
- the function fails before its response starts (error, crash, timeout, init error): 502
  `{"Message": "Internal Server Error"}`, the answer of function URLs and API Gateway to a function error;
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

from cdk_stream_fn.emulator import limits
from cdk_stream_fn.emulator.front_doors.prelude import Prelude, PreludeDecoder, PreludeError
from cdk_stream_fn.emulator.front_doors.url_event import build_url_event
from cdk_stream_fn.emulator.http.connection import (
    BodyTooLarge,
    ClientGone,
    HttpConnection,
    Request,
)
from cdk_stream_fn.emulator.http.framing import UnsafeHeaderError, status_has_body
from cdk_stream_fn.emulator.http.server import HttpServer
from cdk_stream_fn.emulator.http.settings import ServerSettings
from cdk_stream_fn.emulator.sandboxes.invocation import (
    Invocation,
    InvocationFailed,
    ResponseHead,
    new_request_id,
    new_trace_id,
)
from cdk_stream_fn.emulator.sandboxes.pool import FunctionPool

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


class FunctionUrlServer:
    """Serves one function's URL; `settings` are its timeouts and connection cap (`ServerSettings()`'s
    defaults unless given)."""

    def __init__(self, pool: FunctionPool, *, settings: ServerSettings | None = None) -> None:
        self.pool = pool
        self.config = pool.config
        self._http = HttpServer(
            name=f"{self.config.name} URL", serve=self._serve, settings=settings or ServerSettings()
        )

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FunctionUrlServer:
        await self._http.start(host, port)
        return self

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

    async def _handle(self, conn: HttpConnection, request: Request) -> bool:
        """Answer one request; return whether the connection may carry another."""
        method = request.method
        target = request.target
        try:
            body = await conn.read_body(limits.MAX_REQUEST_PAYLOAD_BYTES)
        except BodyTooLarge as error:
            log.warning(
                "%s: %s %s: request body over %d bytes: 413", self.config.name, method, target, error.limit
            )
            await _request_too_large(conn)
            return False
        request_id, trace_id = new_request_id(), new_trace_id()
        event = build_url_event(
            method=method,
            target=target,
            headers=request.headers,
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
            await _request_too_large(conn)
            return False
        invocation = await self.pool.submit(
            self.pool.request(payload, request_id=request_id, trace_id=trace_id)
        )
        status = 0
        try:
            keep, status = await self._respond(conn, method, invocation)
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

    async def _respond(self, conn: HttpConnection, method: str, invocation: Invocation) -> tuple[bool, int]:
        """Send the response as it arrives; return whether the connection may go on, and the status sent."""
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
            await _bad_gateway(conn, invocation)
            return True, 502
        except PreludeError as error:
            log.error("%s: request %s: %s: 502", self.config.name, invocation.request_id, error)
            invocation.abandon()
            await _bad_gateway(conn, invocation)
            return True, 502
        headers += _platform_headers(invocation)
        try:
            await conn.start_response(status, headers, first)
        except UnsafeHeaderError as error:
            # A value the runtime controls (its content type) that no head can carry; the prelude's own
            # headers were checked when it was parsed.
            log.error("%s: request %s: %s: 502", self.config.name, invocation.request_id, error)
            invocation.abandon()
            await _bad_gateway(conn, invocation)
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


async def _bad_gateway(conn: HttpConnection, invocation: Invocation) -> None:
    await conn.respond_json(502, {"Message": "Internal Server Error"}, headers=_platform_headers(invocation))


async def _request_too_large(conn: HttpConnection) -> None:
    message = f"Request must be smaller than {limits.MAX_REQUEST_PAYLOAD_BYTES} bytes for the InvokeFunction operation"
    await conn.respond_json(413, {"Message": message}, close=True)
