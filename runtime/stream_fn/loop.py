"""The runtime: start-up, then ``next -> invoke -> report`` for the life of the process.

Start-up follows the stock client: ``sys.path`` as the managed runtime sets it, logging, the
handler import (an import failure is posted to ``/runtime/init/error`` and the process exits 1),
and with SnapStart (init type ``snap-start``) the runtime hooks and the restore
(:mod:`stream_fn.snap_start`, loaded only then).

Each invocation then runs the handler in the style it was written in:

* undecorated ``handler(event, context)``: the return value is JSON-encoded (bytes are sent as
  they are) and posted as a buffered response, exactly as under the stock client;
* ``@streamify_response`` ``handler(event, response_stream, context)``: the handler writes;
* ``@streamify_response`` generators: every yielded chunk is written as it is produced.

``async def`` handlers and async generators run on one event loop that lives as long as the
process (created when the first async handler is loaded), not ``asyncio.run`` per invocation.

Errors before any response byte was sent go to ``/invocation/{id}/error``; after that, as error
trailers. Any exception a handler raises, ``SystemExit`` included, fails only its own invocation:
the loop goes on with the next one (the stock client exits on ``SystemExit``, which turns the next
invocation into a cold start). A 5xx from the Runtime API means "exit promptly", and the runtime
does; a 4xx on a response is logged and the loop goes on.

JSON differences from the stock client (which uses simplejson): ``Decimal`` values are encoded as
numbers via ``int``/``float``, and named tuples as arrays.
"""

from __future__ import annotations

import json
import os
import sys
import time

from stream_fn import __version__, faults, logs
from stream_fn.context import FunctionSettings, LambdaContext
from stream_fn.decorator import is_async_function, streaming_options
from stream_fn.event_loop import process_event_loop
from stream_fn.handler_loader import load_handler
from stream_fn.invocation_scope import InvocationScope, enter_invocation
from stream_fn.log_output import LogSettings
from stream_fn.runtime_api import (
    InvocationEvent,
    RuntimeApiClient,
    RuntimeApiError,
    RuntimeApiUnavailableError,
)
from stream_fn.sys_path import use_stock_sys_path
from stream_fn.trace_id import TraceIdVariable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, NoReturn

    from stream_fn.error_reports import ErrorReport
    from stream_fn.stream_metrics import StreamMeter, StreamMetrics
    from stream_fn.streaming_protocol import StreamedRequestFactory
    from stream_fn.streams import ResponseStream

RUNTIME_API_VARIABLE = "AWS_LAMBDA_RUNTIME_API"
HANDLER_VARIABLE = "_HANDLER"
INITIALIZATION_TYPE_VARIABLE = "AWS_LAMBDA_INITIALIZATION_TYPE"
SNAP_START_INITIALIZATION = "snap-start"
#: Set on Lambda Managed Instances: how many invocations the process serves at once (stream_fn.concurrency).
MAX_CONCURRENCY_VARIABLE = "AWS_LAMBDA_MAX_CONCURRENCY"
USER_AGENT = (
    f"stream-fn/{__version__} (Python {sys.version_info[0]}.{sys.version_info[1]}.{sys.version_info[2]})"
)
UNHANDLED_INIT_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, "
    "in rare cases, a Lambda runtime update can cause unexpected function behavior. For functions using "
    "managed runtimes, runtime updates can be triggered by a function change, or can be applied "
    "automatically. To determine if the runtime has been updated, check the runtime version in the "
    "INIT_START log entry. If this error correlates with a change in the runtime version, you may be able "
    "to mitigate this error by temporarily rolling back to the previous runtime version. For more "
    "information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)


class FatalRuntimeApiError(Exception):
    """The Runtime API is gone or asked the runtime to exit (5xx)."""


def main() -> int:
    """Run the runtime until the Runtime API goes away; return the process exit status."""
    environ = os.environ
    client = runtime_api_client(environ)
    if client is None:
        return 2

    use_stock_sys_path(environ)
    settings_error = None
    try:
        log_settings = logs.read_log_settings(environ)
    except ValueError as error:
        settings_error, log_settings = error, LogSettings(False, "")
    log = logs.install(log_settings, environ)

    try:
        if settings_error is not None:
            raise faults.Fault(faults.INVALID_ENVIRONMENT, str(settings_error))
        runner = InvocationRunner(handler_from_environment(environ), client, log)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - any failure at init is reported, SystemExit included
        return report_init_error(client, log, error)

    if environ.get(INITIALIZATION_TYPE_VARIABLE) == SNAP_START_INITIALIZATION:
        from stream_fn.snap_start import snapshot_and_restore

        exit_status = snapshot_and_restore(client, log)
        if exit_status is not None:
            return exit_status
    try:
        runner.run_forever()
    except (FatalRuntimeApiError, RuntimeApiUnavailableError, RuntimeApiError) as error:
        sys.stderr.write(f"stream_fn: stopping: {error}\n")
        return 1


def runtime_api_client(environ: Mapping[str, str], *, reconnect: bool = True) -> RuntimeApiClient | None:
    """A client of the Runtime API ``AWS_LAMBDA_RUNTIME_API`` names; None, said on stderr, when the variable
    is missing or not ``host:port``. ``reconnect=False``: ``GET /next`` is not tried again on a new
    connection (Managed Instances' slots retry it themselves, with their own backoff)."""
    address = environ.get(RUNTIME_API_VARIABLE)
    if not address:
        sys.stderr.write(
            f"stream_fn: {RUNTIME_API_VARIABLE} is not set. The runtime is started by Lambda (or by "
            "`cdk-stream-fn serve`), which sets it to the host:port of the Runtime API.\n"
        )
        return None
    try:
        if reconnect:
            return RuntimeApiClient(address, USER_AGENT)
        return RuntimeApiClient(address, USER_AGENT, reconnect_delays=())
    except ValueError as error:
        sys.stderr.write(f"stream_fn: {error}\n")
        return None


def handler_from_environment(environ: Mapping[str, str]) -> Callable[..., Any]:
    """Import the handler ``_HANDLER`` names (a Fault, the stock client's error type, if it cannot be)."""
    handler_name = environ.get(HANDLER_VARIABLE)
    if not handler_name:
        raise faults.Fault(
            faults.MALFORMED_HANDLER_NAME,
            f"{HANDLER_VARIABLE} is not set: set it to the handler, e.g. app.handler or package/module.handler",
        )
    return load_handler(handler_name)


def report_init_error(
    client: RuntimeApiClient, log: logs.LambdaLog, error: BaseException, *, concurrent: bool = False
) -> int:
    """Log ``error`` and post it to ``/runtime/init/error``; the exit status (1).

    ``concurrent``: several processes of one environment may report it (Lambda Managed Instances), so a
    403 means another one has already, which is not an error (awslambdaric
    ``LambdaMultiConcurrentRuntimeClient.handle_init_error``).
    """
    import logging

    report = _error_report(error)
    logging.getLogger().warning(UNHANDLED_INIT_WARNING)
    report.log(log)
    try:
        client.post_init_error(
            json.dumps(report.document(), ensure_ascii=False).encode(), report.header_type()
        )
    except (RuntimeApiError, RuntimeApiUnavailableError) as post_error:
        if concurrent and isinstance(post_error, RuntimeApiError) and post_error.status == 403:
            sys.stderr.write("stream_fn: another worker has reported the init error already\n")
        else:
            sys.stderr.write(f"stream_fn: could not report the init error: {post_error}\n")
    return 1


class InvocationRunner:
    """Runs one handler for every invocation the Runtime API hands out."""

    def __init__(self, handler: Callable[..., Any], client: RuntimeApiClient, log: logs.LambdaLog) -> None:
        self._handler = handler
        self._options = streaming_options(handler)
        self._response_stream: type[ResponseStream] | None = None
        self._content_type = ""
        if self._options is not None:
            # Only a streaming handler needs the response stream: a buffered one never loads it.
            from stream_fn.framing import DEFAULT_CONTENT_TYPE
            from stream_fn.streams import ResponseStream

            self._response_stream = ResponseStream
            self._content_type = self._options.content_type or DEFAULT_CONTENT_TYPE
        self._metrics = _stream_metrics(os.environ) if self._options is not None else None
        self._client = client
        self._log = log
        self._settings = FunctionSettings()
        self._trace_id = TraceIdVariable()
        self._encode = json.JSONEncoder(ensure_ascii=False, allow_nan=True, default=_encode_special).encode
        if is_async_function(handler):
            process_event_loop()  # created at init, not during the first invocation

    def run_forever(self) -> NoReturn:
        next_invocation = self._client.next_invocation
        self.run_once(next_invocation())
        self._trace_id.use_owned_buffers()
        while True:
            self.run_once(next_invocation())

    def run_once(self, invocation: InvocationEvent) -> None:
        """Invoke the handler for ``invocation`` and report its result or error.

        The invocation's scope (request, trace and tenant ids, which its log records carry) is entered
        first; one invocation runs at a time, so it stays current until the next one replaces it.
        """
        arrived_ns = time.perf_counter_ns() if self._metrics is not None else 0
        request_id = self._enter(invocation)
        if request_id is None:
            return
        self._trace_id.set(invocation.trace_id)
        try:
            event, context = self._arguments(invocation, request_id)
        except faults.Fault as error:
            self._report_error(request_id, _error_report(error))
            return
        if self._options is None:
            self._invoke_buffered(request_id, event, context)
        elif self._metrics is None:
            self._invoke_streaming(request_id, event, context)
        else:
            meter = self._metrics.meter(arrived_ns)
            self._invoke_streaming(request_id, event, context, meter)
            self._metrics.emit(meter, request_id)

    def _enter(self, invocation: InvocationEvent) -> str | None:
        """Enter the invocation's scope and return its request id; None, said on stderr, for an event without
        one, which cannot be answered."""
        request_id = invocation.request_id
        if not request_id:
            sys.stderr.write(
                "stream_fn: skipped an event without Lambda-Runtime-Aws-Request-Id: it cannot be answered\n"
            )
            return None
        enter_invocation(InvocationScope(request_id, invocation.trace_id, invocation.tenant_id))
        return request_id

    def _arguments(self, invocation: InvocationEvent, request_id: str) -> tuple[Any, LambdaContext]:
        """The handler's event and context (a Fault if the event cannot be decoded)."""
        context = LambdaContext(
            self._settings,
            request_id,
            invocation.deadline_ms,
            invocation.invoked_function_arn,
            invocation.client_context,
            invocation.cognito_identity,
            invocation.tenant_id,
        )
        return _decode_event(invocation), context

    def _invoke_buffered(self, request_id: str, event: Any, context: LambdaContext) -> None:
        try:
            result = self._handler(event, context)
            if hasattr(result, "__await__"):
                result = process_event_loop().run_until_complete(result)
            body, content_type = self._marshal(result)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: BLE001 - the invocation fails, the runtime goes on
            self._report_error(request_id, _error_report(error))
            return
        self._send(request_id, lambda: self._client.post_response(request_id, body, content_type))

    def _invoke_streaming(
        self, request_id: str, event: Any, context: LambdaContext, meter: StreamMeter | None = None
    ) -> None:
        options = self._options
        assert options is not None
        stream = self._open_stream(self._client, request_id, event, meter)
        try:
            if options.generator:
                self._write_chunks(self._handler(event, context), stream)
            else:
                result = self._handler(event, stream, context)
                if hasattr(result, "__await__"):
                    process_event_loop().run_until_complete(result)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: BLE001 - the invocation fails, the runtime goes on
            report = _error_report(error)
            _raise_if_fatal(error)
            report.log(self._log, request_id)
            must_post_error = self._send(request_id, lambda: stream._fail(report.trailers()))
            if must_post_error:
                self._post_error(request_id, report)
            return
        self._send(request_id, stream._finish)

    def _open_stream(
        self, client: StreamedRequestFactory, request_id: str, event: Any, meter: StreamMeter | None
    ) -> ResponseStream:
        """The invocation's response stream on ``client``, before the handler sees it: compression offered
        (``compress=True``), ``meter`` filled in (stream metrics), the decorator's HTTP prelude applied."""
        options = self._options
        assert options is not None and self._response_stream is not None
        stream = self._response_stream(client, request_id, self._content_type)
        if options.compress:
            from stream_fn.content_encoding import offer_from_event

            stream._offer_codings(offer_from_event(event))
        if meter is not None:
            stream._measure(meter)
        if options.http_prelude is not None:
            stream._set_http_prelude(options.http_prelude)
        return stream

    def _write_chunks(self, chunks: Any, stream: ResponseStream) -> None:
        if hasattr(chunks, "__anext__"):
            process_event_loop().run_until_complete(_write_async_chunks(chunks, stream.write))
        else:
            write_chunks(chunks, stream.write)

    def _marshal(self, result: Any) -> tuple[bytes, str]:
        if isinstance(result, bytes):
            return result, "application/unknown"
        try:
            return self._encode(result).encode(), "application/json"
        except (TypeError, ValueError, OverflowError) as error:
            raise faults.Fault(faults.MARSHAL_ERROR, f"Unable to marshal response: {error}") from None

    def _report_error(self, request_id: str, report: ErrorReport) -> None:
        report.log(self._log, request_id)
        self._post_error(request_id, report)

    def _post_error(self, request_id: str, report: ErrorReport) -> None:
        document = json.dumps(report.document(request_id), ensure_ascii=False).encode()
        self._send(
            request_id,
            lambda: self._client.post_invocation_error(
                request_id, document, report.header_type(), report.xray_cause()
            ),
        )

    def _send(self, request_id: str, action: Callable[[], Any]) -> Any:
        """Run a Runtime API call for ``request_id``; a 4xx answer is logged, a 5xx or a lost Runtime API
        stops the runtime."""
        try:
            return action()
        except Exception as error:
            _raise_if_fatal(error)
            if isinstance(error, (RuntimeApiError, RuntimeApiUnavailableError, ConnectionError)):
                sys.stderr.write(f"stream_fn: request {request_id}: {error}\n")
                return False
            raise


def _stream_metrics(environ: Any) -> StreamMetrics | None:
    """The per-invocation records ``STREAM_FN_METRICS`` asks for (its module loads only then)."""
    if not environ.get("STREAM_FN_METRICS"):
        return None
    from stream_fn.stream_metrics import metrics_from_environment

    try:
        return metrics_from_environment(environ)
    except ValueError as error:
        raise faults.Fault(faults.INVALID_ENVIRONMENT, str(error)) from None


def _error_report(error: BaseException) -> ErrorReport:
    """The report of ``error``. Error reporting (and ``traceback``) loads with the first error, so a cold
    start that succeeds does not compile it."""
    from stream_fn.error_reports import ErrorReport

    return ErrorReport.from_exception(error)


def write_chunks(chunks: Any, write: Callable[[Any], Any]) -> None:
    """Write each chunk a generator handler yields, then close the generator (also when a write failed)."""
    try:
        for chunk in chunks:
            write(chunk)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


async def _write_async_chunks(chunks: Any, write: Callable[[Any], Any]) -> None:
    try:
        async for chunk in chunks:
            write(chunk)
    finally:
        await chunks.aclose()


def _raise_if_fatal(error: BaseException) -> None:
    """Turn a 5xx answer (possibly the cause of a stream error) into FatalRuntimeApiError."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, RuntimeApiError) and cause.fatal:
            raise FatalRuntimeApiError(str(cause)) from error
        cause = cause.__cause__


def _decode_event(invocation: InvocationEvent) -> Any:
    content_type = invocation.content_type
    if content_type and not content_type.startswith("application/json"):
        return invocation.body
    try:
        return _decode_json(invocation.body.decode("utf-8"))
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError included
        raise faults.Fault(faults.UNMARSHAL_ERROR, f"Unable to unmarshal input: {error}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Strict like the stock client's simplejson: NaN and Infinity are not JSON, so an event with them is refused.
_decode_json = json.JSONDecoder(parse_constant=_refuse_constant).decode


def _encode_special(value: Any) -> Any:
    """JSON for the types the stock client's simplejson encoder also accepts (Decimal)."""
    import decimal

    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return float(value)
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
