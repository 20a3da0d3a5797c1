"""An optional CloudWatch dashboard: traffic, failures, stream sizes and speeds, durations, alarms."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from . import metrics

_WIDTH = 8
_HEIGHT = 6


def streaming_dashboard(
    scope: Construct,
    construct_id: str,
    function: lambda_.IFunction,
    alarms: Sequence[cloudwatch.Alarm],
    stream_metrics: bool = False,
) -> cloudwatch.Dashboard:
    """Lambda's metrics of the function and its URL; with `stream_metrics`, a row of the runtime's own."""
    period = metrics.DEFAULT_PERIOD

    def graph(title: str, left: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(title=title, left=left, width=_WIDTH, height=_HEIGHT)

    rows: list[list[cloudwatch.IWidget]] = [
        [
            graph(
                "Function URL requests",
                [
                    metrics.url_requests(function, label="Requests"),
                    metrics.url_4xx(function, label="4xx"),
                    metrics.url_5xx(function, label="5xx"),
                ],
            ),
            graph(
                "Invocations, errors, throttles",
                [
                    function.metric_invocations(period=period, statistic="Sum", label="Invocations"),
                    function.metric_errors(period=period, statistic="Sum", label="Errors"),
                    function.metric_throttles(period=period, statistic="Sum", label="Throttles"),
                ],
            ),
            graph(
                "Duration (ms)",
                [
                    function.metric_duration(period=period, statistic="p50", label="p50"),
                    function.metric_duration(period=period, statistic="p99", label="p99"),
                    metrics.url_latency(function, label="URL latency (average)"),
                ],
            ),
        ],
        [
            graph(
                "Streamed bytes per invocation",
                [
                    metrics.streamed_outbound_bytes(function, label="Maximum"),
                    metrics.streamed_outbound_bytes(function, statistic="Average", label="Average"),
                ],
            ),
            graph(
                "Streamed throughput (bytes/s)",
                [metrics.streamed_outbound_throughput(function, label="Average")],
            ),
            graph(
                "Concurrent executions",
                [
                    function.metric(
                        "ConcurrentExecutions", period=period, statistic="Maximum", label="Maximum"
                    )
                ],
            ),
        ],
    ]
    if stream_metrics:
        rows.append(
            [
                graph(
                    "Time to first byte (ms, runtime)",
                    [
                        metrics.time_to_first_byte(function, statistic="p50", label="p50"),
                        metrics.time_to_first_byte(function, label="p90"),
                        metrics.time_to_first_byte(function, statistic="p99", label="p99"),
                    ],
                ),
                graph(
                    "Bytes per invocation (runtime)",
                    [
                        metrics.body_bytes(function, statistic="Average", label="Body (average)"),
                        metrics.streamed_bytes(function, statistic="Average", label="Streamed (average)"),
                        metrics.streamed_bytes(function, label="Streamed (maximum)"),
                    ],
                ),
                cloudwatch.GraphWidget(
                    title="Stream duration (ms), errors after the first byte",
                    left=[
                        metrics.stream_duration(function, statistic="p50", label="Duration p50"),
                        metrics.stream_duration(function, label="Duration p90"),
                    ],
                    right=[metrics.errors_after_first_byte(function, label="Errors after the first byte")],
                    width=_WIDTH,
                    height=_HEIGHT,
                ),
            ]
        )
    if alarms:
        rows.append([cloudwatch.AlarmStatusWidget(alarms=list(alarms), title="Alarms", width=3 * _WIDTH)])
    return cloudwatch.Dashboard(scope, construct_id, widgets=rows)
