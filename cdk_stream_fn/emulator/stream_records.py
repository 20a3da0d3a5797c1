"""The runtime's per-invocation stream records, read back from its output for `serve`'s log.

With `STREAM_FN_METRICS=emf` (the construct's `stream_metrics=True`) the runtime writes one CloudWatch
embedded metric format record per streamed invocation to stdout, where on Lambda CloudWatch Logs turns
it into metrics. Locally the same line arrives in the emulator's log sink; this module recognises it
and says the same figures in a line a developer reads: time to first byte, stream duration, body and
streamed bytes (with the coding and its ratio when compressed), and whether it failed after the first
byte. Nothing else is parsed: a line that is not such a record is left to the sink as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cdk_stream_fn.contract import MB, STREAM_METRICS_NAMESPACE

_RECORD_START = '{"_aws"'


@dataclass(frozen=True)
class StreamRecord:
    """One streamed invocation as the runtime measured it (times in ms, sizes in bytes)."""

    request_id: str
    body_bytes: int
    streamed_bytes: int
    error_after_first_byte: bool
    time_to_first_byte_ms: float | None = None
    stream_duration_ms: float | None = None
    content_encoding: str | None = None

    def describe(self) -> str:
        """The figures in one line, e.g. `stream 1f2e…: first byte 12 ms · 2.31 s · 50.0 MB body ...`."""
        parts = []
        if self.time_to_first_byte_ms is not None:
            parts.append(f"first byte {self.time_to_first_byte_ms:.0f} ms")
        if self.stream_duration_ms is not None:
            parts.append(f"streamed for {self.stream_duration_ms / 1000:.2f} s")
        sizes = f"{_size(self.body_bytes)} body"
        if self.content_encoding is not None:
            ratio = self.body_bytes / max(self.streamed_bytes, 1)
            sizes += f", {_size(self.streamed_bytes)} sent ({self.content_encoding}, {ratio:.1f}x)"
        parts.append(sizes)
        parts.append("error after the first byte (truncated)" if self.error_after_first_byte else "ok")
        return f"stream {self.request_id}: " + " · ".join(parts)


def parse(line: str) -> StreamRecord | None:
    """The stream record on `line`, or None when the line is anything else."""
    if not line.startswith(_RECORD_START):
        return None
    try:
        document = json.loads(line)
        directives = document["_aws"]["CloudWatchMetrics"]
        if not any(directive.get("Namespace") == STREAM_METRICS_NAMESPACE for directive in directives):
            return None
        return StreamRecord(
            request_id=str(document.get("requestId", "")),
            body_bytes=int(document["BodyBytes"]),
            streamed_bytes=int(document["StreamedBytes"]),
            error_after_first_byte=bool(document["ErrorsAfterFirstByte"]),
            time_to_first_byte_ms=_number(document.get("TimeToFirstByte")),
            stream_duration_ms=_number(document.get("StreamDuration")),
            content_encoding=document.get("contentEncoding"),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def describe_line(line: str) -> str | None:
    """`line` said for a reader if it is a stream record, else None."""
    record = parse(line)
    return None if record is None else record.describe()


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < MB:
        return f"{count / 1024:.1f} KB"
    return f"{count / MB:.1f} MB"
