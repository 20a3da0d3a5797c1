"""Every error the emulator reports in Lambda's name, built in one place with its source.

What a caller of the function URL or the Lambda API sees when an invocation fails is a `FunctionError`:
an error type (`Function.*`, `Runtime.*`, `Sandbox.*`, or the service's own `ServiceException`) and the
JSON error document Lambda returns. The runtime's own errors (`/error`, `/init/error`, error trailers)
arrive through `FunctionError.from_runtime` and `from_trailers`; the platform's are built by the
functions below, each naming where its type and message shape come from: RAPID (the Runtime API
server in aws/aws-lambda-runtime-interface-emulator, `internal/lambda/...`), AWS's documentation, or,
where neither says, the emulator itself (said so).

The Runtime API's answers to the runtime (400 `InvalidRequestID`, 403 `InvalidStateTransition`, ...)
are not here: they are `Rejection` values of the lifecycle machine (`sandboxes/lifecycle.py`).
"""

from __future__ import annotations

import base64
import json
import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class FunctionError:
    """An error as Lambda reports it: a type such as `Sandbox.Timedout` and the JSON error document."""

    error_type: str
    message: str
    payload: bytes

    @classmethod
    def from_platform(cls, error_type: str, message: str) -> FunctionError:
        """An error the platform raises itself, shaped as Lambda's (`{"errorMessage", "errorType"}`)."""
        payload = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
        return cls(error_type, message, payload)

    @classmethod
    def from_runtime(cls, error_type: str | None, payload: bytes) -> FunctionError:
        """An error the runtime reported (`/error`, `/init/error`, or error trailers)."""
        message = payload.decode("utf-8", "replace")
        document_type = None
        try:
            document = json.loads(payload)
        except ValueError:
            document = None
        if isinstance(document, dict):
            if isinstance(document.get("errorMessage"), str):
                message = document["errorMessage"]
            if isinstance(document.get("errorType"), str):
                document_type = document["errorType"]
        return cls(error_type or document_type or "Unhandled", message, payload)

    @classmethod
    def from_trailers(cls, error_type: str, encoded_body: str | None) -> FunctionError:
        """An error sent as `Lambda-Runtime-Function-Error-Type/-Body` trailers (the body is base64)."""
        body = b""
        if encoded_body:
            try:
                body = base64.b64decode(encoded_body, validate=True)
            except ValueError:
                body = encoded_body.encode()
        if not body:
            body = json.dumps({"errorType": error_type, "errorMessage": ""}).encode()
        return cls.from_runtime(error_type, body)


def response_too_large(limit: int, size: int | None = None) -> FunctionError:
    """A response passed `limit` bytes: `Function.ResponseSizeTooLarge`.

    With `size`, RAPID's message: `interop.ErrorResponseTooLarge.Error()` (`internal/lambda/interop/
    model.go`), "Response payload size (%d bytes) exceeded maximum allowed payload size (%d bytes).",
    sent to the caller by `AsErrorResponse` with type `fatalerror.FunctionOversizedResponse`. In RAPID's
    buffered path (`rapidcore/server.go` `sendResponseUnsafe`) the size is the whole body, read to its end
    before it is measured; in its direct-invoke path (`core/directinvoke`) the body is read only up to the
    limit plus one byte, so the size there is `limit + 1`. For a streamed response, which RAPID does not
    cap itself (Lambda's 200 MB limit is applied outside it), the size is the bytes received when the
    stream was cut.

    Without `size`, the message Lambda's Invoke API returns ("Response payload size exceeded maximum
    allowed payload size (6291556 bytes).", as observed and published, e.g. Zac Charles, "Deep Dive:
    Lambda's Response Payload Size Limit"): for a limit applied by a front end rather than the Runtime API.
    """
    measured = f" ({size} bytes)" if size is not None else ""
    return FunctionError.from_platform(
        "Function.ResponseSizeTooLarge",
        f"Response payload size{measured} exceeded maximum allowed payload size ({limit} bytes).",
    )


def truncated_response(request_id: str) -> FunctionError:
    """The runtime's response never ended properly: `Runtime.TruncatedResponse`.

    RAPID's type (`fatalerror.TruncatedResponse`) for a response body it could not read to its end
    (malformed chunked framing, a closed connection, a trailer section over Go's 4 KiB buffer:
    `directinvoke.mapCopyDoneResultErrorToErrorType`). RAPID reports it as an error type alone, with no
    message; the message here is the emulator's, to say what happened.
    """
    return FunctionError.from_platform(
        "Runtime.TruncatedResponse",
        f"RequestId: {request_id} Error: the runtime's response ended before it was complete "
        "(malformed framing, a closed connection, or trailers over 4096 bytes)",
    )


def invalid_response_mode(request_id: str, mode: str) -> FunctionError:
    """The runtime sent `Lambda-Runtime-Function-Response-Mode` other than `streaming`.

    RAPID (`rapi/handler/invocationresponse.go`) fails the invocation with type
    `Runtime.InvalidResponseModeHeader` and an empty payload, and answers the runtime 400
    `InvalidFunctionResponseMode`; the message here is the emulator's.
    """
    return FunctionError.from_platform(
        "Runtime.InvalidResponseModeHeader",
        f"RequestId: {request_id} Error: Lambda-Runtime-Function-Response-Mode was {mode!r}; "
        "Lambda accepts only 'streaming' (or no header for a buffered response)",
    )


def next_without_answer(request_id: str) -> FunctionError:
    """The runtime asked for the next event while it held this one unanswered: `Runtime.InvalidResponse`.

    The emulator's own rule, not RAPID's: RAPID lets that `/next` wait and the held invocation run into
    its timeout. Failing it at once tells the caller (and the developer) what went wrong without waiting
    for the timeout.
    """
    return FunctionError.from_platform(
        "Runtime.InvalidResponse",
        f"RequestId: {request_id} Error: the runtime asked for the next event "
        "without sending a response or an error",
    )


def exit_error(request_id: str, returncode: int | None) -> FunctionError:
    """The runtime process exited during the invocation: `Runtime.ExitError`.

    RAPID (`internal/lambda/rapid/handlers.go`): "Runtime exited with error: <Go's ProcessState>"
    ("exit status 1", "signal: killed"), or "Runtime exited without providing a reason" for exit status
    0, with type `fatalerror.RuntimeExit`. Lambda's Invoke response prefixes "RequestId: <id> Error: ".
    """
    detail = _exit_detail(returncode)
    return FunctionError.from_platform("Runtime.ExitError", f"RequestId: {request_id} Error: {detail}")


def init_exit_error(returncode: int | None) -> FunctionError:
    """The runtime process exited during its init, with no invocation waiting: `Runtime.ExitError` with
    RAPID's wording (see `exit_error`) and no request id (`serve` reports it for a reloaded function)."""
    return FunctionError.from_platform("Runtime.ExitError", _exit_detail(returncode))


def init_timed_out(seconds: float) -> FunctionError:
    """The runtime did not finish its init within the init phase's limit, with no invocation waiting
    (`Sandbox.Timedout`, as `timed_out`; the message is the emulator's)."""
    return FunctionError.from_platform(
        "Sandbox.Timedout", f"the runtime did not finish its init within {seconds:g} seconds"
    )


def _exit_detail(returncode: int | None) -> str:
    if returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode is not None and returncode < 0:
        return f"Runtime exited with error: signal: {_signal_name(-returncode)}"
    return f"Runtime exited with error: exit status {returncode}"


def out_of_memory(request_id: str) -> FunctionError:
    """The runtime was killed for using more than the function's memory: `Runtime.OutOfMemory`.

    Lambda reports a function that runs out of memory with this type and RAPID's exit wording for a
    SIGKILL ("Runtime exited with error: signal: killed"); the emulator's memory watcher
    (`sandboxes.memory`) kills the runtime's process group over `MemorySize`.
    """
    return FunctionError.from_platform(
        "Runtime.OutOfMemory", f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
    )


def timed_out(request_id: str, seconds: float) -> FunctionError:
    """The invocation ran past its limit: `Sandbox.Timedout`, "Task timed out after 5.00 seconds".

    The wording is Lambda's (RAPID's standalone emulator, `internal/lambda/rie/handlers.go`, writes
    "Task timed out after %d.00 seconds"); the type and the "RequestId: <id> Error: " prefix are what
    Lambda's Invoke returns for a timeout. `seconds` is the limit that applied: the function's timeout,
    or the init phase's 10 s (see `Sandbox`).
    """
    return FunctionError.from_platform(
        "Sandbox.Timedout", f"RequestId: {request_id} Error: Task timed out after {seconds:.2f} seconds"
    )


def snap_start_timeout(request_id: str, seconds: float) -> FunctionError:
    """SnapStart: the runtime was not ready within `seconds` of the restore: `SnapStartTimeoutException`.

    What Lambda's Invoke answers (botocore's service model for lambda: `SnapStartTimeoutException`, HTTP
    408, "Lambda couldn't restore the snapshot within the timeout limit."); RAPID's own name for it is
    `Runtime.RestoreHookUserTimeout` (`interop.ErrRestoreHookTimeout`). The limit that applied is added.
    """
    return FunctionError.from_platform(
        "SnapStartTimeoutException",
        f"RequestId: {request_id} Error: Lambda couldn't restore the snapshot within the timeout limit "
        f"({seconds:g} seconds for the after-restore hooks)",
    )


def snap_start_failed(request_id: str, reported: FunctionError) -> FunctionError:
    """SnapStart: the runtime reported a failed restore (`POST /runtime/restore/error`, e.g.
    `Runtime.AfterRestoreError`): `SnapStartException`.

    What Lambda's Invoke answers (botocore's service model: `SnapStartException`, HTTP 400, "The
    afterRestore() runtime hook encountered an error. For more information, check the Amazon CloudWatch
    logs."). Locally the runtime's report is added, so the caller sees what failed without the log.
    """
    return FunctionError.from_platform(
        "SnapStartException",
        f"RequestId: {request_id} Error: The afterRestore() runtime hook encountered an error. For more "
        f"information, check the Amazon CloudWatch logs. (The runtime reported {reported.error_type}: "
        f"{reported.message})",
    )


def invalid_entrypoint(detail: str) -> FunctionError:
    """The runtime command could not be started: `Runtime.InvalidEntrypoint` (RAPID's
    `fatalerror.InvalidEntrypoint`, for a bootstrap that cannot be executed)."""
    return FunctionError.from_platform("Runtime.InvalidEntrypoint", detail)


LOCAL_UNAVAILABLE = "Local.FunctionUnavailable"
"""Not an error Lambda has: the emulator's own, for a function that cannot run on this machine."""


def unavailable_locally(detail: str) -> FunctionError:
    """The function cannot run on this machine (`FunctionConfig.unavailable`: a dependency that cannot be
    installed for the interpreter that runs it here). Lambda has no such error: the type says it is the
    emulator's, the message what went wrong and what to do."""
    return FunctionError.from_platform(LOCAL_UNAVAILABLE, detail)


def shutting_down() -> FunctionError:
    """The emulator stopped while the invocation ran. `Runtime.ExitError` as Lambda reports a runtime
    that is gone; the message is the emulator's."""
    return FunctionError.from_platform("Runtime.ExitError", "the emulator is shutting down")


def runtime_gone() -> FunctionError:
    """The runtime process died between invocations and is being replaced (`Runtime.ExitError`; the
    message is the emulator's, for the log: no caller is waiting on it)."""
    return FunctionError.from_platform("Runtime.ExitError", "the runtime exited")


def service_exception() -> FunctionError:
    """The emulator itself failed: `ServiceException`, the Lambda API's error for an internal failure
    (AWS Lambda API reference, Invoke, "Errors": ServiceException, HTTP 500)."""
    return FunctionError.from_platform("ServiceException", "the emulator failed; see its log")


def _signal_name(number: int) -> str:
    """A signal as Go's `ProcessState.String()` names it ("killed", "segmentation fault"): the C
    library's description, which Go's table copies, in lower case."""
    try:
        description = signal.strsignal(number)
    except ValueError:
        description = None
    return description.lower() if description else f"signal {number}"
