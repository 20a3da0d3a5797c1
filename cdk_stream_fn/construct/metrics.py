"""CloudWatch metrics of a streaming function that aws-cdk-lib has no helper for.

Lambda's own live in the `AWS/Lambda` namespace with the `FunctionName` dimension (`IFunction.metric`
adds both). The function URL metrics under that dimension cover the URL of the unpublished version and
of every alias.

`StreamedOutboundBytes` and `StreamedOutboundThroughput` are named by monitoring vendors (Datadog,
New Relic) but by no AWS page within reach: whether Lambda publishes them under these names is not
confirmed, and an alarm on a metric that never arrives stays quiet. The runtime's own figures
(`stream_metrics=True`: `TimeToFirstByte`, `StreamDuration`, `BodyBytes`, `StreamedBytes`,
`ErrorsAfterFirstByte` in the `CdkStreamFn` namespace, written as CloudWatch embedded metric format
records by `stream_fn.stream_metrics`) are measured by the function itself and arrive for certain.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_

from ..contract import STREAM_METRICS_DIMENSION, STREAM_METRICS_NAMESPACE

STREAMED_OUTBOUND_BYTES = "StreamedOutboundBytes"
"""Bytes streamed by one invocation, as monitoring vendors describe it (no AWS page confirms the name)."""
STREAMED_OUTBOUND_THROUGHPUT = "StreamedOutboundThroughput"
"""Bytes per second streamed by one invocation (the same caveat)."""

TIME_TO_FIRST_BYTE = "TimeToFirstByte"
"""The runtime's: ms from the invocation's arrival to its first body byte."""
STREAM_DURATION = "StreamDuration"
"""The runtime's: ms from the first body byte to the end of the response."""
BODY_BYTES = "BodyBytes"
"""The runtime's: the body as the handler wrote it (before compression)."""
STREAMED_BYTES = "StreamedBytes"
"""The runtime's: every byte of the response stream sent to Lambda (prelude, body as sent)."""
ERRORS_AFTER_FIRST_BYTE = "ErrorsAfterFirstByte"
"""The runtime's: 1 for an invocation that failed after its response had started (a truncated response)."""
URL_REQUEST_COUNT = "UrlRequestCount"
URL_4XX_COUNT = "Url4xxCount"
URL_5XX_COUNT = "Url5xxCount"
URL_REQUEST_LATENCY = "UrlRequestLatency"

DEFAULT_PERIOD = Duration.minutes(5)


def lambda_metric(
    function: lambda_.IFunction, metric_name: str, default_statistic: str, props: dict[str, Any]
) -> cloudwatch.Metric:
    """`metric_name` of `function`, over 5 minutes unless `props` (`cloudwatch.MetricOptions`) say otherwise."""
    options: dict[str, Any] = {"statistic": default_statistic, "period": DEFAULT_PERIOD, **props}
    return function.metric(metric_name, **options)


def streamed_outbound_bytes(function: lambda_.IFunction, **props: Any) -> cloudwatch.Metric:
    return lambda_metric(function, STREAMED_OUTBOUND_BYTES, "Maximum", props)


def streamed_outbound_throughput(function: lambda_.IFunction, **props: Any) -> cloudwatch.Metric:
    return lambda_metric(function, STREAMED_OUTBOUND_THROUGHPUT, "Average", props)


def url_requests(function: lambda_.IFunction, **props: Any) -> cloudwatch.Metric:
    return lambda_metric(function, URL_REQUEST_COUNT, "Sum", props)


def url_4xx(function: lambda_.IFunction, **props: Any) -> cloudwatch.Metric:
    return lambda_metric(function, URL_4XX_COUNT, "Sum", props)


def url_5xx(function: lambda_.IFunction, **props: Any) -> cloudwatch.Metric:
    return lambda_metric(function, URL_5XX_COUNT, "Sum", props)


def url_latency(function: lambda_.IFunction, **props: Any) -> cloudwatch.Metric:
    return lambda_metric(function, URL_REQUEST_LATENCY, "Average", props)


def stream_metric(
    function: lambda_.IFunction, metric_name: str, default_statistic: str, props: dict[str, Any]
) -> cloudwatch.Metric:
    """One of the runtime's per-invocation figures (`stream_metrics=True`), over 5 minutes by default."""
    options: dict[str, Any] = {"statistic": default_statistic, "period": DEFAULT_PERIOD, **props}
    return cloudwatch.Metric(
        namespace=STREAM_METRICS_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={STREAM_METRICS_DIMENSION: function.function_name},
        **options,
    )


def time_to_first_byte(function: lambda_.IFunction, **props: Any) -> cloudwatch.Metric:
    return stream_metric(function, TIME_TO_FIRST_BYTE, "p90", props)


def stream_duration(function: lambda_.IFunction, **props: Any) -> cloudwatch.Metric:
    return stream_metric(function, STREAM_DURATION, "p90", props)


def body_bytes(function: lambda_.IFunction, **props: Any) -> cloudwatch.Metric:
    return stream_metric(function, BODY_BYTES, "Maximum", props)


def streamed_bytes(function: lambda_.IFunction, **props: Any) -> cloudwatch.Metric:
    return stream_metric(function, STREAMED_BYTES, "Maximum", props)


def errors_after_first_byte(function: lambda_.IFunction, **props: Any) -> cloudwatch.Metric:
    return stream_metric(function, ERRORS_AFTER_FIRST_BYTE, "Sum", props)
