"""Alarms on by default, each with its own threshold and off switch; metric helpers; the dashboard."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration

from .conftest import ALARMS_OFF, ALL_OPTIONS, DEFAULTS, STREAM_METRICS, TUNED_ALARMS, Scenarios, Variants
from .support import resources_of_type, template

TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"


def alarms_by_metric(template_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    alarms = resources_of_type(template_json, "AWS::CloudWatch::Alarm").values()
    return {alarm["Properties"]["MetricName"]: alarm["Properties"] for alarm in alarms}


def test_default_alarms_cover_stream_size_errors_throttles_5xx_and_duration(scenarios: Scenarios) -> None:
    alarms = alarms_by_metric(scenarios.templates[DEFAULTS])
    assert set(alarms) == {"StreamedOutboundBytes", "Errors", "Throttles", "Url5xxCount", "Duration"}
    assert (alarms["StreamedOutboundBytes"]["Statistic"], alarms["StreamedOutboundBytes"]["Threshold"]) == (
        "Maximum",
        180 * 2**20,  # MB as Lambda counts its limits (cdk_stream_fn.contract)
    )
    assert alarms["StreamedOutboundBytes"]["ComparisonOperator"] == "GreaterThanThreshold"
    for name in ("Errors", "Throttles", "Url5xxCount"):
        assert (alarms[name]["Statistic"], alarms[name]["Threshold"]) == ("Sum", 1)
        assert alarms[name]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # p99 above 90% of the 5-minute default timeout, for three 5-minute periods.
    duration = alarms["Duration"]
    assert (duration["ExtendedStatistic"], duration["Threshold"], duration["EvaluationPeriods"]) == (
        "p99",
        270_000,
        3,
    )


def test_every_alarm_states_missing_data_and_a_sentence(scenarios: Scenarios) -> None:
    for alarm in alarms_by_metric(scenarios.templates[DEFAULTS]).values():
        assert alarm["TreatMissingData"] == "notBreaching"
        description = alarm["AlarmDescription"]
        assert description[0].isupper() and description.endswith(".") and "Defaults/Stream" in description
        (dimension,) = alarm["Dimensions"]
        assert dimension["Name"] == "FunctionName" and dimension["Value"]["Ref"].startswith("StreamFunction")


def test_thresholds_carry_their_units(scenarios: Scenarios) -> None:
    alarms = alarms_by_metric(scenarios.templates[ALL_OPTIONS])
    assert alarms["StreamedOutboundBytes"]["Threshold"] == 150 * 2**20  # 150 MB of 2^20 bytes
    assert alarms["Errors"]["Threshold"] == 3
    assert alarms["Throttles"]["Threshold"] == 2
    assert alarms["Url5xxCount"]["Threshold"] == 4
    assert alarms["Duration"]["Threshold"] == 720_000  # 80% of 15 minutes, in milliseconds


def test_each_alarm_switches_off_on_its_own(variants: Variants) -> None:
    alarms = alarms_by_metric(variants.templates[TUNED_ALARMS])
    assert set(alarms) == {"Errors", "Duration"}
    assert alarms["Errors"]["Threshold"] == 5
    assert alarms["Duration"]["Threshold"] == 20_000  # 50% of 40 seconds
    assert len(variants.functions[TUNED_ALARMS].alarms) == 2


def test_alarms_off_creates_none(scenarios: Scenarios) -> None:
    template(scenarios.templates, ALARMS_OFF).resource_count_is("AWS::CloudWatch::Alarm", 0)
    assert scenarios.functions[ALARMS_OFF].alarms == ()


def test_alarm_topic_receives_alarm_and_ok_notifications(variants: Variants, scenarios: Scenarios) -> None:
    for alarms in (
        alarms_by_metric(variants.templates[TUNED_ALARMS]),
        alarms_by_metric(scenarios.templates[ALL_OPTIONS]),
    ):
        for alarm in alarms.values():
            assert alarm["AlarmActions"] == [TOPIC]
            assert alarm["OKActions"] == [TOPIC]
    for alarm in alarms_by_metric(scenarios.templates[DEFAULTS]).values():
        assert "AlarmActions" not in alarm and "OKActions" not in alarm


@pytest.mark.parametrize(
    ("helper", "metric_name", "statistic"),
    [
        ("metric_streamed_outbound_bytes", "StreamedOutboundBytes", "Maximum"),
        ("metric_streamed_outbound_throughput", "StreamedOutboundThroughput", "Average"),
        ("metric_url_requests", "UrlRequestCount", "Sum"),
        ("metric_url_4xx", "Url4xxCount", "Sum"),
        ("metric_url_5xx", "Url5xxCount", "Sum"),
        ("metric_url_latency", "UrlRequestLatency", "Average"),
        ("metric_errors", "Errors", "Sum"),
        ("metric_throttles", "Throttles", "Sum"),
        ("metric_duration", "Duration", "Average"),
        ("metric_invocations", "Invocations", "Sum"),
    ],
)
def test_metric_helpers(scenarios: Scenarios, helper: str, metric_name: str, statistic: str) -> None:
    stream = scenarios.functions[DEFAULTS]
    metric = getattr(stream, helper)()
    assert (metric.namespace, metric.metric_name, metric.statistic) == ("AWS/Lambda", metric_name, statistic)
    assert metric.period.to_seconds() == 300
    assert set(metric.dimensions) == {"FunctionName"}


def test_metric_helpers_take_metric_options(scenarios: Scenarios) -> None:
    metric = scenarios.functions[DEFAULTS].metric_url_latency(
        statistic="p90", period=Duration.minutes(1), label="URL p90"
    )
    assert (metric.statistic, metric.period.to_seconds(), metric.label) == ("p90", 60, "URL p90")


def test_dashboard_only_on_request_and_shows_streaming_metrics(scenarios: Scenarios) -> None:
    template(scenarios.templates, DEFAULTS).resource_count_is("AWS::CloudWatch::Dashboard", 0)
    (dashboard,) = resources_of_type(scenarios.templates[ALL_OPTIONS], "AWS::CloudWatch::Dashboard").values()
    body = str(dashboard["Properties"]["DashboardBody"])
    for metric_name in (
        "StreamedOutboundBytes",
        "StreamedOutboundThroughput",
        "UrlRequestCount",
        "Url5xxCount",
        "Duration",
    ):
        assert metric_name in body
    assert "alarmStatus" in body or "alarms" in body


def test_stream_metrics_switch_the_runtime_records_on(scenarios: Scenarios) -> None:
    def environment(scenario: str) -> dict[str, str]:
        (function,) = resources_of_type(scenarios.templates[scenario], "AWS::Lambda::Function").values()
        variables: dict[str, str] = function["Properties"]["Environment"]["Variables"]
        return variables

    assert environment(STREAM_METRICS)["STREAM_FN_METRICS"] == "emf"
    assert "STREAM_FN_METRICS" not in environment(DEFAULTS)


def test_with_stream_metrics_the_alarms_watch_the_runtimes_own_figures(scenarios: Scenarios) -> None:
    alarms = resources_of_type(scenarios.templates[STREAM_METRICS], "AWS::CloudWatch::Alarm").values()
    by_metric = {alarm["Properties"]["MetricName"]: alarm["Properties"] for alarm in alarms}
    assert set(by_metric) == {
        "StreamedBytes",
        "TimeToFirstByte",
        "ErrorsAfterFirstByte",
        "Errors",
        "Throttles",
        "Url5xxCount",
        "Duration",
    }
    for name in ("StreamedBytes", "TimeToFirstByte", "ErrorsAfterFirstByte"):
        assert by_metric[name]["Namespace"] == "CdkStreamFn"
        (dimension,) = by_metric[name]["Dimensions"]
        assert dimension["Name"] == "FunctionName" and dimension["Value"]["Ref"].startswith("StreamFunction")
        assert by_metric[name]["TreatMissingData"] == "notBreaching"
    assert (by_metric["StreamedBytes"]["Statistic"], by_metric["StreamedBytes"]["Threshold"]) == (
        "Maximum",
        180 * 2**20,
    )
    ttfb = by_metric["TimeToFirstByte"]
    assert (ttfb["ExtendedStatistic"], ttfb["Threshold"], ttfb["EvaluationPeriods"]) == ("p90", 2000, 3)
    assert ttfb["ComparisonOperator"] == "GreaterThanThreshold"
    late = by_metric["ErrorsAfterFirstByte"]
    assert (late["Statistic"], late["Threshold"], late["ComparisonOperator"]) == (
        "Sum",
        1,
        "GreaterThanOrEqualToThreshold",
    )


@pytest.mark.parametrize(
    ("helper", "metric_name", "statistic"),
    [
        ("metric_time_to_first_byte", "TimeToFirstByte", "p90"),
        ("metric_stream_duration", "StreamDuration", "p90"),
        ("metric_body_bytes", "BodyBytes", "Maximum"),
        ("metric_streamed_bytes", "StreamedBytes", "Maximum"),
        ("metric_errors_after_first_byte", "ErrorsAfterFirstByte", "Sum"),
    ],
)
def test_stream_metric_helpers(scenarios: Scenarios, helper: str, metric_name: str, statistic: str) -> None:
    metric = getattr(scenarios.functions[STREAM_METRICS], helper)()
    assert (metric.namespace, metric.metric_name, metric.statistic) == ("CdkStreamFn", metric_name, statistic)
    assert metric.period.to_seconds() == 300
    assert set(metric.dimensions) == {"FunctionName"}
    with pytest.raises(
        ValueError, match=rf"{helper}\(\) reads a metric the runtime writes only with stream_metrics=True"
    ):
        getattr(scenarios.functions[DEFAULTS], helper)()


def test_the_dashboard_shows_the_runtimes_figures_with_stream_metrics(scenarios: Scenarios) -> None:
    (dashboard,) = resources_of_type(
        scenarios.templates[STREAM_METRICS], "AWS::CloudWatch::Dashboard"
    ).values()
    body = str(dashboard["Properties"]["DashboardBody"])
    for metric_name in (
        "TimeToFirstByte",
        "StreamDuration",
        "BodyBytes",
        "StreamedBytes",
        "ErrorsAfterFirstByte",
    ):
        assert metric_name in body
    assert "CdkStreamFn" in body
