"""The scenario stacks, synthesized once per session (jsii start-up and synthesis are the slow parts).

One app holds the whole-shape scenarios the snapshots, cdk-nag and cfn-lint all read: defaults,
every option on, alarms off, CloudFront, API Gateway, SnapStart (with both front doors, on its alias). cdk-nag's AwsSolutions pack validates it as
a policy-validation plugin, so synthesis itself fails on an unacknowledged error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from cdk_stream_fn import ApiGatewayOptions, CloudFrontOptions, StreamingFunction
from cdk_stream_fn.construct.cloudfront import grant_cloudfront_invoke_function

from .support import HELLO, new_app, synthesize_or_fail, templates_of

DEFAULTS = "Defaults"
ALL_OPTIONS = "AllOptions"
ALARMS_OFF = "AlarmsOff"
CLOUDFRONT = "CloudFront"
API_GATEWAY = "ApiGateway"
SNAP_START = "SnapStart"
STREAM_METRICS = "StreamMetrics"
MANAGED_INSTANCES = "ManagedInstances"
SCENARIOS = (
    DEFAULTS,
    ALL_OPTIONS,
    ALARMS_OFF,
    CLOUDFRONT,
    API_GATEWAY,
    SNAP_START,
    STREAM_METRICS,
    MANAGED_INSTANCES,
)
NAG_CONTROL = "NagControl"
"""A plain Function + URL (no snapshot): shows that cdk-nag flags what StreamingFunction avoids."""


PYTHON_312_X86 = "Python312X86"
PUBLIC_URL = "PublicUrl"
PUBLIC_API = "PublicApi"
TWO_FUNCTIONS = "TwoFunctions"
GRANTED = "Granted"
NO_OUTPUT = "NoOutput"
TUNED_ALARMS = "TunedAlarms"
TOKENS = "Tokens"
BARE_DISTRIBUTION = "BareDistribution"


@dataclass
class SynthesizedApp:
    """An app synthesized once per session: templates and warnings by stack name, constructs by name."""

    outdir: Path
    templates: dict[str, dict[str, Any]]
    warnings: dict[str, list[str]]
    functions: dict[str, StreamingFunction]


Scenarios = SynthesizedApp
"""The whole-shape scenarios (fixture `scenarios`): snapshots, cdk-nag and cfn-lint read them."""
Variants = SynthesizedApp
"""Single-behaviour stacks (fixture `variants`), synthesized together once."""


def _warnings(assembly: Any) -> dict[str, list[str]]:
    """Warning annotations by stack, read from the assembly files (jsii cannot marshal `messages`)."""
    directory = Path(assembly.directory)
    manifest = json.loads((directory / "manifest.json").read_text())
    warnings: dict[str, list[str]] = {}
    for name, artifact in manifest["artifacts"].items():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        metadata = dict(artifact.get("metadata", {}))
        if "additionalMetadataFile" in artifact:
            metadata.update(json.loads((directory / artifact["additionalMetadataFile"]).read_text()))
        warnings[name] = [
            str(entry["data"])
            for entries in metadata.values()
            for entry in entries
            if entry["type"] == "aws:cdk:warning"
        ]
    return warnings


def build_all_options(stack: cdk.Stack) -> StreamingFunction:
    """Every keyword set, with imported (not created) collaborators, as a platform team would."""
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["us-east-1a", "us-east-1b"],
        private_subnet_ids=["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    )
    return StreamingFunction(
        stack,
        "Stream",
        entry=str(HELLO),
        handler="index.handler",
        runtime=lambda_.Runtime.PYTHON_3_14,
        architecture=lambda_.Architecture.X86_64,
        memory_size=1024,
        timeout=cdk.Duration.minutes(15),
        environment={"GREETING": "hello"},
        description="Streams greetings",
        function_name="all-options-stream",
        reserved_concurrent_executions=5,
        tracing=lambda_.Tracing.ACTIVE,
        vpc=vpc,
        auth_type=lambda_.FunctionUrlAuthType.AWS_IAM,
        cors=lambda_.FunctionUrlCorsOptions(
            allowed_origins=["https://example.com"], allowed_methods=[lambda_.HttpMethod.GET]
        ),
        logging_format=lambda_.LoggingFormat.JSON,
        log_retention=logs.RetentionDays.THREE_MONTHS,
        log_removal_policy=cdk.RemovalPolicy.DESTROY,
        alarms=True,
        streamed_bytes_alarm_threshold_mb=150,
        errors_alarm_threshold_count=3,
        throttles_alarm_threshold_count=2,
        url_5xx_alarm_threshold_count=4,
        duration_alarm_threshold_percent_of_timeout=80,
        alarm_topic=sns.Topic.from_topic_arn(stack, "Alerts", "arn:aws:sns:us-east-1:123456789012:alerts"),
        dashboard=True,
        cloudfront=CloudFrontOptions(
            origin_read_timeout=cdk.Duration.seconds(120),
            domain_names=["stream.example.com"],
            certificate=acm.Certificate.from_certificate_arn(
                stack,
                "Certificate",
                "arn:aws:acm:us-east-1:123456789012:certificate/0e1f2a3b-4c5d-6e7f-8a9b-0c1d2e3f4a5b",
            ),
            log_bucket=s3.Bucket.from_bucket_name(stack, "AccessLogs", "example-cloudfront-access-logs"),
        ),
        api_gateway=ApiGatewayOptions(stage_name="live", rest_api_name="all-options-stream"),
        url_output=True,
    )


def build_managed_instances(stack: cdk.Stack) -> StreamingFunction:
    """On Lambda Managed Instances: a capacity provider of arm64 instances in imported subnets."""
    subnets = [
        ec2.Subnet.from_subnet_id(stack, f"Subnet{index}", subnet_id)
        for index, subnet_id in enumerate(["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"])
    ]
    capacity = lambda_.CapacityProvider(
        stack,
        "Capacity",
        subnets=subnets,
        security_groups=[
            ec2.SecurityGroup.from_security_group_id(stack, "Instances", "sg-0123456789abcdef0")
        ],
        architectures=[lambda_.Architecture.ARM_64],
    )
    # The provider is the user's, and so is this choice; the construct acknowledges nothing on it.
    cdk.Validations.of(capacity).acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AWSLambdaManagedEC2ResourceOperator]",
            reason="aws-cdk-lib's default operator role: the AWS-maintained policy Lambda needs to run instances.",
        )
    )
    return StreamingFunction(
        stack, "Stream", entry=str(HELLO), capacity_provider=capacity, capacity_provider_max_concurrency=64
    )


def _plain_function(stack: cdk.Stack) -> lambda_.Function:
    """A plain Function with the same code, aws-cdk-lib's defaults and nothing of StreamingFunction."""
    return lambda_.Function(
        stack,
        "Plain",
        code=lambda_.Code.from_asset(str(HELLO)),
        handler="index.handler",
        runtime=lambda_.Runtime.PYTHON_3_14,
    )


def _bare_distribution(stack: cdk.Stack) -> None:
    """A distribution whose origin grants nothing, for the permission fallback of older aws-cdk-libs."""
    function = _plain_function(stack)
    distribution = cloudfront.Distribution(
        stack,
        "Distribution",
        default_behavior=cloudfront.BehaviorOptions(origin=origins.HttpOrigin("example.com")),
    )
    grant_cloudfront_invoke_function(distribution, function)


@pytest.fixture(scope="session")
def variants(tmp_path_factory: pytest.TempPathFactory) -> Variants:
    outdir = tmp_path_factory.mktemp("variants") / "cdk.out"
    app = new_app(outdir)
    stack = {
        name: cdk.Stack(app, name)
        for name in (
            PYTHON_312_X86,
            PUBLIC_URL,
            PUBLIC_API,
            TWO_FUNCTIONS,
            GRANTED,
            NO_OUTPUT,
            TUNED_ALARMS,
            TOKENS,
            BARE_DISTRIBUTION,
        )
    }
    functions = {
        PYTHON_312_X86: StreamingFunction(
            stack[PYTHON_312_X86],
            "Stream",
            entry=HELLO,
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.X86_64,
        ),
        PUBLIC_URL: StreamingFunction(
            stack[PUBLIC_URL],
            "Stream",
            entry=str(HELLO),
            auth_type=lambda_.FunctionUrlAuthType.NONE,
            cors=lambda_.FunctionUrlCorsOptions(allowed_origins=["*"], allowed_headers=["content-type"]),
        ),
        PUBLIC_API: StreamingFunction(
            stack[PUBLIC_API],
            "Stream",
            entry=str(HELLO),
            api_gateway=ApiGatewayOptions(authorization_type=apigateway.AuthorizationType.NONE),
        ),
        TWO_FUNCTIONS: StreamingFunction(stack[TWO_FUNCTIONS], "First", entry=str(HELLO)),
        GRANTED: StreamingFunction(stack[GRANTED], "Stream", entry=str(HELLO)),
        NO_OUTPUT: StreamingFunction(stack[NO_OUTPUT], "Stream", entry=str(HELLO), url_output=False),
        TUNED_ALARMS: StreamingFunction(
            stack[TUNED_ALARMS],
            "Stream",
            entry=str(HELLO),
            timeout=cdk.Duration.seconds(40),
            streamed_bytes_alarm_threshold_mb=None,
            errors_alarm_threshold_count=5,
            throttles_alarm_threshold_count=None,
            url_5xx_alarm_threshold_count=None,
            duration_alarm_threshold_percent_of_timeout=50,
            alarm_topic=sns.Topic.from_topic_arn(
                stack[TUNED_ALARMS], "Alerts", "arn:aws:sns:us-east-1:123456789012:alerts"
            ),
        ),
        TOKENS: StreamingFunction(
            stack[TOKENS],
            "Stream",
            entry=str(HELLO),
            memory_size=cdk.Token.as_number(
                cdk.CfnParameter(stack[TOKENS], "Memory", type="Number").value_as_number
            ),
            function_name=cdk.CfnParameter(stack[TOKENS], "Name").value_as_string,
            environment={"TABLE": cdk.Fn.import_value("TableName")},
        ),
    }
    StreamingFunction(stack[TWO_FUNCTIONS], "Second", entry=str(HELLO))
    functions[GRANTED].grant_invoke_url(
        iam.Role(stack[GRANTED], "Caller", assumed_by=iam.AccountPrincipal("123456789012"))
    )
    _bare_distribution(stack[BARE_DISTRIBUTION])
    assembly = app.synth()
    return Variants(
        outdir=outdir,
        templates=templates_of(assembly),
        warnings=_warnings(assembly),
        functions=functions,
    )


def _nag_control(stack: cdk.Stack) -> None:
    _plain_function(stack).add_function_url(invoke_mode=lambda_.InvokeMode.RESPONSE_STREAM)
    cdk.Validations.of(stack).acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            reason="Test control: a plain Function keeps the managed policy that StreamingFunction avoids.",
        )
    )


@pytest.fixture(scope="session")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> Scenarios:
    outdir = tmp_path_factory.mktemp("scenarios") / "cdk.out"
    app = new_app(outdir, nag=True)
    stacks = {name: cdk.Stack(app, name) for name in SCENARIOS}
    functions = {
        DEFAULTS: StreamingFunction(stacks[DEFAULTS], "Stream", entry=str(HELLO)),
        ALL_OPTIONS: build_all_options(stacks[ALL_OPTIONS]),
        ALARMS_OFF: StreamingFunction(stacks[ALARMS_OFF], "Stream", entry=str(HELLO), alarms=False),
        CLOUDFRONT: StreamingFunction(stacks[CLOUDFRONT], "Stream", entry=str(HELLO), cloudfront=True),
        API_GATEWAY: StreamingFunction(stacks[API_GATEWAY], "Stream", entry=str(HELLO), api_gateway=True),
        SNAP_START: StreamingFunction(
            stacks[SNAP_START], "Stream", entry=str(HELLO), snap_start=True, cloudfront=True, api_gateway=True
        ),
        STREAM_METRICS: StreamingFunction(
            stacks[STREAM_METRICS], "Stream", entry=str(HELLO), stream_metrics=True, dashboard=True
        ),
        MANAGED_INSTANCES: build_managed_instances(stacks[MANAGED_INSTANCES]),
    }
    _nag_control(cdk.Stack(app, NAG_CONTROL))
    assembly = synthesize_or_fail(app, outdir, "the scenarios")
    return Scenarios(
        outdir=outdir,
        templates=templates_of(assembly),
        warnings=_warnings(assembly),
        functions=functions,
    )
