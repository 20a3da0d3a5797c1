"""The Lambda Runtime API (2018-06-01) of one sandbox, on loopback.

Status codes, bodies and checks follow RAPID (aws/aws-lambda-runtime-interface-emulator,
`lambda/rapi/handler` and `lambda/rapi/rendering`): 202 `{"status":"OK"}` on success, 400
`InvalidRequestID` for an id that is not the current invocation, 403 `InvalidStateTransition` for a
second answer to the same invocation, 400 `InvalidFunctionResponseMode` for a response-mode header
other than streaming/buffered, 413 `RequestEntityTooLarge` above 6 MiB + 100 bytes buffered.
A streamed response is passed on chunk by chunk as it arrives, errors in its trailers included.

Every invocation crosses this server twice (`GET /next`, then the response), so it answers inside the
connection's protocol callbacks (`HttpServer(attach=...)`): a request's last byte and its answer are one
step of the event loop, with no task to wake in between. `RuntimeConnection` routes each request as
its head arrives and gives its body to a reader (`runtime_api_bodies`) that answers when the body ends.

Programmatic use (also the benchmarks' shared loopback Runtime API)::

    api = await RuntimeApiServer.start()                 # one listener: 127.0.0.1:<free port>
    # start any runtime with AWS_LAMBDA_RUNTIME_API=api.address (or use `Sandbox`)
    invocation = api.invoke(InvokeRequest(payload=b"{}"))
    head = await invocation.head()                       # content type, streaming or not
    async for received_ns, chunk in invocation.timed_body():
        ...                                              # perf_counter_ns when each chunk was read
    invocation.error                                     # set if the response ended with an error
    await api.stop()
"""

from __future__ import annotations

import collections
import json
import logging
import re
import time
from collections.abc import Iterable
from urllib.parse import unquote

from cdk_stream_fn.emulator import limits
from cdk_stream_fn.emulator.http.connection import (
    BadRequest,
    ClientGone,
    HttpConnection,
    Request,
    reject_bad_request,
)
from cdk_stream_fn.emulator.http.server import HttpServer
from cdk_stream_fn.emulator.sandboxes.bodies import (
    ERROR_TYPE_FIELD,
    BodyReader,
    CollectedBody,
    DiscardedBody,
    StreamedResponse,
    response_too_large,
    truncated_response,
)
from cdk_stream_fn.emulator.sandboxes.invocation import FunctionError, Invocation, InvokeRequest, Milestone
from cdk_stream_fn.emulator.sandboxes.shaping import TokenBucket

log = logging.getLogger("cdk_stream_fn.emulator")

API_PREFIX = "/2018-06-01"
RESPONSE_MODE_HEADER = b"lambda-runtime-function-response-mode"

_INVOCATION_ROUTE = re.compile(r"^/runtime/invocation/(?P<id>[^/]+)/(?P<action>response|error)$")
#: RAPID keeps a runtime's error type only when it has this shape (e.g. `Runtime.ImportModuleError`).
_VALID_ERROR_TYPE = re.compile(r"^(Runtime|Function)\.[A-Z][a-zA-Z]+$")

#: RAPID's answer to every accepted report, encoded once.
OK_BODY = json.dumps({"status": "OK"}).encode()


class RuntimeApiServer:
    """The Runtime API for one runtime process: hands it one invocation at a time.

    `timeout_seconds` sets `Lambda-Runtime-Deadline-Ms`; `shape_bandwidth` throttles streamed responses
    as Lambda does (6 MiB burst, then 2 MiB/s).
    """

    def __init__(
        self,
        *,
        timeout_seconds: float = limits.DEFAULT_TIMEOUT_SECONDS,
        shape_bandwidth: bool = False,
        max_streamed_bytes: int = limits.MAX_STREAMED_RESPONSE_BYTES,
        max_buffered_bytes: int = limits.MAX_BUFFERED_RESPONSE_BYTES,
        name: str = "runtime-api",
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.shape_bandwidth = shape_bandwidth
        self.max_streamed_bytes = max_streamed_bytes
        self.max_buffered_bytes = max_buffered_bytes
        self.name = name
        self.init_error: FunctionError | None = None
        #: Set when the runtime reports `POST /runtime/init/error` (a new one after each `reset`).
        self.init_failed = Milestone()
        self._pending: collections.deque[Invocation] = collections.deque()
        #: The connection whose `GET /next` waits for an invocation.
        self._waiting: RuntimeConnection | None = None
        self._current: Invocation | None = None
        self._answered = False
        self._http = HttpServer(name=name, attach=lambda conn: RuntimeConnection(self, conn))

    @classmethod
    async def start(cls, host: str = "127.0.0.1", port: int = 0, **options: object) -> RuntimeApiServer:
        """Create a Runtime API and start listening (port 0: any free port)."""
        server = cls(**options)  # type: ignore[arg-type]
        await server._http.start(host, port)
        return server

    @property
    def address(self) -> str:
        """`host:port`, the value for the runtime's `AWS_LAMBDA_RUNTIME_API`."""
        return self._http.address

    @property
    def current(self) -> Invocation | None:
        """The invocation the runtime holds (picked up by `/next`, not yet finished)."""
        current = self._current
        return current if current is not None and not current.finished.is_set() else None

    def submit(self, invocation: Invocation) -> None:
        """Queue an invocation for the runtime's next `GET /runtime/invocation/next` (or answer the one
        that is waiting, at once)."""
        waiting, self._waiting = self._waiting, None
        if waiting is not None and not waiting.conn.lost:
            waiting.hand_out(invocation)
        else:
            self._pending.append(invocation)

    def invoke(self, request: InvokeRequest) -> Invocation:
        """Create an invocation for `request`, queue it, and return it to read the response from."""
        invocation = Invocation(request)
        self.submit(invocation)
        return invocation

    def reset(self, error: FunctionError) -> None:
        """The runtime process is gone: fail what it held and forget its state (queued work stays)."""
        current = self.current
        if current is not None:
            current.fail(error)
            current.finish()
        self._current = None
        self._answered = False
        self._waiting = None
        self.init_error = None
        self.init_failed = Milestone()

    async def close_connections(self) -> None:
        await self._http.close_connections()

    async def stop(self) -> None:
        await self._http.stop()

    # -- RAPID's rules, applied by the connections ------------------------------------------------

    def next_invocation(self, connection: RuntimeConnection) -> Invocation | None:
        """`GET /next`: the invocation to hand out now, or None after `connection` was told to wait."""
        previous = self.current
        if previous is not None and not self._answered:
            log.warning(
                "%s: the runtime asked for the next event without answering request %s",
                self.name,
                previous.request_id,
            )
            previous.fail(
                FunctionError.from_platform(
                    "Runtime.InvalidResponse",
                    f"RequestId: {previous.request_id} Error: the runtime asked for the next event "
                    "without sending a response or an error",
                )
            )
            previous.finish()
        if self._pending:
            return self._pending.popleft()
        self._waiting = connection
        return None

    def picked_up(self, invocation: Invocation) -> None:
        """`invocation` is being handed to the runtime: it is the one to answer now."""
        self._current = invocation
        self._answered = False
        invocation.deadline_ms = int(time.time() * 1000 + self.timeout_seconds * 1000)
        invocation.mark_picked_up()

    def forget(self, connection: RuntimeConnection) -> bool:
        """`connection` no longer waits for an invocation; return whether it was waiting."""
        if self._waiting is connection:
            self._waiting = None
            return True
        return False

    def answerable(self, request_id: str) -> Invocation | tuple[int, str, str]:
        """RAPID's checks before accepting an answer (the current id, only one answer): the invocation
        to answer, or the rejection to send (status, error type, message)."""
        current = self._current
        if current is None or current.request_id != request_id:
            return 400, "InvalidRequestID", "Invalid request ID"
        if self._answered:
            return (
                403,
                "InvalidStateTransition",
                f"Invalid state transition: request {request_id} was already answered",
            )
        return current

    def accept_answer(self) -> None:
        """The current invocation's answer is being received: a second one gets 403."""
        self._answered = True

    def initialization_failed(self, error: FunctionError) -> None:
        log.warning(
            "%s: the runtime failed to initialize: %s: %s", self.name, error.error_type, error.message
        )
        self.init_error = error
        self.init_failed.set()


class RuntimeConnection:
    """One runtime's connection: routes each request as its head arrives, feeds its body to a reader,
    and answers when the body ends, all from the connection's `on_input` callback.

    While an answer or a body piece waits (for an invocation to hand out, room in the invocation's pipe,
    or bandwidth), input stays queued in the connection, which stops reading from the socket once it
    holds more than `READ_SIZE`: the runtime feels the backpressure.
    """

    def __init__(self, api: RuntimeApiServer, conn: HttpConnection) -> None:
        self.api = api
        self.conn = conn
        self._reader: BodyReader | None = None
        self._waiting = False
        self._closed = False
        conn.on_input = self.process

    def process(self) -> None:
        """Handle every request event the connection holds, until it runs dry or something waits."""
        conn = self.conn
        if conn.input_ended and self.api.forget(self):
            # It closed while its `GET /next` waited: like RAPID (Go's net/http), drop that request
            # rather than hand an invocation to a runtime that is gone.
            self._close()
            conn.close_soon()
            return
        while not self._waiting and not self._closed:
            try:
                event = conn.take()
            except BadRequest as error:
                self._close()
                reject_bad_request(conn, error)
                return
            if event is None:
                if conn.input_ended:
                    self._close()
                    conn.close_soon()
                return
            if type(event) is bytes:
                assert self._reader is not None
                self._waiting = not self._reader.feed(event)
            elif isinstance(event, Request):
                self._route(event)
            else:
                reader, self._reader = self._reader, None
                assert reader is not None
                reader.end(conn.trailers)

    def resume(self) -> None:
        """Go on after a wait (an invocation was handed out, the pipe has room, bandwidth is back)."""
        self._waiting = False
        self.conn.serve_input()

    def answer(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: str = "application/json",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Send a whole response; close the connection after it if the request said so or was not read."""
        try:
            self.conn.send_response(status, body, content_type=content_type, headers=headers)
        except ClientGone:
            self._close()
            return
        if self.conn.close_after_response():
            self._close()
            self.conn.close_soon()

    def answer_error(
        self, status: int, error_type: str, message: str, *, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Refuse a request with RAPID's error document, `{"errorMessage": ..., "errorType": ...}`."""
        document = {"errorMessage": message, "errorType": error_type}
        self.answer(status, json.dumps(document).encode(), headers=headers)

    def answer_ok(self) -> None:
        """Accept a report (`202 {"status": "OK"}`)."""
        self.answer(202, OK_BODY)

    def answer_too_large(self, limit: int) -> None:
        """Refuse a response or report over `limit` bytes, as RAPID does."""
        self.answer_error(
            413, "RequestEntityTooLarge", f"Exceeded maximum allowed payload size ({limit} bytes)."
        )

    def hand_out(self, invocation: Invocation) -> None:
        """Answer the waiting `GET /next` with `invocation`'s event and Lambda's headers."""
        self.api.picked_up(invocation)
        request = invocation.request
        headers = [
            ("lambda-runtime-aws-request-id", request.request_id),
            ("lambda-runtime-deadline-ms", str(invocation.deadline_ms)),
            ("lambda-runtime-invoked-function-arn", request.invoked_function_arn),
            ("lambda-runtime-trace-id", request.trace_id),
        ]
        if request.client_context is not None:
            headers.append(("lambda-runtime-client-context", request.client_context))
        if request.cognito_identity is not None:
            headers.append(("lambda-runtime-cognito-identity", request.cognito_identity))
        self.answer(200, request.payload, content_type=request.content_type, headers=headers)
        if self._waiting:
            self.resume()

    def _close(self) -> None:
        """No more requests on this connection: cut the body being read, stop waiting for invocations."""
        self._closed = True
        self.api.forget(self)
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cut()

    # -- routing ----------------------------------------------------------------------------------

    def _route(self, request: Request) -> None:
        target = request.target.split("?", 1)[0]
        method = request.method
        if not target.startswith(API_PREFIX + "/"):
            self._not_found(target)
            return
        path = target[len(API_PREFIX) :]
        if path == "/runtime/invocation/next":
            if method != "GET":
                self._method_not_allowed("GET")
                return
            invocation = self.api.next_invocation(self)
            if invocation is not None:
                self.hand_out(invocation)
            else:
                self._waiting = True
        elif path == "/runtime/init/error":
            if method != "POST":
                self._method_not_allowed("POST")
                return
            self._read_body(self._init_error_reader(request))
        elif match := _INVOCATION_ROUTE.match(path):
            if method != "POST":
                self._method_not_allowed("POST")
                return
            answerable = self.api.answerable(unquote(match["id"]))
            if isinstance(answerable, tuple):
                self._read_body(DiscardedBody(lambda: self.answer_error(*answerable)))
            elif match["action"] == "response":
                self._read_body(self._response_reader(request, answerable))
            else:
                self._read_body(self._error_reader(request, answerable))
        else:
            self._not_found(target)

    def _read_body(self, reader: BodyReader) -> None:
        if self.conn.reading_body:
            self._reader = reader
            self.conn.accept_body()
        else:
            reader.end(self.conn.trailers)

    def _response_reader(self, request: Request, invocation: Invocation) -> BodyReader:
        """`POST /invocation/{id}/response`, streamed or buffered."""
        mode = (request.header(RESPONSE_MODE_HEADER) or "buffered").strip().lower()
        if mode not in ("streaming", "buffered"):
            refusal = (400, "InvalidFunctionResponseMode", "Invalid function response mode")
            return DiscardedBody(lambda: self.answer_error(*refusal))
        self.api.accept_answer()
        content_type = request.header(b"content-type")
        if mode == "streaming":
            invocation.start_response(content_type or "application/octet-stream", streaming=True)
            bucket = TokenBucket() if self.api.shape_bandwidth else None
            return StreamedResponse(self, invocation, limit=self.api.max_streamed_bytes, bucket=bucket)
        limit = self.api.max_buffered_bytes

        def buffered(body: bytes | None) -> None:
            if body is None:
                self.answer_too_large(limit)
            else:
                invocation.start_response(content_type or "application/json", streaming=False)
                invocation.offer_chunk(body)
                invocation.end_response()
                self.answer_ok()
            invocation.finish()

        return CollectedBody(
            request,
            limit,
            on_end=buffered,
            on_too_large=lambda: invocation.fail(response_too_large(limit)),
            on_cut=lambda: _cut(invocation),
        )

    def _error_reader(self, request: Request, invocation: Invocation) -> BodyReader:
        """`POST /invocation/{id}/error`: the invocation fails with the runtime's error document."""
        self.api.accept_answer()
        error_type = _error_type(request)

        def failed(body: bytes | None) -> None:
            invocation.fail(FunctionError.from_runtime(error_type, body or b""))
            self.answer_ok()
            invocation.finish()

        return CollectedBody(
            request, self.api.max_buffered_bytes, on_end=failed, on_cut=lambda: _cut(invocation)
        )

    def _init_error_reader(self, request: Request) -> BodyReader:
        """`POST /runtime/init/error`: recorded for the invocation waiting on the runtime's start."""
        error_type = _error_type(request)

        def failed(body: bytes | None) -> None:
            self.api.initialization_failed(FunctionError.from_runtime(error_type, body or b""))
            self.answer_ok()

        return CollectedBody(request, self.api.max_buffered_bytes, on_end=failed)

    def _not_found(self, target: str) -> None:
        self.answer_error(404, "NotFound", f"No Runtime API route for {target} (base path {API_PREFIX})")

    def _method_not_allowed(self, allowed: str) -> None:
        self.answer_error(
            405, "MethodNotAllowed", f"Method not allowed; use {allowed}", headers=[("allow", allowed)]
        )


def _error_type(request: Request) -> str | None:
    """The `Lambda-Runtime-Function-Error-Type` header, if it has the shape RAPID keeps."""
    error_type = request.header(ERROR_TYPE_FIELD)
    if error_type is not None and not _VALID_ERROR_TYPE.match(error_type):
        log.info("ignoring error type %r: Lambda keeps only (Runtime|Function).Name", error_type)
        return None
    return error_type


def _cut(invocation: Invocation) -> None:
    """The runtime's answer will never end (malformed framing, or it closed the connection)."""
    invocation.fail(truncated_response(invocation.request_id))
    invocation.finish()
