"""The ``logging`` side of the log set-up, loaded only once something imports ``logging``.

Installs on the root logger the stock runtime client's handler: records carry the request id
(``aws_request_id``) of the invocation the logging code serves (:mod:`stream_fn.invocation_scope`)
and go to the log sink :mod:`stream_fn.logs` chose, formatted as Text or as JSON by
:class:`JsonFormatter` (``awslambdaric.lambda_runtime_log_utils.JsonFormatter``).
"""

from __future__ import annotations

import logging
import time

from stream_fn.invocation_scope import current_invocation
from stream_fn.log_output import (
    JSON_DATE_FORMAT,
    JSON_FRAME_TYPES,
    TEXT_DATE_FORMAT,
    TEXT_FORMAT,
    TEXT_FRAME_TYPES,
    json_encode,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from stream_fn.log_output import FramedSink, LogSettings, StdoutSink

_RESERVED_RECORD_FIELDS = frozenset(
    (
        "name",
        "msg",
        "args",
        "levelname",
        "levelno",
        "pathname",
        "filename",
        "module",
        "exc_info",
        "exc_text",
        "stack_info",
        "lineno",
        "funcName",
        "created",
        "msecs",
        "relativeCreated",
        "thread",
        "threadName",
        "processName",
        "process",
        "aws_request_id",
        "tenant_id",
        "_frame_type",
        "taskName",
    )
)


def configure_root_logger(settings: LogSettings, sink: StdoutSink | FramedSink) -> None:
    """Put the Lambda handler on the root logger and set its level (only if the level was configured)."""
    logging.Formatter.converter = time.gmtime
    handler = _SinkHandler(sink, level_frames=settings.json or bool(settings.level))
    if settings.json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter(TEXT_FORMAT, TEXT_DATE_FORMAT))
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    if settings.level:
        root.setLevel(settings.level)
    root.addHandler(handler)


class _RequestIdFilter(logging.Filter):
    """Stamps each record with the ids of the invocation the logging code serves (empty outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = current_invocation()
        if scope is None:
            record.aws_request_id = ""
            record.tenant_id = None
        else:
            record.aws_request_id = scope.request_id
            record.tenant_id = scope.tenant_id
        return True


class _SinkHandler(logging.Handler):
    def __init__(self, sink: StdoutSink | FramedSink, level_frames: bool) -> None:
        super().__init__()
        self.log_sink = sink
        self._level_frames = level_frames

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            frame_type = None
            if self._level_frames:
                frame_type = getattr(record, "_frame_type", None) or TEXT_FRAME_TYPES[_frame_level(record)]
            self.log_sink.log(message, frame_type)
        except Exception:  # noqa: BLE001 - logging.Handler's contract: report, never raise
            self.handleError(record)


class TextFormatter(logging.Formatter):
    """The stock runtime client's Text format, every record ending with a newline.

    ``logging.Formatter`` appends a record's traceback or stack after the format's own newline and
    ends it without one, which glued the traceback's last line to the next line of output on stdout
    (the stock client does the same). With the newline, every Text record is whole lines.
    """

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if text.endswith("\n") else text + "\n"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the fields and names the stock runtime client uses."""

    def __init__(self) -> None:
        super().__init__(datefmt=JSON_DATE_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.levelno = _frame_level(record)
        record.levelname = logging.getLevelName(record.levelno)
        record._frame_type = JSON_FRAME_TYPES.get(record.levelno, JSON_FRAME_TYPES[0])
        exc_info = record.exc_info
        message = record.msg if isinstance(record.msg, dict) and not record.args else record.getMessage()
        document: dict[str, Any] = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "message": message,
            "logger": record.name,
            "stackTrace": _format_tb(exc_info[2]) if exc_info else None,
            "errorType": exc_info[0].__name__ if exc_info and exc_info[0] else None,
            "errorMessage": str(exc_info[1]) if exc_info else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": f"{record.pathname}:{record.funcName}:{record.lineno}" if exc_info else None,
        }
        tenant_id = getattr(record, "tenant_id", None)
        if tenant_id is not None:
            document["tenantId"] = tenant_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED_RECORD_FIELDS and key not in document:
                document[key] = value
        return json_encode({key: value for key, value in document.items() if value is not None}) + "\n"


def _frame_level(record: logging.LogRecord) -> int:
    return min(50, max(0, record.levelno)) // 10 * 10


def _format_tb(tb: Any) -> list[str]:
    import traceback

    return traceback.format_tb(tb)
