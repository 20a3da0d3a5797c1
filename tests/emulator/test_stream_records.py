"""The runtime's EMF stream records, recognised in a runtime's output and said in words."""

from __future__ import annotations

import pytest
from stream_fn.stream_metrics import StreamMeter, StreamMetrics

from cdk_stream_fn.emulator import stream_records
from cdk_stream_fn.emulator.sandboxes.sandbox import print_log_line


def runtime_record(**figures: object) -> str:
    """A record exactly as the runtime writes it."""
    meter = StreamMeter(arrival_ns=0)
    meter.first_byte_ns = int(figures.get("first_byte_ms", 0) * 1e6)  # type: ignore[operator]
    meter.body_bytes = int(figures.get("body", 0))  # type: ignore[call-overload]
    meter.end(int(figures.get("streamed", 0)), figures.get("coding"), bool(figures.get("error")))  # type: ignore[arg-type]
    meter.ended_ns = meter.first_byte_ns + int(figures.get("duration_ms", 0) * 1e6)  # type: ignore[operator]
    return StreamMetrics("fn").record(meter, "1f2e3d4c-0000-4000-8000-000000000000")


@pytest.mark.parametrize(
    ("figures", "said"),
    [
        (
            {
                "first_byte_ms": 12.4,
                "duration_ms": 2310,
                "body": 52_428_800,
                "streamed": 5_242_880,
                "coding": "gzip",
            },
            (
                "stream 1f2e3d4c-0000-4000-8000-000000000000: first byte 12 ms · streamed for 2.31 s · "
                "50.0 MB body, 5.0 MB sent (gzip, 10.0x) · ok"
            ),
        ),
        (
            {"first_byte_ms": 3, "duration_ms": 40, "body": 7, "streamed": 40, "error": True},
            (
                "stream 1f2e3d4c-0000-4000-8000-000000000000: first byte 3 ms · streamed for 0.04 s · 7 B body · "
                "error after the first byte (truncated)"
            ),
        ),
        ({"body": 0, "streamed": 30}, "stream 1f2e3d4c-0000-4000-8000-000000000000: 0 B body · ok"),
    ],
)
def test_a_record_is_said_in_one_line(figures: dict[str, object], said: str) -> None:
    assert stream_records.describe_line(runtime_record(**figures)) == said


@pytest.mark.parametrize(
    "line",
    [
        "[INFO]\t2026-12-06T10:00:00.000Z\treq\thello",
        '{"_aws": "not a record"}',
        '{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"MyApp","Dimensions":[[]],"Metrics":[]}]}}',
        '{"_aws":{"CloudWatchMetrics":[{"Namespace":"CdkStreamFn"}]}',
        "",
    ],
)
def test_other_lines_are_not_records(line: str) -> None:
    assert stream_records.parse(line) is None


def test_the_default_log_sink_prints_records_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    print_log_line("chat", runtime_record(body=1024, streamed=1100))
    print_log_line("chat", "plain\rtraceback")
    assert capsys.readouterr().err == (
        "[chat] stream 1f2e3d4c-0000-4000-8000-000000000000: 1.0 KB body · ok\n[chat] plain\n    traceback\n"
    )
