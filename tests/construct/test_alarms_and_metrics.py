"""Alarms on by default, each with its own threshold and off switch; metric helpers; the dashboard."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration

from .conftest import ALARMS_OFF, ALL_OPTIONS, DEFAULTS, TUNED_ALARMS, Scenarios, Variants
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
