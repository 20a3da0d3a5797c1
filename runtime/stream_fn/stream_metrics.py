"""Figures of each streamed invocation, measured by the runtime and written as one CloudWatch EMF record.

Lambda publishes no time to first byte, and no AWS page within reach names the ``StreamedOutboundBytes``
metric that monitoring vendors describe, so the runtime measures what a streaming function's users
care about itself, per invocation:

* ``TimeToFirstByte`` (ms): from the invocation's arrival at the runtime to its first body byte
  leaving for the Runtime API (the HTTP prelude alone is not a body byte);
* ``StreamDuration`` (ms): from that first body byte to the end of the response;
* ``BodyBytes``: the body as the handler wrote it;
* ``StreamedBytes``: every byte of the response stream sent to Lambda (the HTTP prelude and its
  delimiter, then the body as sent: compressed, when it was);
* ``ErrorsAfterFirstByte`` (0 or 1): the handler failed, or the connection to the Runtime API broke,
  after the response had started, so the client got a truncated response (Lambda's ``Errors``
  counts these too, together with the failures before any byte).

The first two are left out of a record when no body byte was sent. Records are written only when
the function's environment sets ``STREAM_FN_METRICS=emf`` (the construct's ``stream_metrics=True``);
otherwise this module is not even imported and the response stream's hot path is unchanged. With it,
an invocation costs about 2 µs of metering and 5 µs to format and write its record (measured in
process); the per-invocation benchmark on python3.14 (``STREAM_FN_METRICS=emf ./dev bench --only
invocation_overhead``, two runs each way) showed about 10 µs more runtime CPU (36.9 against 47 µs) and
3.5 µs more wall time per invocation (about 3%, within the spread of the runs), the write to stdout
being the largest part: it cannot be put off, or a frozen environment would hold the record back.

The record follows CloudWatch's embedded metric format (Amazon CloudWatch User Guide, "Specification:
Embedded metric format"): one JSON object on one line whose ``_aws`` member holds ``Timestamp``
(milliseconds since the epoch) and ``CloudWatchMetrics``, a list of directives each with
``Namespace``, ``Dimensions`` (lists of root-member names whose string values become dimensions) and
``Metrics`` (``Name`` of a numeric root member, ``Unit``); at most 100 metrics per directive. "On
Lambda, you do not need to set this header yourself. Writing JSON to standard out in the embedded
metric format is sufficient." So the record goes to stdout, whatever the log format. The dimension is
``FunctionName``, as in ``AWS/Lambda``; the request id travels as a plain member (a dimension per
request would create a metric per request, which the specification warns against).
"""

from __future__ import annotations

import json
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

METRICS_VARIABLE = "STREAM_FN_METRICS"
"""The environment variable that switches the records on; the construct sets it to :data:`EMF`."""
EMF = "emf"
NAMESPACE = "CdkStreamFn"
"""The CloudWatch namespace of the records' metrics (custom metrics: they are billed as such)."""
DIMENSION = "FunctionName"

TIME_TO_FIRST_BYTE = "TimeToFirstByte"
STREAM_DURATION = "StreamDuration"
BODY_BYTES = "BodyBytes"
STREAMED_BYTES = "StreamedBytes"
ERRORS_AFTER_FIRST_BYTE = "ErrorsAfterFirstByte"
UNITS = {
    TIME_TO_FIRST_BYTE: "Milliseconds",
    STREAM_DURATION: "Milliseconds",
    BODY_BYTES: "Bytes",
    STREAMED_BYTES: "Bytes",
    ERRORS_AFTER_FIRST_BYTE: "Count",
}
_TIMED = (TIME_TO_FIRST_BYTE, STREAM_DURATION)


class StreamMeter:
    """What one streamed invocation measured; the response stream fills it in as it goes.

    Times are ``time.perf_counter_ns()`` values; 0 means "did not happen".
    """

    __slots__ = ("arrival_ns", "body_bytes", "coding", "ended_ns", "error", "first_byte_ns", "streamed_bytes")

    def __init__(self, arrival_ns: int) -> None:
        self.arrival_ns = arrival_ns
        self.first_byte_ns = 0
        self.ended_ns = 0
        self.body_bytes = 0
        self.streamed_bytes = 0
        self.coding: str | None = None
        self.error = False

    def counting(self, send_chunk: Callable[[Any, int], None]) -> Callable[[Any, int], None]:
        """``send_chunk`` that also counts each write's bytes and stamps the first one."""

        def send_counted(data: Any, size: int) -> None:
            if not self.first_byte_ns:
                self.first_byte_ns = time.perf_counter_ns()
            self.body_bytes += size
            send_chunk(data, size)

        return send_counted

    def count_body(self, size: int) -> None:
        """Count body bytes sent with the response's first request part (the hot path is counted above)."""
        if size:
            if not self.first_byte_ns:
                self.first_byte_ns = time.perf_counter_ns()
            self.body_bytes += size

    def end(self, streamed_bytes: int, coding: str | None, error: bool) -> None:
        """The response is over: what it sent to Lambda in all, its coding, whether it failed."""
        if self.ended_ns:  # the last chunk was sent, then the connection broke: still a failure
            self.error = self.error or error
            return
        self.ended_ns = time.perf_counter_ns()
        self.streamed_bytes = streamed_bytes
        self.coding = coding
        self.error = error


class StreamMetrics:
    """Writes one EMF record per streamed invocation of the function ``function_name``.

    The parts of a record that never change (the directives, the function's name) are encoded once;
    per invocation only numbers and the request id are formatted, so a record costs a few microseconds.
    """

    def __init__(self, function_name: str, write: Callable[[str], Any] | None = None) -> None:
        self.function_name = function_name
        self._write = write
        directive = {"Namespace": NAMESPACE, "Dimensions": [[DIMENSION]]}
        self._heads = {}
        for timed in (True, False):
            metrics = [
                {"Name": name, "Unit": unit} for name, unit in UNITS.items() if timed or name not in _TIMED
            ]
            directives = json.dumps([{**directive, "Metrics": metrics}], separators=(",", ":"))
            self._heads[timed] = (
                '{"_aws":{"Timestamp":',
                f',"CloudWatchMetrics":{directives}}},"{DIMENSION}":{json.dumps(function_name)},"requestId":',
            )

    def meter(self, arrival_ns: int) -> StreamMeter:
        return StreamMeter(arrival_ns)

    def record(self, meter: StreamMeter, request_id: str, timestamp_ms: int | None = None) -> str:
        """The EMF record of ``meter``'s invocation: one line of JSON, without its newline."""
        timestamp = time.time_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms
        timed = bool(meter.first_byte_ns)
        start, middle = self._heads[timed]
        parts = [start, str(timestamp), middle, _json_string(request_id)]
        if timed:
            ended = meter.ended_ns or time.perf_counter_ns()
            first_byte = round((meter.first_byte_ns - meter.arrival_ns) / 1e6, 3)
            duration = round((ended - meter.first_byte_ns) / 1e6, 3)
            parts.append(f',"{TIME_TO_FIRST_BYTE}":{first_byte!r},"{STREAM_DURATION}":{duration!r}')
        parts.append(
            f',"{BODY_BYTES}":{meter.body_bytes:d},"{STREAMED_BYTES}":{meter.streamed_bytes:d},'
            f'"{ERRORS_AFTER_FIRST_BYTE}":{1 if meter.error else 0}'
        )
        if meter.coding is not None:
            parts.append(f',"contentEncoding":{_json_string(meter.coding)}')
        parts.append("}")
        return "".join(parts)

    def emit(self, meter: StreamMeter, request_id: str) -> None:
        """Write the record to stdout (where Lambda's log agent picks EMF up), in one write."""
        line = self.record(meter, request_id) + "\n"
        (self._write or sys.stdout.write)(line)


_json_string = json.encoder.encode_basestring_ascii
"""A str as a JSON string (the C encoder ``json.dumps`` uses for it), quotes included."""


def metrics_from_environment(environ: Mapping[str, str]) -> StreamMetrics | None:
    """The records the function's configuration asks for: None unless ``STREAM_FN_METRICS=emf``.

    Raises ValueError, naming the variable, for a value the construct never sets.
    """
    value = environ.get(METRICS_VARIABLE, "")
    if not value:
        return None
    if value.lower() != EMF:
        raise ValueError(
            f"{METRICS_VARIABLE} must be {EMF!r} (write stream metrics as CloudWatch EMF records) or unset, "
            f"got {value!r}"
        )
    return StreamMetrics(environ.get("AWS_LAMBDA_FUNCTION_NAME", ""))
