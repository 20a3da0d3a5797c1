"""CloudWatch metrics of a streaming function that aws-cdk-lib has no helper for.

All live in the `AWS/Lambda` namespace with the `FunctionName` dimension (`IFunction.metric` adds
both). The function URL metrics under that dimension cover the URL of the unpublished version and
of every alias.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_

STREAMED_OUTBOUND_BYTES = "StreamedOutboundBytes"
"""Bytes streamed by one invocation."""
STREAMED_OUTBOUND_THROUGHPUT = "StreamedOutboundThroughput"
"""Bytes per second streamed by one invocation."""
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
