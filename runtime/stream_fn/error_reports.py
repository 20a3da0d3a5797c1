"""Error reports in the shapes the platform and the stock runtime client use.

Loaded with the first error a function reports, never at start-up: a cold start that succeeds does
not pay for it (on Lambda the runtime's modules are compiled from source at every cold start).

* The error document (``/init/error``, ``/invocation/{id}/error`` and the log) is the stock
  client's: ``{"errorMessage", "errorType", "requestId", "stackTrace"}``, where errorType is the
  exception's class name and stackTrace lists ``traceback.format_list`` lines, starting at the
  first frame outside the runtime.
* The ``Lambda-Runtime-Function-Error-Type`` header and trailer use the ``Category.Reason`` form
  AWS recommends (the platform reports any other value as ``Runtime.Unknown``):
  ``Function.<ClassName>`` when the class name is plain ASCII letters, else ``Function.Unhandled``.
* Mid-stream, the ``Lambda-Runtime-Function-Error-Body`` trailer is the base64 of
  ``{"errorMessage", "errorType", "stackTrace"}``: base64 because raw JSON may hold CR/LF, which
  would break the chunked framing. The whole trailer section must fit in RAPID's read buffer
  (:data:`stream_fn.framing.MAX_TRAILER_SECTION_BYTES`), or the caller gets
  ``Runtime.TruncatedResponse`` and no error at all; a report too long for it is shortened (see
  :meth:`ErrorReport.trailers`). ``/invocation/{id}/error`` takes a request body and stays whole.
* The X-Ray cause header follows the stock client's ``make_xray_fault``.
* The log record is the stock client's: ``[ERROR] Type: message`` and the traceback as one event
  (lines joined with ``\\r`` on stdout, one frame on the telemetry descriptor), or one JSON object.
"""

from __future__ import annotations

import binascii
import json
import os
import time
import traceback

from stream_fn.faults import Fault
from stream_fn.framing import MAX_TRAILER_SECTION_BYTES, trailer_section_size
from stream_fn.log_output import JSON_DATE_FORMAT, JSON_FRAME_TYPES, TEXT_FRAME_TYPES, json_encode
from stream_fn.runtime_api import ERROR_BODY_TRAILER, ERROR_TYPE_HEADER

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from traceback import FrameSummary
    from typing import Any

    from stream_fn.logs import LambdaLog

_MAX_XRAY_CAUSE = 1024 * 1024
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_ERROR_INDENT = "\u00a0"
_MAX_TRAILER_ERROR_TYPE = 256  # characters of a (hostile) class name kept in the trailers
_MAX_KEPT_FRAME = 600  # characters of the innermost frame kept when the message must be cut too
_LIMIT_REASON = "to fit the 4 KB limit on a streamed error report"


class ErrorReport:
    """One error, ready to be logged, posted to ``/error`` or sent as trailers."""

    __slots__ = ("error_type", "frames", "message", "stack_trace")

    def __init__(
        self, error_type: str, message: str, stack_trace: list[str], frames: list[FrameSummary]
    ) -> None:
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace
        self.frames = frames

    @classmethod
    def from_exception(cls, error: BaseException) -> ErrorReport:
        if isinstance(error, Fault):
            return cls(error.error_type, error.message, error.stack_trace, [])
        frames = list(traceback.extract_tb(error.__traceback__))
        while frames and frames[0].filename.startswith(_RUNTIME_DIR):
            del frames[0]
        # Plain tuples, as the stock client formats them: no ^^^ markers under the failing expression.
        plain = [(frame.filename, frame.lineno or 0, frame.name, frame.line) for frame in frames]
        return cls(type(error).__name__, _message(error), traceback.format_list(plain), frames)

    def document(self, request_id: str = "") -> dict[str, Any]:
        """The stock client's error document."""
        return {
            "errorMessage": self.message,
            "errorType": self.error_type,
            "requestId": request_id,
            "stackTrace": self.stack_trace,
        }

    def header_type(self) -> str:
        """The ``Lambda-Runtime-Function-Error-Type`` value for this error."""
        if "." in self.error_type:
            category, _, reason = self.error_type.partition(".")
            if category in ("Runtime", "Function") and _is_reason(reason):
                return self.error_type
        return f"Function.{self.error_type}" if _is_reason(self.error_type) else "Function.Unhandled"

    def trailers(self, limit: int = MAX_TRAILER_SECTION_BYTES) -> list[tuple[str, str]]:
        """The error trailers that end a streamed response that failed mid-way, at most ``limit`` bytes.

        The error type is kept. A report too long for the limit is shortened: first the stack trace
        loses its outer frames (the innermost ones, which locate the error, stay, after a line that
        says how many were dropped), then the message is cut (with a note of its length) and the
        innermost frame alone stays. The body then has ``"truncated": true``.
        """
        header_type = self.header_type()[:_MAX_TRAILER_ERROR_TYPE]  # a prefix of letters stays valid
        error_type = self.error_type
        if len(error_type) > _MAX_TRAILER_ERROR_TYPE:
            error_type = error_type[:_MAX_TRAILER_ERROR_TYPE] + "..."
        framing_bytes = trailer_section_size([(ERROR_TYPE_HEADER, header_type), (ERROR_BODY_TRAILER, "")])
        body = fit_error_body(
            error_type,
            self.message,
            self.stack_trace,
            (limit - framing_bytes) // 4 * 3,
            error_type != self.error_type,
        )
        encoded = binascii.b2a_base64(body, newline=False).decode("ascii")
        return [(ERROR_TYPE_HEADER, header_type), (ERROR_BODY_TRAILER, encoded)]

    def xray_cause(self) -> str | None:
        """The ``Lambda-Runtime-Function-XRay-Error-Cause`` header value, or None if it would be too large."""
        stack = [{"label": frame.name, "path": frame.filename, "line": frame.lineno} for frame in self.frames]
        cause = {
            "working_directory": os.getcwd(),
            "exceptions": [{"message": self.message, "type": self.error_type, "stack": stack}],
            "paths": sorted({frame.filename for frame in self.frames}),
        }
        encoded = json.dumps(cause)  # ASCII only (ensure_ascii), so it is a valid header value
        return encoded if len(encoded) < _MAX_XRAY_CAUSE else None

    def log(self, log: LambdaLog, request_id: str = "") -> None:
        """Log the error the way the stock runtime client logs an unhandled error."""
        document = self.document(request_id)
        if log.settings.json:
            timestamp = time.strftime(JSON_DATE_FORMAT, time.gmtime())
            log.sink.log_error(
                [json_encode({"timestamp": timestamp, "level": "ERROR", **document})], JSON_FRAME_TYPES[40]
            )
            return
        description = "[ERROR]"
        if self.error_type:
            description += " " + self.error_type
        if self.message:
            description += (":" if self.error_type else "") + " " + self.message
        lines = [description, "Traceback (most recent call last):"]
        for element in self.stack_trace:
            if element == "":
                lines.append("")
            for line in element.splitlines():
                stripped = line.lstrip(" ")
                lines.append(_ERROR_INDENT * (len(line) - len(stripped)) + stripped)
        log.sink.log_error(lines, TEXT_FRAME_TYPES[40])


def fit_error_body(
    error_type: str, message: str, stack_trace: list[str], budget: int, truncated: bool = False
) -> bytes:
    """The JSON of ``{"errorMessage", "errorType", "stackTrace"}`` in at most ``budget`` bytes.

    Whole if it fits; else outer frames go first, then the message is cut, as
    :meth:`ErrorReport.trailers` describes, and ``"truncated": true`` is added. The JSON is ASCII
    (``ensure_ascii``), so its length in characters is its length in bytes.
    """
    whole: dict[str, Any] = {"errorMessage": message, "errorType": error_type, "stackTrace": stack_trace}
    if truncated:
        whole["truncated"] = True
    encoded = json.dumps(whole)
    if len(encoded) <= budget:
        return encoded.encode()
    fixed = len(
        json.dumps({"errorMessage": "", "errorType": error_type, "stackTrace": [], "truncated": True})
    )
    message_size = len(json.dumps(message)) - 2
    frame_sizes = [len(json.dumps(frame)) for frame in stack_trace]
    kept = _innermost_frames_that_fit(frame_sizes, budget - fixed - message_size)
    if kept:
        return _dump(message, error_type, _with_omission_line(stack_trace, kept))
    for stack in _shortest_stacks(stack_trace):  # the message must be cut too
        room = budget - fixed - (len(json.dumps(stack)) - 2)
        if room >= 0:
            return _dump(_cut(message, room), error_type, stack)
    return _dump("", error_type, [])


def _innermost_frames_that_fit(frame_sizes: list[int], room: int) -> int:
    """How many innermost frames (with the line that counts the others) fit in ``room`` bytes of JSON."""
    total = len(frame_sizes)
    kept = 0
    used = 2  # the brackets
    for size in reversed(frame_sizes):
        omission = len(json.dumps(_omission_line(total - kept - 1))) + 2 if kept + 1 < total else 0
        if used + size + 2 + omission > room:
            break
        used += size + 2
        kept += 1
    return kept


def _shortest_stacks(stack_trace: list[str]) -> Iterator[list[str]]:
    """The stack traces to try once the message must be cut: the innermost frame, then none."""
    if stack_trace:
        innermost = stack_trace[-1]
        if len(innermost) > _MAX_KEPT_FRAME:
            innermost = innermost[: _MAX_KEPT_FRAME - 4] + "...\n"
        yield _with_omission_line([*stack_trace[:-1], innermost], 1)
        yield [_omission_line(len(stack_trace))]
    yield []


def _with_omission_line(stack_trace: list[str], kept: int) -> list[str]:
    dropped = len(stack_trace) - kept
    innermost = stack_trace[-kept:]
    return [_omission_line(dropped), *innermost] if dropped else innermost


def _omission_line(dropped: int) -> str:
    return f"  [{dropped} outer frame{'s' if dropped != 1 else ''} omitted {_LIMIT_REASON}]\n"


def _cut(message: str, room: int) -> str:
    """The longest start of ``message`` that, with a note of the cut, takes at most ``room`` bytes of JSON."""
    note = f" [... message cut from {len(message)} characters {_LIMIT_REASON}]"
    if len(json.dumps(note)) - 2 > room:
        return ""
    low, high = 0, min(len(message), room)
    while low < high:  # the most characters whose JSON fits: the JSON length grows with the prefix
        middle = (low + high + 1) // 2
        if len(json.dumps(message[:middle] + note)) - 2 <= room:
            low = middle
        else:
            high = middle - 1
    return message[:low] + note


def _dump(message: str, error_type: str, stack_trace: list[str]) -> bytes:
    document = {
        "errorMessage": message,
        "errorType": error_type,
        "stackTrace": stack_trace,
        "truncated": True,
    }
    return json.dumps(document).encode()


def _message(error: BaseException) -> str:
    """``str(error)``, or what ``traceback`` prints when that raises too."""
    try:
        return str(error)
    except Exception:  # noqa: BLE001 - a broken __str__ must not take the runtime down
        return f"<exception str() failed for {type(error).__name__}>"


def _is_reason(text: str) -> bool:
    return len(text) >= 2 and text[0].isupper() and set(text) <= _ASCII_LETTERS
