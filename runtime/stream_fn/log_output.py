"""Where the function's log goes and in which shape: the sinks, the Text and JSON formats, the frames.

Shared by the log set-up (:mod:`stream_fn.logs`), the ``logging`` side (:mod:`stream_fn.log_records`)
and error reports (:mod:`stream_fn.error_reports`), following ``awslambdaric.bootstrap`` and
``awslambdaric.lambda_runtime_log_utils``: on Lambda, ``_LAMBDA_TELEMETRY_LOG_FD`` names a file
descriptor that takes framed records (so a multi-line record stays one log event); without it,
records go to stdout as text lines.
"""

from __future__ import annotations

import io
import json
import sys
import time

TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
TEXT_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
JSON_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

JSON_FRAME_TYPES = {
    level: code.to_bytes(4, "big")
    for level, code in zip(
        range(0, 60, 10), (0xA55A0002, 0xA55A000A, 0xA55A000E, 0xA55A0012, 0xA55A0016, 0xA55A001A)
    )
}
TEXT_FRAME_TYPES = {
    level: code.to_bytes(4, "big")
    for level, code in zip(
        range(0, 60, 10), (0xA55A0003, 0xA55A000B, 0xA55A000F, 0xA55A0013, 0xA55A0017, 0xA55A001B)
    )
}
json_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode


class LogSettings:
    """The log format and level chosen by the function's configuration."""

    __slots__ = ("json", "level")

    def __init__(self, json_format: bool, level: str) -> None:
        self.json = json_format
        self.level = level


class StdoutSink:
    """Log records go to stdout, as text lines (the platform splits them into events)."""

    def log(self, message: str, frame_type: bytes | None = None) -> None:
        sys.stdout.write(message)

    def log_error(self, lines: list[str], frame_type: bytes) -> None:
        sys.stdout.write("\r".join(lines) + "\n")


class FramedSink:
    """Log records go to Lambda's telemetry descriptor, one frame per record.

    A frame is: type (4 bytes), length (4 bytes), timestamp in microseconds (8 bytes), message,
    all big-endian; the type encodes the format and level.
    """

    def __init__(self, fd: int) -> None:
        self._file = io.FileIO(fd, "wb", closefd=False)

    def log(self, message: str, frame_type: bytes | None = None) -> None:
        data = message.encode("utf-8")
        header = (frame_type or TEXT_FRAME_TYPES[0]) + len(data).to_bytes(4, "big")
        self._file.write(header + (time.time_ns() // 1000).to_bytes(8, "big") + data)

    def log_error(self, lines: list[str], frame_type: bytes) -> None:
        self.log("\n".join(lines), frame_type)
