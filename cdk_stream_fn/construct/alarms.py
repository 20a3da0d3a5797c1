"""The alarms every streaming endpoint wants, written the way cdk-monitoring-constructs writes them.

Each alarm has its own threshold (with its unit in the keyword) and is switched off by passing None.
Missing data means "no traffic", never "broken", so every alarm treats it as not breaching.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from ..contract import MB
from . import metrics

if TYPE_CHECKING:
    from aws_cdk import aws_sns as sns


@dataclass(frozen=True)
class AlarmThresholds:
    """Thresholds of the default alarms; None switches an alarm off."""

    streamed_bytes_mb: float | None
    errors_count: int | None
    throttles_count: int | None
    url_5xx_count: int | None
    duration_percent_of_timeout: float | None
    time_to_first_byte_ms: float | None = None
    errors_after_first_byte_count: int | None = None


def create_alarms(
    scope: Construct,
    function: lambda_.IFunction,
    *,
    thresholds: AlarmThresholds,
    timeout: Duration,
    alarm_topic: sns.ITopic | None,
    stream_metrics: bool = False,
) -> tuple[cloudwatch.Alarm, ...]:
    """Create the alarms whose threshold is set, wired to `alarm_topic` for both ALARM and OK.

    With `stream_metrics` the streamed-bytes alarm watches the runtime's own `StreamedBytes` (which
    arrives for certain) instead of `AWS/Lambda` `StreamedOutboundBytes` (whose name no AWS page
    confirms), and the alarms on the runtime's time to first byte and errors after the first byte
    are added; without it they are not, since their metrics would never arrive.
    """
    name = scope.node.path
    alarms: list[cloudwatch.Alarm] = []

    def alarm(
        construct_id: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        *,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        periods: int = 1,
    ) -> None:
        alarms.append(
            cloudwatch.Alarm(
                scope,
                construct_id,
                metric=metric,
                threshold=threshold,
                comparison_operator=comparison,
                evaluation_periods=periods,
                datapoints_to_alarm=periods,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
        )

    if (megabytes := thresholds.streamed_bytes_mb) is not None:
        alarm(
            "StreamedBytesAlarm",
            metrics.streamed_bytes(function) if stream_metrics else metrics.streamed_outbound_bytes(function),
            megabytes * MB,
            f"An invocation of {name} streamed more than {megabytes:g} MB. Lambda ends a streamed response "
            "at 200 MB, so larger responses are about to be cut off.",
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
    if (count := thresholds.errors_count) is not None:
        alarm(
            "ErrorsAlarm",
            function.metric_errors(period=metrics.DEFAULT_PERIOD, statistic="Sum"),
            count,
            f"Invocations of {name} failed {count} or more times within 5 minutes.",
        )
    if (count := thresholds.throttles_count) is not None:
        alarm(
            "ThrottlesAlarm",
            function.metric_throttles(period=metrics.DEFAULT_PERIOD, statistic="Sum"),
            count,
            f"Lambda throttled {count} or more invocations of {name} within 5 minutes. Raise the "
            "account's concurrency quota or the function's reserved concurrency.",
        )
    if (count := thresholds.url_5xx_count) is not None:
        alarm(
            "Url5xxAlarm",
            metrics.url_5xx(function),
            count,
            f"The function URL of {name} answered {count} or more requests with a 5xx status within 5 minutes.",
        )
    if (percent := thresholds.duration_percent_of_timeout) is not None:
        alarm(
            "DurationAlarm",
            function.metric_duration(period=metrics.DEFAULT_PERIOD, statistic="p99"),
            timeout.to_milliseconds() * percent / 100,
            f"The p99 duration of {name} stayed above {percent:g}% of its {timeout.to_human_string()} "
            "timeout for 15 minutes. Streams that run longer than the timeout are cut off.",
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            periods=3,
        )
    if stream_metrics and (milliseconds := thresholds.time_to_first_byte_ms) is not None:
        alarm(
            "TimeToFirstByteAlarm",
            metrics.time_to_first_byte(function),
            milliseconds,
            f"The p90 time to first byte of {name} stayed above {milliseconds:g} ms for 15 minutes: "
            "clients wait that long before anything arrives.",
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            periods=3,
        )
    if stream_metrics and (count := thresholds.errors_after_first_byte_count) is not None:
        alarm(
            "ErrorsAfterFirstByteAlarm",
            metrics.errors_after_first_byte(function),
            count,
            f"Invocations of {name} failed {count} or more times within 5 minutes after their response "
            "had started: those clients got a truncated response.",
        )

    if alarm_topic is not None:
        from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions

        action = cloudwatch_actions.SnsAction(alarm_topic)
        for each in alarms:
            each.add_alarm_action(action)
            each.add_ok_action(action)
    return tuple(alarms)
