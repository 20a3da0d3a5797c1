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
  would break the chunked framing.
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
from stream_fn.log_output import JSON_DATE_FORMAT, JSON_FRAME_TYPES, TEXT_FRAME_TYPES, json_encode
from stream_fn.runtime_api import ERROR_BODY_TRAILER, ERROR_TYPE_HEADER

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traceback import FrameSummary
    from typing import Any

    from stream_fn.logs import LambdaLog

_MAX_XRAY_CAUSE = 1024 * 1024
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_ERROR_INDENT = "\u00a0"


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

    def trailers(self) -> list[tuple[str, str]]:
        """The error trailers that end a streamed response that failed mid-way."""
        body = {"errorMessage": self.message, "errorType": self.error_type, "stackTrace": self.stack_trace}
        encoded = binascii.b2a_base64(json.dumps(body).encode(), newline=False).decode("ascii")
        return [(ERROR_TYPE_HEADER, self.header_type()), (ERROR_BODY_TRAILER, encoded)]

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


def _message(error: BaseException) -> str:
    """``str(error)``, or what ``traceback`` prints when that raises too."""
    try:
        return str(error)
    except Exception:  # noqa: BLE001 - a broken __str__ must not take the runtime down
        return f"<exception str() failed for {type(error).__name__}>"


def _is_reason(text: str) -> bool:
    return len(text) >= 2 and text[0].isupper() and set(text) <= _ASCII_LETTERS
