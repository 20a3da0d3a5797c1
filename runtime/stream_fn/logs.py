"""Logging set-up that matches the stock Python runtime client's output, line for line.

Follows ``awslambdaric.bootstrap`` and ``awslambdaric.lambda_runtime_log_utils``:

* ``sys.stdout`` and ``sys.stderr`` become unbuffered, so ``print`` output reaches the log at once.
* The root logger gets one handler whose records carry the request id. ``AWS_LAMBDA_LOG_FORMAT``
  chooses the format: ``Text`` (``[LEVEL]\\t<time>Z\\t<request id>\\t<message>``) or ``JSON`` (one
  object per record: timestamp, level, message, logger, requestId, and the exception fields).
  ``AWS_LAMBDA_LOG_LEVEL`` sets the root level (``TRACE`` means ``DEBUG``).
* On Lambda, ``_LAMBDA_TELEMETRY_LOG_FD`` names a file descriptor that takes framed records, so a
  multi-line record stays one log event; without it, records go to stdout.
* An unhandled error is logged as the stock client logs it (:mod:`stream_fn.error_reports`, loaded
  with the first error): the sinks here take its lines and keep them one event.

The handler is installed once. The request id each record carries comes from the invocation the
logging code serves (:mod:`stream_fn.invocation_scope`); the formats and sinks are in
:mod:`stream_fn.log_output`.
"""

from __future__ import annotations

import io
import os
import sys

from stream_fn.log_output import FramedSink, LogSettings, StdoutSink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

LOG_FORMAT_VARIABLE = "AWS_LAMBDA_LOG_FORMAT"
LOG_LEVEL_VARIABLE = "AWS_LAMBDA_LOG_LEVEL"
TELEMETRY_FD_VARIABLE = "_LAMBDA_TELEMETRY_LOG_FD"
LOG_LEVELS = {
    "TRACE": "DEBUG",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARN",
    "WARNING": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "FATAL",
    "CRITICAL": "CRITICAL",
}


def read_log_settings(environ: Any = os.environ) -> LogSettings:
    """Read ``AWS_LAMBDA_LOG_FORMAT`` and ``AWS_LAMBDA_LOG_LEVEL``; a value Lambda never sets is an error."""
    log_format = environ.get(LOG_FORMAT_VARIABLE, "Text") or "Text"
    if log_format.upper() not in ("TEXT", "JSON"):
        raise ValueError(f"{LOG_FORMAT_VARIABLE} must be Text or JSON, got {log_format!r}")
    level = environ.get(LOG_LEVEL_VARIABLE, "") or ""
    if level and level.upper() not in LOG_LEVELS:
        raise ValueError(
            f"{LOG_LEVEL_VARIABLE} must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL, got {level!r}"
        )
    return LogSettings(log_format.upper() == "JSON", LOG_LEVELS.get(level.upper(), ""))


_sink: StdoutSink | FramedSink = StdoutSink()


class LambdaLog:
    """The installed log set-up: where records and error reports go (``sink``), and in which format."""

    def __init__(self, settings: LogSettings, sink: StdoutSink | FramedSink) -> None:
        self.settings = settings
        self.sink = sink


def install(settings: LogSettings, environ: Any = os.environ) -> LambdaLog:
    """Make stdout/stderr unbuffered, pick the sink, and route the ``logging`` module's records to it.

    ``logging`` (with ``traceback``, ``string``, ``weakref``...) is a sizeable share of a cold start,
    and a handler may never use it, so the root logger is configured right after the first
    ``import logging``, whoever makes it, rather than by importing it here.
    """
    global _sink
    sys.stdout = _unbuffered(sys.stdout, 1)
    sys.stderr = _unbuffered(sys.stderr, 2)
    telemetry_fd = environ.pop(TELEMETRY_FD_VARIABLE, None)
    sink: StdoutSink | FramedSink = FramedSink(int(telemetry_fd)) if telemetry_fd else StdoutSink()
    _sink = sink

    def configure() -> None:
        from stream_fn import log_records

        log_records.configure_root_logger(settings, sink)

    if "logging" in sys.modules:
        configure()
    else:
        sys.meta_path.insert(0, _AfterFirstImport("logging", configure))
    return LambdaLog(settings, sink)


class _AfterFirstImport:
    """A ``sys.meta_path`` finder (PEP 451) that runs ``then`` once module ``name`` has been imported.

    It finds the module's spec through the other finders and wraps its loader, then removes itself.
    """

    def __init__(self, name: str, then: Callable[[], None]) -> None:
        self._name = name
        self._then = then

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != self._name:
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(name, path, target) if find_spec is not None else None
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _LoaderThen(spec.loader, self._then)
                return spec
        return None


class _LoaderThen:
    """Delegates to a module's loader and runs ``then`` after the module has been executed (once)."""

    def __init__(self, loader: Any, then: Callable[[], None]) -> None:
        self._loader = loader
        self._then: Callable[[], None] | None = then

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        then, self._then = self._then, None
        if then is not None:
            then()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


def log_raw(message: str) -> None:
    """Write ``message`` as it is to the function's log (``context.log``)."""
    _sink.log(message)


def _unbuffered(stream: Any, fd: int) -> Any:
    """Return a text stream on ``fd`` that writes through at once, like ``python -u``."""
    if stream is None:
        return stream
    encoding = getattr(stream, "encoding", None) or "utf-8"
    errors = getattr(stream, "errors", None) or "strict"
    raw = io.FileIO(fd, "wb", closefd=False)
    return io.TextIOWrapper(raw, encoding=encoding, errors=errors, write_through=True)
