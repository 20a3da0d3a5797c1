"""The runtime's per-invocation stream figures, written as CloudWatch embedded metric format records.

The records are checked against the EMF specification's rules (Amazon CloudWatch User Guide,
"Specification: Embedded metric format") and against what the handler actually did.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from stream_fn import stream_metrics
from stream_fn.stream_metrics import StreamMeter, StreamMetrics, metrics_from_environment

from .conftest import RuntimeProcess, StartRuntime
from .fake_runtime_api import FakeRuntimeApi

pytestmark = pytest.mark.timeout(60)

#: The units the specification's JSON schema allows.
EMF_UNITS = re.compile(
    r"^(Seconds|Microseconds|Milliseconds|Bytes|Kilobytes|Megabytes|Gigabytes|Terabytes|Bits|Kilobits|"
    r"Megabits|Gigabits|Terabits|Percent|Count|Bytes/Second|Kilobytes/Second|Megabytes/Second|"
    r"Gigabytes/Second|Terabytes/Second|Bits/Second|Kilobits/Second|Megabits/Second|Gigabits/Second|"
    r"Terabits/Second|Count/Second|None)$"
)


def check_emf(line: str) -> dict[str, Any]:
    """Parse one EMF record and check it against the specification's MUSTs; return it."""
    assert "\n" not in line
    document: dict[str, Any] = json.loads(line)
    metadata = document["_aws"]
    assert isinstance(metadata["Timestamp"], int) and metadata["Timestamp"] > 1_500_000_000_000
    directives = metadata["CloudWatchMetrics"]
    assert directives
    for directive in directives:
        assert set(directive) == {"Namespace", "Dimensions", "Metrics"}
        assert 1 <= len(directive["Namespace"]) <= 255 and not directive["Namespace"].startswith("AWS/")
        for dimension_set in directive["Dimensions"]:
            assert len(dimension_set) <= 9
            for key in dimension_set:
                assert isinstance(document[key], str), f"dimension target {key} must be a string member"
        assert 1 <= len(directive["Metrics"]) <= 100
        for metric in directive["Metrics"]:
            assert set(metric) <= {"Name", "Unit"}
            assert EMF_UNITS.match(metric["Unit"])
            value = document[metric["Name"]]
            assert isinstance(value, (int, float)) and not isinstance(value, bool)
    return document


def test_a_record_holds_every_figure_with_its_unit() -> None:
    meter = StreamMeter(arrival_ns=1_000_000_000)
    meter.first_byte_ns = 1_012_500_000
    meter.body_bytes = 5000
    meter.end(streamed_bytes=1234, coding="gzip", error=False)
    meter.ended_ns = 3_012_500_000
    line = StreamMetrics("chat").record(meter, "req-1", timestamp_ms=1_765_000_000_000)

    document = check_emf(line)
    assert document["_aws"]["Timestamp"] == 1_765_000_000_000
    assert document["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": "CdkStreamFn",
            "Dimensions": [["FunctionName"]],
            "Metrics": [
                {"Name": "TimeToFirstByte", "Unit": "Milliseconds"},
                {"Name": "StreamDuration", "Unit": "Milliseconds"},
                {"Name": "BodyBytes", "Unit": "Bytes"},
                {"Name": "StreamedBytes", "Unit": "Bytes"},
                {"Name": "ErrorsAfterFirstByte", "Unit": "Count"},
            ],
        }
    ]
    assert {k: v for k, v in document.items() if k != "_aws"} == {
        "FunctionName": "chat",
        "requestId": "req-1",
        "TimeToFirstByte": 12.5,
        "StreamDuration": 2000.0,
        "BodyBytes": 5000,
        "StreamedBytes": 1234,
        "ErrorsAfterFirstByte": 0,
        "contentEncoding": "gzip",
    }


def test_without_a_body_byte_the_timings_are_left_out_of_record_and_directive() -> None:
    meter = StreamMeter(arrival_ns=1)
    meter.end(streamed_bytes=30, coding=None, error=False)
    document = check_emf(StreamMetrics("fn").record(meter, "req-2"))
    names = [metric["Name"] for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert names == ["BodyBytes", "StreamedBytes", "ErrorsAfterFirstByte"]
    assert "TimeToFirstByte" not in document and "contentEncoding" not in document


@pytest.mark.parametrize(("value", "enabled"), [("", False), ("emf", True), ("EMF", True)])
def test_the_environment_switches_the_records_on(value: str, enabled: bool) -> None:
    metrics = metrics_from_environment({"STREAM_FN_METRICS": value, "AWS_LAMBDA_FUNCTION_NAME": "fn"})
    assert (metrics is not None) is enabled
    assert metrics is None or metrics.function_name == "fn"


def test_an_unknown_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match=r"STREAM_FN_METRICS must be 'emf' .* got 'yes'"):
        metrics_from_environment({"STREAM_FN_METRICS": "yes"})


def records(process: RuntimeProcess, fake_api: FakeRuntimeApi, invocations: int) -> list[dict[str, Any]]:
    """The records the runtime wrote for its first ``invocations`` (each is written before the next ``/next``)."""
    fake_api.wait_for_next_calls(invocations + 1)
    stdout, _ = process.stop()
    return [check_emf(line) for line in stdout.splitlines() if line.startswith('{"_aws"')]


HTTP = ["http", {"statusCode": 200, "headers": {"content-type": "text/plain"}}]


def test_the_runtime_writes_one_record_per_streamed_invocation(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    process = start_runtime("steps.streamed", STREAM_FN_METRICS="emf", AWS_LAMBDA_FUNCTION_NAME="metered")
    ok = fake_api.invoke({"steps": [HTTP, ["sleep", 0.05], ["write", "hello "], ["write", "world"]]})
    late = fake_api.invoke({"steps": [HTTP, ["write", "partial"], ["raise", "ValueError", "late"]]})
    early = fake_api.invoke({"steps": [["raise", "ValueError", "before any byte"]]})
    empty = fake_api.invoke({"steps": [HTTP]})
    found = records(process, fake_api, 4)

    assert [record["requestId"] for record in found] == [
        ok.target.split("/")[-2],
        late.target.split("/")[-2],
        early.target.split("/")[-2],
        empty.target.split("/")[-2],
    ]
    first, second, third, fourth = found
    prelude_bytes = len(ok.chunks[0]) + 8
    assert first["FunctionName"] == "metered"
    assert first["BodyBytes"] == 11 and first["StreamedBytes"] == prelude_bytes + 11
    assert first["TimeToFirstByte"] >= 50  # the handler slept 50 ms before its first byte
    assert first["StreamDuration"] >= 0 and first["ErrorsAfterFirstByte"] == 0
    assert second["ErrorsAfterFirstByte"] == 1 and second["BodyBytes"] == 7
    assert third["ErrorsAfterFirstByte"] == 0 and third["BodyBytes"] == 0 and "TimeToFirstByte" not in third
    assert fourth["StreamedBytes"] == len(empty.chunks[0]) + 8 and fourth["BodyBytes"] == 0


def test_compressed_invocations_count_the_body_before_and_after_compression(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    process = start_runtime("steps.lines_compressed", STREAM_FN_METRICS="emf")
    event = {
        "version": "2.0",
        "rawPath": "/",
        "headers": {"accept-encoding": "gzip"},
        "requestContext": {"http": {"method": "GET"}},
        "lines": 200,
    }
    request = fake_api.invoke(event)
    (record,) = records(process, fake_api, 1)

    body = b"".join(f'{{"line": {index}}}\n'.encode() for index in range(200))
    assert record["BodyBytes"] == len(body)
    assert record["StreamedBytes"] == len(request.body)
    assert record["StreamedBytes"] < record["BodyBytes"]
    assert record["contentEncoding"] == "gzip"


def test_no_records_unless_switched_on_and_none_for_buffered_handlers(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    plain = start_runtime("steps.streamed")
    fake_api.invoke({"steps": [["write", "x"]]})
    assert records(plain, fake_api, 1) == []

    fake_api.forget_requests()
    buffered = start_runtime("steps.buffered", STREAM_FN_METRICS="emf")
    fake_api.invoke({"return": 1})
    assert records(buffered, fake_api, 1) == []


def test_an_unknown_setting_is_an_init_error(fake_api: FakeRuntimeApi, start_runtime: StartRuntime) -> None:
    start_runtime("steps.streamed", STREAM_FN_METRICS="cloudwatch")
    error = fake_api.wait_for(lambda request: request.target.endswith("/init/error"))
    assert error.header("lambda-runtime-function-error-type") == "Runtime.InvalidEnvironment"
    assert "STREAM_FN_METRICS must be 'emf'" in json.loads(error.body)["errorMessage"]


def test_the_namespace_and_names_are_the_constructs() -> None:
    from cdk_stream_fn import contract

    assert stream_metrics.METRICS_VARIABLE == contract.STREAM_METRICS_VARIABLE
    assert stream_metrics.EMF == contract.STREAM_METRICS_EMF
    assert stream_metrics.NAMESPACE == contract.STREAM_METRICS_NAMESPACE
    assert stream_metrics.DIMENSION == contract.STREAM_METRICS_DIMENSION
    assert list(stream_metrics.UNITS) == list(contract.STREAM_METRIC_NAMES)
