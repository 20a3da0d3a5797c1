"""The Lambda Runtime API (2018-06-01) of one sandbox, on loopback: a thin router around `Lifecycle`.

Every rule (which request is allowed when, which id may be answered, the response mode, the size
limits) and every refusal is the lifecycle machine's (`sandboxes/lifecycle.py`, RAPID's rules); this
module routes each request to it as the request's head arrives, carries out its verdict (hand out an
event, read a body into an invocation, answer 202 or the refusal) and does the I/O. A streamed
response is passed on chunk by chunk as it arrives, errors in its trailers included.

Every invocation crosses this server twice (`GET /next`, then the response), so it answers inside the
connection's protocol callbacks (`HttpServer(attach=...)`): a request's last byte and its answer are one
step of the event loop, with no task to wake in between. `RuntimeConnection` routes each request and
gives its body to a reader (`bodies`) that answers when the body ends.

Programmatic use (also the benchmarks' shared loopback Runtime API)::

    api = await RuntimeApiServer.start()                 # one listener: 127.0.0.1:<free port>
    # start any runtime with AWS_LAMBDA_RUNTIME_API=api.address (or use `Sandbox`)
    invocation = api.invoke(InvokeRequest(payload=b"{}"))
    head = await invocation.head()                       # content type, streaming or not
    async for received_ns, chunk in invocation.timed_body():
        ...                                              # perf_counter_ns when each chunk was read
    invocation.error                                     # set if the response ended with an error
    await api.stop()

`RuntimeApiServer.start(concurrency=N)` lets N runtime connections hold an invocation each (Lambda
Managed Instances: several `/next` loops in one sandbox); `snap_start=True` serves SnapStart's
`/runtime/restore/next` and `/runtime/restore/error`, and `restore()` lets the waiting
`/restore/next` answer (`restore_ready` is set once it waits, `restore_failed` when the runtime reports a
failed restore); the restore closes every connection from before the snapshot.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable
from urllib.parse import unquote

from cdk_stream_fn.emulator import limits
from cdk_stream_fn.emulator.http.admission import HostCheck, foreign_caller
from cdk_stream_fn.emulator.http.connection import (
    BadRequest,
    ClientGone,
    HttpConnection,
    Request,
    reject_bad_request,
)
from cdk_stream_fn.emulator.http.server import HttpServer
from cdk_stream_fn.emulator.platform_errors import FunctionError
from cdk_stream_fn.emulator.sandboxes.bodies import (
    ERROR_TYPE_FIELD,
    BodyReader,
    CollectedBody,
    DiscardedBody,
    StreamedResponse,
)
from cdk_stream_fn.emulator.sandboxes.invocation import Invocation, InvokeRequest, Milestone
from cdk_stream_fn.emulator.sandboxes.lifecycle import (
    Answer,
    Failure,
    Lifecycle,
    Phase,
    Rejection,
    ReportVerdict,
    truncated_http_request,
)
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
    """The Runtime API for one sandbox: hands out invocations to its runtime, by default one at a time.

    `timeout_seconds` sets `Lambda-Runtime-Deadline-Ms`; `shape_bandwidth` throttles streamed responses
    as Lambda does (6 MiB burst, then 2 MiB/s); `concurrency` is how many invocations the runtime may
    hold at once (each answering its own `/next`); `snap_start` serves SnapStart's restore routes.
    """

    def __init__(
        self,
        *,
        timeout_seconds: float = limits.DEFAULT_TIMEOUT_SECONDS,
        shape_bandwidth: bool = False,
        max_streamed_bytes: int = limits.MAX_STREAMED_RESPONSE_BYTES,
        max_buffered_bytes: int = limits.MAX_BUFFERED_RESPONSE_BYTES,
        concurrency: int = 1,
        snap_start: bool = False,
        name: str = "runtime-api",
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.shape_bandwidth = shape_bandwidth
        self.name = name
        self.lifecycle: Lifecycle[Invocation, RuntimeConnection] = Lifecycle(
            concurrency=concurrency,
            snap_start=snap_start,
            max_buffered_bytes=max_buffered_bytes,
            max_streamed_bytes=max_streamed_bytes,
        )
        self.init_error: FunctionError | None = None
        #: Set when the runtime reports `POST /runtime/init/error` (a new one after each `reset`).
        self.init_failed = Milestone()
        #: Set at the runtime's first `GET /runtime/invocation/next`: its init is done (a new one after `reset`).
        self.initialized = Milestone()
        #: What the runtime reported with `POST /runtime/restore/error` (SnapStart), if it did.
        self.restore_error: FunctionError | None = None
        #: SnapStart: set when the runtime waits in `GET /runtime/restore/next` (its snapshot can be taken).
        self.restore_ready = Milestone()
        #: SnapStart: set when the runtime reports a failed restore (`restore_error`).
        self.restore_failed = Milestone()
        self._connections: set[RuntimeConnection] = set()
        self._http = HttpServer(name=name, attach=self._attach)

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
    def hosts(self) -> HostCheck:
        """The Host names requests must carry: a web page must not reach this server."""
        return self._http.hosts

    @property
    def phase(self) -> Phase:
        """Where the runtime is in its life (initializing, ready, init failed, restoring...)."""
        return self.lifecycle.phase

    @property
    def concurrency(self) -> int:
        return self.lifecycle.concurrency

    @property
    def held(self) -> list[Invocation]:
        """The invocations the runtime holds (handed out, not yet answered), oldest first."""
        return self.lifecycle.held

    def submit(self, invocation: Invocation) -> None:
        """Queue an invocation for the runtime's next `GET /runtime/invocation/next` (or answer one that
        is waiting, at once)."""
        waiter = self.lifecycle.submit(invocation)
        if waiter is not None and not waiter.hand_out(invocation):
            self.lifecycle.handout_failed(invocation)
            self.serve_waiters()

    def invoke(self, request: InvokeRequest) -> Invocation:
        """Create an invocation for `request`, queue it, and return it to read the response from."""
        invocation = Invocation(request)
        self.submit(invocation)
        return invocation

    def restore(self) -> None:
        """SnapStart: the snapshot is restored, so `GET /runtime/restore/next` answers 200 (now, if the
        runtime waits on it, else when it asks).

        A snapshot taken while the runtime waited is restored without the connections it had: the waiting
        one closes after its answer, every other one at once. "The state of connections that your function
        establishes during the initialization phase isn't guaranteed when Lambda resumes your function from
        a snapshot" (AWS Lambda Developer Guide, SnapStart), so a runtime that uses one again fails here.
        """
        waiter = self.lifecycle.restore()
        if waiter is None:
            return
        for connection in [c for c in self._connections if c is not waiter]:
            connection.close()
        waiter.answer(200, b"", close=True)
        waiter.resume()

    def reset(self, error: FunctionError) -> None:
        """The runtime process is gone: fail what it held and start over (queued work stays)."""
        for invocation in self.lifecycle.runtime_replaced():
            invocation.fail(error)
            invocation.finish()
        self.init_error = None
        self.restore_error = None
        self.init_failed = Milestone()
        self.initialized = Milestone()
        self.restore_ready = Milestone()
        self.restore_failed = Milestone()

    def drop_queued(self) -> list[Invocation]:
        """Take back the invocations no runtime picked up yet (to fail them: none will)."""
        return self.lifecycle.drop_queued()

    async def close_connections(self) -> None:
        await self._http.close_connections()

    async def stop(self) -> None:
        await self._http.stop()

    # -- carrying out the machine's verdicts ------------------------------------------------------

    def serve_waiters(self) -> None:
        """Hand queued invocations to waiting `/next` requests while the runtime has room."""
        while (handout := self.lifecycle.next_handout()) is not None:
            waiter, invocation = handout
            if not waiter.hand_out(invocation):
                self.lifecycle.handout_failed(invocation)

    def fail(self, failure: Failure[Invocation] | None) -> None:
        """Fail the invocation a verdict names, if any."""
        if failure is None:
            return
        invocation = failure.item
        if not invocation.ended:
            log.warning(
                "%s: request %s fails: %s: %s",
                self.name,
                invocation.request_id,
                failure.error.error_type,
                failure.error.message,
            )
            invocation.fail(failure.error)
        invocation.finish()

    def record_init_error(self, error: FunctionError) -> None:
        log.warning(
            "%s: the runtime failed to initialize: %s: %s", self.name, error.error_type, error.message
        )
        self.init_error = error
        self.init_failed.set()

    def record_restore_error(self, error: FunctionError) -> None:
        log.warning("%s: the runtime failed to restore: %s: %s", self.name, error.error_type, error.message)
        self.restore_error = error
        self.restore_failed.set()

    def record_restore_ready(self) -> None:
        log.info("%s: the runtime waits in /runtime/restore/next: its snapshot can be taken", self.name)
        self.restore_ready.set()

    def _attach(self, conn: HttpConnection) -> None:
        connection = RuntimeConnection(self, conn)
        self._connections.add(connection)
        conn.closed.add_done_callback(lambda _: self._connections.discard(connection))


class RuntimeConnection:
    """One runtime's connection: routes each request as its head arrives, feeds its body to a reader,
    and answers when the body ends, all from the connection's `on_input` callback.

    While an answer or a body piece waits (for an invocation to hand out, room in the invocation's pipe,
    or bandwidth), input stays queued in the connection, which stops reading from the socket once it
    holds more than `READ_SIZE`: the runtime feels the backpressure.
    """

    def __init__(self, api: RuntimeApiServer, conn: HttpConnection) -> None:
        self.api = api
        self.lifecycle = api.lifecycle
        self.conn = conn
        self._hosts = api.hosts
        self._reader: BodyReader | None = None
        #: The invocation whose answer this connection is receiving, and which kind of answer.
        self._answering: Invocation | None = None
        self._answer = Answer.RESPONSE
        self._streaming = False
        self._waiting = False
        self._closed = False
        conn.on_input = self.process

    @property
    def name(self) -> str:
        return self.api.name

    def process(self) -> None:
        """Handle every request event the connection holds, until it runs dry or something waits."""
        conn = self.conn
        if conn.input_ended and self.lifecycle.waiter_gone(self):
            # It closed while its `GET /next` waited: like RAPID (Go's net/http), drop that request
            # rather than hand an invocation to a runtime that is gone.
            self._close()
            conn.close_soon()
            return
        while not self._waiting and not self._closed:
            try:
                event = conn.take()
            except BadRequest as error:
                self._refuse_malformed(error)
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

    def close(self) -> None:
        """End this connection now (a SnapStart restore: it is from before the snapshot)."""
        self._close()
        self.conn.close_soon()

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
        close: bool = False,
    ) -> bool:
        """Send a whole response; close the connection after it if `close`, or if the request said so or
        was not read. Return whether it could be sent."""
        try:
            self.conn.send_response(status, body, content_type=content_type, headers=headers, close=close)
        except ClientGone:
            self._close()
            return False
        if self.conn.close_after_response():
            self._close()
            self.conn.close_soon()
        return True

    def answer_error(
        self, status: int, error_type: str, message: str, *, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Refuse a request with RAPID's error document, `{"errorMessage": ..., "errorType": ...}`."""
        document = {"errorMessage": message, "errorType": error_type}
        self.answer(status, json.dumps(document).encode(), headers=headers)

    def reply(self, verdict: ReportVerdict[Invocation]) -> None:
        """Answer a request as the machine decided: its refusal, or 202 `{"status":"OK"}`."""
        rejection = verdict.rejection
        if rejection is not None:
            self.answer(rejection.status, rejection.body())
        else:
            self.answer(202, OK_BODY)

    def hand_out(self, invocation: Invocation) -> bool:
        """Answer the waiting `GET /next` with `invocation`'s event and Lambda's headers; False if the
        connection is gone (the invocation was not handed out)."""
        if self.conn.lost or self._closed:
            return False
        invocation.deadline_ms = int(time.time() * 1000 + self.api.timeout_seconds * 1000)
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
        if not self.answer(200, request.payload, content_type=request.content_type, headers=headers):
            return False
        invocation.mark_picked_up()
        if self._waiting:
            self.resume()
        return True

    # -- the `ResponseExchange` a streamed response's reader works with ---------------------------

    def conclude(self, size: int) -> None:
        """The answer's body ended after `size` bytes: the machine's verdict, carried out."""
        invocation = self._answering
        assert invocation is not None
        self._answering = None
        verdict = self.lifecycle.answer_finished(
            invocation.request.request_id, self._answer, self._streaming, size
        )
        if verdict.rejection is None:
            self.answer(202, OK_BODY)
        else:
            self.api.fail(verdict.failure)
            self.reply(verdict)
        invocation.finish()

    def truncated(self) -> None:
        """The answer's body will never end: the invocation is cut short (RAPID's truncated response)."""
        invocation, self._answering = self._answering, None
        if invocation is None:
            return
        self.api.fail(self.lifecycle.answer_cut(invocation.request_id).failure)

    # -- routing ----------------------------------------------------------------------------------

    def _route(self, request: Request) -> None:
        if (refusal := foreign_caller(self._hosts, request.headers, request.http_version)) is not None:
            self._read_body(
                DiscardedBody(lambda: self.answer_error(refusal.status, refusal.code, refusal.message))
            )
            return
        target = request.target.split("?", 1)[0]
        method = request.method
        if not target.startswith(API_PREFIX + "/"):
            self._not_found(target)
            return
        path = target[len(API_PREFIX) :]
        if path == "/runtime/invocation/next":
            if method == "GET":
                self._next()
            else:
                self._method_not_allowed("GET")
        elif match := _INVOCATION_ROUTE.match(path):
            if method == "POST":
                answer = Answer.RESPONSE if match["action"] == "response" else Answer.ERROR
                self._answer_started(request, unquote(match["id"]), answer)
            else:
                self._method_not_allowed("POST")
        elif path == "/runtime/init/error":
            if method == "POST":
                self._read_body(self._init_error_reader(request))
            else:
                self._method_not_allowed("POST")
        elif self.lifecycle.snap_start and path == "/runtime/restore/next":
            if method == "GET":
                self._restore_next()
            else:
                self._method_not_allowed("GET")
        elif self.lifecycle.snap_start and path == "/runtime/restore/error":
            if method == "POST":
                self._read_body(self._restore_error_reader(request))
            else:
                self._method_not_allowed("POST")
        else:
            self._not_found(target)

    def _next(self) -> None:
        """`GET /runtime/invocation/next`."""
        verdict = self.lifecycle.next_requested(self)
        if not self.api.initialized.is_set() and self.lifecycle.phase is Phase.READY:
            self.api.initialized.set()
        if verdict.abandoned is not None:
            self.api.fail(verdict.abandoned)
        if verdict.rejection is not None:
            self._refuse(verdict.rejection)
        elif verdict.handout is not None:
            if not self.hand_out(verdict.handout):
                self.lifecycle.handout_failed(verdict.handout)
                self.api.serve_waiters()
        else:
            self._waiting = True

    def _restore_next(self) -> None:
        """`GET /runtime/restore/next` (SnapStart): 200 with no body once the snapshot is restored."""
        verdict = self.lifecycle.restore_next_requested(self)
        if verdict is None:
            self._waiting = True
            self.api.record_restore_ready()
        elif verdict.rejection is not None:
            self._refuse(verdict.rejection)
        else:
            self.answer(200, b"")

    def _answer_started(self, request: Request, request_id: str, answer: Answer) -> None:
        """The head of `POST /invocation/{id}/response` or `/error`."""
        mode = request.header(RESPONSE_MODE_HEADER) or None  # RAPID: an empty value is no header
        verdict = self.lifecycle.answer_started(request_id, answer, mode)
        invocation = verdict.item
        if invocation is None:
            rejection = verdict.rejection
            assert rejection is not None
            self.api.fail(verdict.failure)
            self._read_body(DiscardedBody(lambda: self._refuse(rejection)))
            self.api.serve_waiters()
            return
        self._answering = invocation
        self._answer = answer
        self._streaming = verdict.streaming
        if self.lifecycle.queued:
            self.api.serve_waiters()  # the runtime has room for one more
        if answer is Answer.ERROR:
            self._read_body(self._error_reader(request, invocation))
        elif verdict.streaming:
            content_type = request.header(b"content-type") or "application/octet-stream"
            invocation.start_response(content_type, streaming=True)
            bucket = TokenBucket() if self.api.shape_bandwidth else None
            limit = self.lifecycle.max_streamed_bytes
            self._read_body(StreamedResponse(self, invocation, limit=limit, bucket=bucket))
        else:
            self._read_body(self._buffered_reader(request, invocation))

    def _read_body(self, reader: BodyReader) -> None:
        if self.conn.reading_body:
            self._reader = reader
            self.conn.accept_body()
        else:
            reader.end(self.conn.trailers)

    def _buffered_reader(self, request: Request, invocation: Invocation) -> BodyReader:
        """A buffered `POST /invocation/{id}/response`: checked against the limit once it is whole."""
        content_type = request.header(b"content-type") or "application/json"

        def buffered(body: bytes | None, size: int) -> None:
            self._answering = None
            verdict = self.lifecycle.answer_finished(
                invocation.request_id, Answer.RESPONSE, streaming=False, size=size
            )
            if verdict.failure is not None:
                self.api.fail(verdict.failure)
            elif body is not None:
                invocation.start_response(content_type, streaming=False)
                invocation.offer_chunk(body)
                invocation.end_response()
            self.reply(verdict)
            invocation.finish()

        return CollectedBody(self.lifecycle.max_buffered_bytes, on_end=buffered, on_cut=self.truncated)

    def _error_reader(self, request: Request, invocation: Invocation) -> BodyReader:
        """`POST /invocation/{id}/error`: the invocation fails with the runtime's error document."""
        error_type = _error_type(request)

        def failed(body: bytes | None, size: int) -> None:
            self._answering = None
            verdict = self.lifecycle.answer_finished(
                invocation.request_id, Answer.ERROR, streaming=False, size=size
            )
            invocation.fail(FunctionError.from_runtime(error_type, body or b""))
            self.reply(verdict)
            invocation.finish()

        return CollectedBody(self.lifecycle.max_buffered_bytes, on_end=failed, on_cut=self.truncated)

    def _init_error_reader(self, request: Request) -> BodyReader:
        """`POST /runtime/init/error`: recorded for the invocation waiting on the runtime's start (while
        restoring, RAPID takes it as a restore error)."""
        error_type = _error_type(request)

        def failed(body: bytes | None, size: int) -> None:
            restoring = self.lifecycle.phase is Phase.RESTORING
            verdict = self.lifecycle.init_error_reported()
            if verdict.rejection is None:
                error = FunctionError.from_runtime(error_type, body or b"")
                if restoring:
                    self.api.record_restore_error(error)
                else:
                    self.api.record_init_error(error)
            self.reply(verdict)

        return CollectedBody(self.lifecycle.max_buffered_bytes, on_end=failed)

    def _restore_error_reader(self, request: Request) -> BodyReader:
        """`POST /runtime/restore/error` (SnapStart): the after-restore hooks failed."""
        error_type = _error_type(request)

        def failed(body: bytes | None, size: int) -> None:
            verdict = self.lifecycle.restore_error_reported()
            if verdict.rejection is None:
                self.api.record_restore_error(FunctionError.from_runtime(error_type, body or b""))
            self.reply(verdict)

        return CollectedBody(self.lifecycle.max_buffered_bytes, on_end=failed)

    # -- refusals and closing ---------------------------------------------------------------------

    def _refuse(self, rejection: Rejection) -> None:
        self.answer(rejection.status, rejection.body())

    def _refuse_malformed(self, error: BadRequest) -> None:
        """Malformed input. Within a body (bad chunk framing, trailers over 4 KiB), RAPID's answer to a
        body it could not read, 400 `TruncatedHTTPRequest`, and the connection is dropped as Go's
        net/http drops it; before any body, a plain 4xx."""
        in_body = self._reader is not None
        self._close()
        if not in_body or self.conn.response_started or self.conn.lost:
            reject_bad_request(self.conn, error)
            return
        log.warning("%s: %s:%s sent a body that cannot be read: %s", self.name, *self.conn.peer, error)
        rejection = truncated_http_request()
        try:
            self.conn.send_response(rejection.status, rejection.body(), close=True)
        except ClientGone:
            pass
        self.conn.close_soon()

    def _close(self) -> None:
        """No more requests on this connection: cut the body being read, stop waiting for invocations."""
        self._closed = True
        self.lifecycle.waiter_gone(self)
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cut()

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
