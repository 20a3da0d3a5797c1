"""`StreamingFunction`: a Python Lambda function whose function URL streams its responses.

The function runs on a managed Python runtime with `AWS_LAMBDA_EXEC_WRAPPER` pointing at the stream_fn
runtime (a layer), so a handler decorated with `stream_fn.streamify_response` streams and an
undecorated one answers as under the stock runtime client.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from ..contract import (
    EXEC_WRAPPER_PATH,
    METADATA_KEY,
    METADATA_VERSION,
    STREAM_METRICS_EMF,
    STREAM_METRICS_VARIABLE,
)
from ..dependencies import LambdaPlatform
from . import managed_instances, metrics
from . import validation as check
from .acknowledgements import acknowledge
from .alarms import AlarmThresholds, create_alarms
from .code_bundling import PythonDependencyBundler, function_code
from .options import ApiGatewayOptions, CloudFrontOptions
from .runtime_layer import runtime_layer
from .snap_start import check_snap_start, publish_alias, snap_start_conf

if TYPE_CHECKING:
    # Only for annotations: the CloudFront, API Gateway and dashboard modules (and their large
    # aws_cdk modules) load when their option is on, which keeps synthesis of a plain stack lean.
    from aws_cdk import aws_apigateway as apigateway
    from aws_cdk import aws_cloudfront
    from aws_cdk import aws_cloudwatch as cloudwatch
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_sns as sns

DEFAULT_MEMORY_MIB = 512
DEFAULT_MANAGED_INSTANCES_MEMORY_MIB = managed_instances.MIN_MEMORY_MIB
DEFAULT_TIMEOUT_MINUTES = 5


def _relative_to(path: Path, start: Path) -> str:
    """`path` relative to `start`, with forward slashes; absolute where no relative path leads there
    (another drive on Windows)."""
    try:
        return Path(os.path.relpath(path, start.resolve())).as_posix()
    except ValueError:
        return path.as_posix()


class BundlingError(RuntimeError):
    """The function's code asset could not be built (e.g. a dependency has no wheel for Lambda)."""


@functools.cache
def supported_python_runtimes() -> tuple[lambda_.Runtime, ...]:
    """Every managed Python runtime that stream_fn supports and this aws-cdk-lib knows, oldest first."""
    minors = sorted(
        int(match[1])
        for name in dir(lambda_.Runtime)
        if (match := re.fullmatch(r"PYTHON_3_(\d+)", name)) and int(match[1]) >= check.MIN_PYTHON_MINOR
    )
    return tuple(getattr(lambda_.Runtime, f"PYTHON_3_{minor}") for minor in minors)


class StreamingFunction(Construct):
    """A Python Lambda function that streams HTTP responses through a function URL.

    Creates a function on a managed Python runtime running the stream_fn runtime (a layer shared by
    every StreamingFunction in the stack), its code asset (dependencies installed with pip for
    Lambda's platform, without Docker), a function URL with ``InvokeMode.RESPONSE_STREAM``, a log
    group, alarms, and optionally a dashboard, a CloudFront distribution and a streaming REST API.

    Example::

        StreamingFunction(self, "Chat", entry="functions/chat", handler="index.handler")
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        entry: str | os.PathLike[str],
        handler: str = "index.handler",
        runtime: lambda_.Runtime | None = None,
        architecture: lambda_.Architecture | None = None,
        memory_size: int | None = None,
        timeout: cdk.Duration | None = None,
        environment: Mapping[str, str] | None = None,
        description: str | None = None,
        function_name: str | None = None,
        reserved_concurrent_executions: int | None = None,
        tracing: lambda_.Tracing | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        snap_start: bool = False,
        capacity_provider: lambda_.ICapacityProvider | None = None,
        capacity_provider_max_concurrency: int | None = None,
        capacity_provider_memory_gib_per_vcpu: float | None = None,
        auth_type: lambda_.FunctionUrlAuthType = lambda_.FunctionUrlAuthType.AWS_IAM,
        cors: lambda_.FunctionUrlCorsOptions | None = None,
        logging_format: lambda_.LoggingFormat = lambda_.LoggingFormat.JSON,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        log_removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        alarms: bool = True,
        streamed_bytes_alarm_threshold_mb: float | None = 180,
        errors_alarm_threshold_count: int | None = 1,
        throttles_alarm_threshold_count: int | None = 1,
        url_5xx_alarm_threshold_count: int | None = 1,
        duration_alarm_threshold_percent_of_timeout: float | None = 90,
        stream_metrics: bool = False,
        time_to_first_byte_alarm_threshold_ms: float | None = 2000,
        errors_after_first_byte_alarm_threshold_count: int | None = 1,
        alarm_topic: sns.ITopic | None = None,
        dashboard: bool = False,
        cloudfront: bool | CloudFrontOptions = False,
        api_gateway: bool | ApiGatewayOptions = False,
        url_output: bool = True,
    ) -> None:
        """
        :param entry: the directory with the function's code. A ``requirements.txt`` (or the
            ``[project] dependencies`` of a ``pyproject.toml``) in it is installed for Lambda's platform.
        :param handler: ``module.function`` (or ``package/module.function``) inside ``entry``.
            Default: ``index.handler``.
        :param runtime: a managed Python runtime, python3.12 or newer. Default: the newest Python
            runtime aws-cdk-lib knows (python3.14 with aws-cdk-lib 2.275).
        :param architecture: Default: ``Architecture.ARM_64``; with ``capacity_provider``, the architecture
            of the provider's instances (``x86_64`` for one imported by ARN).
        :param memory_size: MiB, 128 to 10240 (CPU grows with memory; at least 2048 with
            ``capacity_provider``). Default: 512; 2048 with ``capacity_provider``.
        :param timeout: the longest an invocation (and so a stream) may run, up to 15 minutes.
            Default: 5 minutes.
        :param environment: extra environment variables. Default: none.
        :param description: Default: none.
        :param function_name: Default: a name CloudFormation generates.
        :param reserved_concurrent_executions: Default: no reserved concurrency.
        :param tracing: X-Ray tracing mode. Default: ``Tracing.DISABLED``.
        :param vpc: a VPC to run the function in. Function URLs do not stream inside a VPC, so this
            leaves a warning. Default: no VPC.
        :param vpc_subnets: Default: the VPC's private subnets.
        :param security_groups: Default: a new security group.
        :param snap_start: turn Lambda SnapStart on: the function is initialized once per published
            version and later environments resume from its snapshot, running the
            ``snapshot_restore_py`` hooks (``@register_before_snapshot``, ``@register_after_restore``).
            A version is published and the alias ``live`` points at it; the function URL, CloudFront
            and API Gateway invoke the alias (a URL cannot target a version). Default: False.
        :param capacity_provider: run on Lambda Managed Instances: the function runs on this capacity
            provider's EC2 instances (in its VPC), and each execution environment serves several
            invocations at once, which the stream_fn runtime serves in one process. Needs python3.13 or
            newer, JSON logs and at least 2048 MiB; ``vpc``, ``vpc_subnets`` and ``security_groups`` are
            the provider's. Default: on-demand Lambda, one invocation per execution environment.
        :param capacity_provider_max_concurrency: how many invocations one execution environment takes at
            once (``PerExecutionEnvironmentMaxConcurrency``, 1 to 1600). Default: Lambda's, 16 per vCPU
            for Python.
        :param capacity_provider_memory_gib_per_vcpu: memory per vCPU of each execution environment, in
            GiB (``ExecutionEnvironmentMemoryGiBPerVCpu``, 2 to 8). Default: Lambda's, 2.
        :param auth_type: who may call the function URL. Default: ``AWS_IAM`` (SigV4-signed
            requests by principals given ``grant_invoke_url``). ``NONE`` makes the URL public and
            leaves a warning.
        :param cors: CORS of the function URL. Default: no CORS.
        :param logging_format: Default: ``LoggingFormat.JSON``.
        :param log_retention: how long the function's log group keeps logs. Default: one month.
        :param log_removal_policy: what happens to the log group when the stack is deleted.
            Default: ``RemovalPolicy.RETAIN``.
        :param alarms: create the alarms below. Default: True.
        :param streamed_bytes_alarm_threshold_mb: alarm when one invocation streams more than this
            many megabytes (MB of 2^20 bytes, as Lambda counts its limits; Lambda ends streams at 200 MB).
            With ``stream_metrics`` the alarm watches the runtime's own ``StreamedBytes``; without, it
            watches ``AWS/Lambda`` ``StreamedOutboundBytes``, a name monitoring vendors use but no AWS
            page confirms (if Lambda does not publish it, that alarm never fires). None: no alarm.
            Default: 180.
        :param errors_alarm_threshold_count: alarm when this many invocations fail within 5 minutes.
            None: no alarm. Default: 1.
        :param throttles_alarm_threshold_count: alarm when this many invocations are throttled within
            5 minutes. None: no alarm. Default: 1.
        :param url_5xx_alarm_threshold_count: alarm when the function URL answers this many requests
            with a 5xx status within 5 minutes. None: no alarm. Default: 1.
        :param duration_alarm_threshold_percent_of_timeout: alarm when the p99 duration stays above
            this percentage of ``timeout`` for 15 minutes. None: no alarm. Default: 90.
        :param stream_metrics: the runtime measures every streamed invocation (time to first byte,
            stream duration, body and streamed bytes, errors after the first byte) and writes them as
            one CloudWatch embedded metric format record per invocation (``STREAM_FN_METRICS=emf``), in
            the ``CdkStreamFn`` namespace with the ``FunctionName`` dimension. These are custom
            metrics, billed as such: five metrics per function (CloudWatch's price per metric-month),
            plus the log ingestion of one ~450-byte log line per invocation. Default: False.
        :param time_to_first_byte_alarm_threshold_ms: with ``stream_metrics``, alarm when the p90 time to
            first byte stays above this many milliseconds for 15 minutes. None: no alarm. Default: 2000.
        :param errors_after_first_byte_alarm_threshold_count: with ``stream_metrics``, alarm when this many
            invocations fail after their response started (truncated responses) within 5 minutes.
            None: no alarm. Default: 1.
        :param alarm_topic: an SNS topic notified when any alarm goes to ALARM or back to OK.
            Default: no notifications.
        :param dashboard: create a CloudWatch dashboard of the function's metrics. Default: False.
        :param cloudfront: put a CloudFront distribution in front of the URL (True, or
            ``CloudFrontOptions``). Requires ``auth_type`` AWS_IAM. Default: False.
        :param api_gateway: put a streaming REST API in front of the function (True, or
            ``ApiGatewayOptions``). Default: False.
        :param url_output: add a stack output with the function URL (and the distribution URL).
            Default: True.
        """
        super().__init__(scope, id)
        self._stream_metrics = stream_metrics
        runtime = supported_python_runtimes()[-1] if runtime is None else runtime
        on_managed_instances = managed_instances.is_capacity_provider(capacity_provider)
        if architecture is None:
            architecture = (
                managed_instances.default_architecture(capacity_provider)  # type: ignore[arg-type]
                if on_managed_instances
                else lambda_.Architecture.ARM_64
            )
        if memory_size is None:
            memory_size = DEFAULT_MANAGED_INSTANCES_MEMORY_MIB if on_managed_instances else DEFAULT_MEMORY_MIB
        timeout = cdk.Duration.minutes(DEFAULT_TIMEOUT_MINUTES) if timeout is None else timeout
        thresholds = AlarmThresholds(
            streamed_bytes_mb=streamed_bytes_alarm_threshold_mb,
            errors_count=errors_alarm_threshold_count,
            throttles_count=throttles_alarm_threshold_count,
            url_5xx_count=url_5xx_alarm_threshold_count,
            duration_percent_of_timeout=duration_alarm_threshold_percent_of_timeout,
            time_to_first_byte_ms=time_to_first_byte_alarm_threshold_ms,
            errors_after_first_byte_count=errors_after_first_byte_alarm_threshold_count,
        )
        check.raise_if_invalid(
            self.node.path,
            [
                *check.check_entry_and_handler(entry, handler),
                *check.check_runtime(runtime),
                *check.check_architecture(architecture),
                *check.check_memory_size(memory_size),
                *check.check_timeout(timeout),
                *check.check_environment(environment),
                *check.check_description(description),
                *check.check_function_name(function_name),
                *check.check_optional_count(
                    "reserved_concurrent_executions", reserved_concurrent_executions, minimum=0
                ),
                *check.check_choice(
                    "auth_type",
                    auth_type,
                    list(lambda_.FunctionUrlAuthType),
                    "lambda_.FunctionUrlAuthType.AWS_IAM or .NONE",
                ),
                *check.check_alarm_thresholds(thresholds, timeout),
                *check.check_flag("stream_metrics", stream_metrics),
                *check.check_flag_or_options("cloudfront", cloudfront, CloudFrontOptions),
                *check.check_flag_or_options("api_gateway", api_gateway, ApiGatewayOptions),
                *check.check_cloudfront(cloudfront, auth_type),
                *check_snap_start(snap_start, runtime, capacity_provider=capacity_provider),
                *managed_instances.check_capacity_provider(
                    capacity_provider,
                    runtime=runtime,
                    architecture=architecture,
                    memory_size=memory_size,
                    logging_format=logging_format,
                    network={"vpc": vpc, "vpc_subnets": vpc_subnets, "security_groups": security_groups},
                    max_concurrency=capacity_provider_max_concurrency,
                    memory_gib_per_vcpu=capacity_provider_memory_gib_per_vcpu,
                ),
            ],
        )
        entry_directory = Path(entry).resolve()
        minor = check.python_minor(runtime)

        self._log_group = logs.LogGroup(
            self, "LogGroup", retention=log_retention, removal_policy=log_removal_policy
        )
        role = self._execution_role(vpc is not None, tracing)
        self._runtime_layer = runtime_layer(self, compatible_runtimes=list(supported_python_runtimes()))
        code, bundler = function_code(entry_directory, LambdaPlatform(f"3.{minor}", architecture.name))
        with self._bundling_errors_reported(bundler):
            self._function = lambda_.Function(
                self,
                "Function",
                code=code,
                handler=handler,
                runtime=runtime,
                architecture=architecture,
                role=role,
                layers=[self._runtime_layer],
                environment={
                    **(environment or {}),
                    "AWS_LAMBDA_EXEC_WRAPPER": EXEC_WRAPPER_PATH,
                    **({STREAM_METRICS_VARIABLE: STREAM_METRICS_EMF} if stream_metrics else {}),
                },
                memory_size=memory_size,
                timeout=timeout,
                description=description,
                function_name=function_name,
                reserved_concurrent_executions=reserved_concurrent_executions,
                tracing=tracing,
                vpc=vpc,
                vpc_subnets=vpc_subnets,
                security_groups=security_groups,
                log_group=self._log_group,
                logging_format=logging_format,
                snap_start=snap_start_conf(snap_start),
            )
        if capacity_provider is not None:
            managed_instances.attach(
                self._function,
                capacity_provider,
                max_concurrency=capacity_provider_max_concurrency,
                memory_gib_per_vcpu=capacity_provider_memory_gib_per_vcpu,
            )
        self._add_serve_metadata(entry_directory)
        self._alias = publish_alias(self, self._function) if snap_start else None
        #: What the front doors invoke: the alias with SnapStart (its published version), else the function.
        self._invoked: lambda_.IFunction = self._alias if self._alias is not None else self._function
        self._function_url = self._invoked.add_function_url(
            auth_type=auth_type, cors=cors, invoke_mode=lambda_.InvokeMode.RESPONSE_STREAM
        )
        self._warn_about_choices(auth_type, vpc)

        self._alarms = (
            create_alarms(
                self,
                self._function,
                thresholds=thresholds,
                timeout=timeout,
                alarm_topic=alarm_topic,
                stream_metrics=stream_metrics,
            )
            if alarms
            else ()
        )
        self._dashboard: cloudwatch.Dashboard | None = None
        if dashboard:
            from .dashboard import streaming_dashboard

            self._dashboard = streaming_dashboard(
                self, "Dashboard", self._function, self._alarms, stream_metrics=stream_metrics
            )
        self._distribution = self._add_distribution(cloudfront)
        self._rest_api = self._add_rest_api(
            api_gateway, timeout=timeout, log_retention=log_retention, tracing=tracing
        )
        if url_output:
            cdk.CfnOutput(
                self, "Url", value=self._function_url.url, description=f"Function URL of {self.node.path}"
            )
            if self._distribution is not None:
                cdk.CfnOutput(
                    self,
                    "DistributionUrl",
                    value=f"https://{self._distribution.distribution_domain_name}/",
                    description=f"CloudFront URL of {self.node.path}",
                )

    def _add_distribution(self, cloudfront: bool | CloudFrontOptions) -> aws_cloudfront.Distribution | None:
        if not cloudfront:
            return None
        from .cloudfront import streaming_distribution

        options = cloudfront if isinstance(cloudfront, CloudFrontOptions) else CloudFrontOptions()
        return streaming_distribution(self, "Distribution", self._invoked, self._function_url, options)

    def _add_rest_api(
        self,
        api_gateway: bool | ApiGatewayOptions,
        *,
        timeout: cdk.Duration,
        log_retention: logs.RetentionDays,
        tracing: lambda_.Tracing | None,
    ) -> apigateway.LambdaRestApi | None:
        if not api_gateway:
            return None
        from .api_gateway import streaming_rest_api

        options = api_gateway if isinstance(api_gateway, ApiGatewayOptions) else ApiGatewayOptions()
        return streaming_rest_api(
            self,
            "RestApi",
            self._invoked,
            options,
            timeout=timeout,
            log_retention=log_retention,
            tracing=tracing == lambda_.Tracing.ACTIVE,
        )

    def _execution_role(self, in_vpc: bool, tracing: lambda_.Tracing | None) -> iam.Role:
        """A role that may write to this function's log group only (no AWSLambdaBasicExecutionRole)."""
        role = iam.Role(
            self,
            "ServiceRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {self.node.path}",
        )
        self._log_group.grant_write(role)
        if in_vpc:
            role.add_managed_policy(
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaVPCAccessExecutionRole")
            )
            acknowledge(
                role,
                "AwsSolutions-IAM4",
                "AWSLambdaVPCAccessExecutionRole is the AWS-maintained minimum Lambda needs to manage the "
                "function's network interfaces in the VPC; those EC2 actions take no resource scope.",
                finding="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
            )
        if tracing == lambda_.Tracing.ACTIVE:
            acknowledge(
                role,
                "AwsSolutions-IAM5",
                "X-Ray's xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level "
                "permissions, so active tracing needs Resource '*'.",
                finding="Resource::*",
            )
        return role

    @contextlib.contextmanager
    def _bundling_errors_reported(self, bundler: PythonDependencyBundler | None) -> Iterator[None]:
        """A failed dependency install surfaces as a BundlingError, not as the jsii error around it."""
        try:
            yield
        except RuntimeError:
            if bundler is None or bundler.error is None:
                raise
            raise BundlingError(
                f"StreamingFunction {self.node.path!r} could not bundle {bundler.entry}: {bundler.error}"
            ) from bundler.error

    def _add_serve_metadata(self, entry: Path) -> None:
        """What `cdk-stream-fn serve` reads (docs/architecture.md, "Cloud assembly"): the code asset, the
        construct, and the entry directory, relative to the assembly directory like the asset path, so
        the template names no path of this machine (`cdk.out` beside the app gives `../functions/x`)."""
        code_asset = self._function.node.find_child("Code")
        resource = self._function.node.default_child
        assert isinstance(resource, lambda_.CfnFunction)
        stage = cdk.Stage.of(self)
        assert stage is not None, "a StreamingFunction is always in an App or a Stage"
        resource.add_metadata(
            METADATA_KEY,
            {
                "version": METADATA_VERSION,
                "codeAssetPath": code_asset.asset_path,  # type: ignore[attr-defined]
                "constructPath": self.node.path,
                "entry": _relative_to(entry, Path(stage.outdir)),
            },
        )

    def _warn_about_choices(self, auth_type: lambda_.FunctionUrlAuthType, vpc: ec2.IVpc | None) -> None:
        if auth_type == lambda_.FunctionUrlAuthType.NONE:
            cdk.Annotations.of(self).add_warning_v2(
                "cdk-stream-fn:publicFunctionUrl",
                "auth_type=NONE makes the function URL public: anyone on the internet can invoke the "
                "function and run up its bill. Use AWS_IAM with grant_invoke_url(), or cloudfront=True.",
            )
        if vpc is not None:
            cdk.Annotations.of(self).add_warning_v2(
                "cdk-stream-fn:vpcDoesNotStream",
                "Function URLs do not stream responses from functions inside a VPC: the response "
                "arrives buffered. Keep the function out of the VPC if it must stream.",
            )

    # -- typed attributes --------------------------------------------------------------------------

    @property
    def function(self) -> lambda_.Function:
        """The Lambda function."""
        return self._function

    @property
    def alias(self) -> lambda_.Alias | None:
        """With ``snap_start``, the alias ``live`` (of the published version) that the front doors invoke."""
        return self._alias

    @property
    def function_url(self) -> lambda_.FunctionUrl:
        """The function URL (``InvokeMode.RESPONSE_STREAM``); with ``snap_start``, the alias's."""
        return self._function_url

    @property
    def url(self) -> str:
        """The function URL's address (a token until deployment)."""
        return self._function_url.url

    @property
    def alarms(self) -> tuple[cloudwatch.Alarm, ...]:
        """The alarms created (empty with ``alarms=False``)."""
        return self._alarms

    @property
    def log_group(self) -> logs.LogGroup:
        """The function's log group."""
        return self._log_group

    @property
    def runtime_layer(self) -> lambda_.LayerVersion:
        """The stack's stream_fn runtime layer."""
        return self._runtime_layer

    @property
    def distribution(self) -> aws_cloudfront.Distribution | None:
        """The CloudFront distribution, when ``cloudfront`` is on."""
        return self._distribution

    @property
    def rest_api(self) -> apigateway.LambdaRestApi | None:
        """The streaming REST API, when ``api_gateway`` is on."""
        return self._rest_api

    @property
    def dashboard(self) -> cloudwatch.Dashboard | None:
        """The CloudWatch dashboard, when ``dashboard`` is on."""
        return self._dashboard

    # -- grants ------------------------------------------------------------------------------------

    def grant_invoke_url(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` call the function URL: ``lambda:InvokeFunctionUrl`` and
        ``lambda:InvokeFunction`` (both needed since October 2025)."""
        return self._function_url.grant_invoke_url(grantee)

    # -- metrics -----------------------------------------------------------------------------------

    def metric_streamed_outbound_bytes(self, **props: Any) -> cloudwatch.Metric:
        """Bytes streamed per invocation (``AWS/Lambda`` ``StreamedOutboundBytes``, a name monitoring vendors
        use and no AWS page confirms; prefer :meth:`metric_streamed_bytes`). Default: Maximum over 5 minutes."""
        return metrics.streamed_outbound_bytes(self._function, **props)

    def metric_streamed_outbound_throughput(self, **props: Any) -> cloudwatch.Metric:
        """Bytes per second streamed (``StreamedOutboundThroughput``, the same caveat). Default: Average over 5 minutes."""
        return metrics.streamed_outbound_throughput(self._function, **props)

    def metric_time_to_first_byte(self, **props: Any) -> cloudwatch.Metric:
        """The runtime's time to first byte (ms, from the invocation's arrival to its first body byte);
        needs ``stream_metrics=True``. Default: p90 over 5 minutes."""
        return metrics.time_to_first_byte(self._needs_stream_metrics("metric_time_to_first_byte"), **props)

    def metric_stream_duration(self, **props: Any) -> cloudwatch.Metric:
        """The runtime's stream duration (ms, first body byte to the end); needs ``stream_metrics=True``.
        Default: p90 over 5 minutes."""
        return metrics.stream_duration(self._needs_stream_metrics("metric_stream_duration"), **props)

    def metric_body_bytes(self, **props: Any) -> cloudwatch.Metric:
        """The body per invocation as the handler wrote it, before compression; needs ``stream_metrics=True``.
        Default: Maximum over 5 minutes."""
        return metrics.body_bytes(self._needs_stream_metrics("metric_body_bytes"), **props)

    def metric_streamed_bytes(self, **props: Any) -> cloudwatch.Metric:
        """Every byte one invocation streamed to Lambda (prelude, body as sent, compressed when it was);
        needs ``stream_metrics=True``. Default: Maximum over 5 minutes."""
        return metrics.streamed_bytes(self._needs_stream_metrics("metric_streamed_bytes"), **props)

    def metric_errors_after_first_byte(self, **props: Any) -> cloudwatch.Metric:
        """Invocations that failed after their response started (truncated responses); needs
        ``stream_metrics=True``. Default: Sum over 5 minutes."""
        return metrics.errors_after_first_byte(
            self._needs_stream_metrics("metric_errors_after_first_byte"), **props
        )

    def _needs_stream_metrics(self, helper: str) -> lambda_.Function:
        if not self._stream_metrics:
            raise ValueError(
                f"StreamingFunction {self.node.path!r}: {helper}() reads a metric the runtime writes only with "
                "stream_metrics=True; without it the metric never arrives (and an alarm on it never fires)"
            )
        return self._function

    def metric_url_requests(self, **props: Any) -> cloudwatch.Metric:
        """Requests to the function URL (``UrlRequestCount``). Default: Sum over 5 minutes."""
        return metrics.url_requests(self._function, **props)

    def metric_url_4xx(self, **props: Any) -> cloudwatch.Metric:
        """Function URL answers with a 4xx status (``Url4xxCount``). Default: Sum over 5 minutes."""
        return metrics.url_4xx(self._function, **props)

    def metric_url_5xx(self, **props: Any) -> cloudwatch.Metric:
        """Function URL answers with a 5xx status (``Url5xxCount``). Default: Sum over 5 minutes."""
        return metrics.url_5xx(self._function, **props)

    def metric_url_latency(self, **props: Any) -> cloudwatch.Metric:
        """Function URL latency (``UrlRequestLatency``, ms). Default: Average over 5 minutes."""
        return metrics.url_latency(self._function, **props)

    def metric_errors(self, **props: Any) -> cloudwatch.Metric:
        """The function's ``Errors`` (aws-cdk-lib's helper). Default: Sum over 5 minutes."""
        return self._function.metric_errors(**props)

    def metric_throttles(self, **props: Any) -> cloudwatch.Metric:
        """The function's ``Throttles`` (aws-cdk-lib's helper). Default: Sum over 5 minutes."""
        return self._function.metric_throttles(**props)

    def metric_duration(self, **props: Any) -> cloudwatch.Metric:
        """The function's ``Duration`` (aws-cdk-lib's helper). Default: Average over 5 minutes."""
        return self._function.metric_duration(**props)

    def metric_invocations(self, **props: Any) -> cloudwatch.Metric:
        """The function's ``Invocations`` (aws-cdk-lib's helper). Default: Sum over 5 minutes."""
        return self._function.metric_invocations(**props)
