"""What StreamingFunction creates: the function, its URL, its log group and role, its attributes."""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match

from cdk_stream_fn.construct.streaming_function import supported_python_runtimes

from .conftest import (
    ALL_OPTIONS,
    DEFAULTS,
    GRANTED,
    NO_OUTPUT,
    PUBLIC_URL,
    PYTHON_312_X86,
    TOKENS,
    Scenarios,
    Variants,
)
from .support import template

WRAPPER = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/stream-fn"}


def test_defaults_run_the_newest_python_on_arm64_through_the_exec_wrapper(scenarios: Scenarios) -> None:
    newest = supported_python_runtimes()[-1].name
    assert newest == "python3.14"  # aws-cdk-lib 2.275's newest; a new one shows up here first
    template(scenarios.templates, DEFAULTS).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": newest,
            "Architectures": ["arm64"],
            "Handler": "index.handler",
            "MemorySize": 512,
            "Timeout": 300,
            "Environment": {"Variables": WRAPPER},
            "Layers": [{"Ref": Match.string_like_regexp("^StreamFnRuntimeLayer")}],
        },
    )


def test_older_supported_python_and_x86_64_on_request(variants: Variants) -> None:
    template(variants.templates, PYTHON_312_X86).has_resource_properties(
        "AWS::Lambda::Function", {"Runtime": "python3.12", "Architectures": ["x86_64"]}
    )


def test_url_streams_and_requires_iam_auth_by_default(scenarios: Scenarios) -> None:
    url = template(scenarios.templates, DEFAULTS)
    url.has_resource_properties(
        "AWS::Lambda::Url",
        {"AuthType": "AWS_IAM", "InvokeMode": "RESPONSE_STREAM", "Cors": Match.absent()},
    )
    # AWS_IAM means no public resource policy on the function.
    url.resource_count_is("AWS::Lambda::Permission", 0)
    assert scenarios.warnings[DEFAULTS] == []


def test_public_url_only_on_request_and_with_a_warning(variants: Variants) -> None:
    public = template(variants.templates, PUBLIC_URL)
    public.has_resource_properties(
        "AWS::Lambda::Url",
        {
            "AuthType": "NONE",
            "InvokeMode": "RESPONSE_STREAM",
            "Cors": {"AllowOrigins": ["*"], "AllowHeaders": ["content-type"]},
        },
    )
    (warning,) = variants.warnings[PUBLIC_URL]
    assert "auth_type=NONE makes the function URL public" in warning


def test_grant_invoke_url_grants_both_url_actions(variants: Variants) -> None:
    function_arn = {"Fn::GetAtt": [Match.string_like_regexp("^StreamFunction"), "Arn"]}
    template(variants.templates, GRANTED).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": Match.string_like_regexp("^Caller")}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "lambda:InvokeFunctionUrl",
                        "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
                        "Effect": "Allow",
                        "Resource": function_arn,
                    },
                    {
                        "Action": "lambda:InvokeFunction",
                        "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": True}},
                        "Effect": "Allow",
                        "Resource": function_arn,
                    },
                ]
            },
        },
    )


def test_explicit_log_group_with_retention_and_json_logs(scenarios: Scenarios) -> None:
    defaults = template(scenarios.templates, DEFAULTS)
    defaults.has_resource(
        "AWS::Logs::LogGroup", {"Properties": {"RetentionInDays": 30}, "DeletionPolicy": "Retain"}
    )
    defaults.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "LoggingConfig": {
                "LogFormat": "JSON",
                "LogGroup": {"Ref": Match.string_like_regexp("^StreamLogGroup")},
            }
        },
    )
    defaults.resource_count_is("Custom::LogRetention", 0)
    defaults.resource_count_is("AWS::Lambda::Function", 1)  # no hidden custom-resource handler


def test_role_may_only_write_to_its_own_log_group(scenarios: Scenarios) -> None:
    defaults = template(scenarios.templates, DEFAULTS)
    defaults.has_resource_properties("AWS::IAM::Role", {"ManagedPolicyArns": Match.absent()})
    defaults.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Effect": "Allow",
                        "Resource": {"Fn::GetAtt": [Match.string_like_regexp("^StreamLogGroup"), "Arn"]},
                    }
                ]
            }
        },
    )


def test_every_function_option_reaches_the_template(scenarios: Scenarios) -> None:
    every = template(scenarios.templates, ALL_OPTIONS)
    every.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Architectures": ["x86_64"],
            "MemorySize": 1024,
            "Timeout": 900,
            "Environment": {"Variables": {"GREETING": "hello", **WRAPPER}},
            "Description": "Streams greetings",
            "FunctionName": "all-options-stream",
            "ReservedConcurrentExecutions": 5,
            "TracingConfig": {"Mode": "Active"},
            "VpcConfig": {"SubnetIds": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]},
        },
    )
    every.has_resource_properties(
        "AWS::Lambda::Url",
        {"Cors": {"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET"]}, "AuthType": "AWS_IAM"},
    )
    every.has_resource(
        "AWS::Logs::LogGroup", {"Properties": {"RetentionInDays": 90}, "DeletionPolicy": "Delete"}
    )
    every.has_resource_properties(
        "AWS::IAM::Role",
        {
            "ManagedPolicyArns": [
                {
                    "Fn::Join": [
                        "",
                        Match.array_with([Match.string_like_regexp("AWSLambdaVPCAccessExecutionRole")]),
                    ]
                }
            ]
        },
    )


def test_vpc_leaves_a_warning_that_urls_do_not_stream_there(scenarios: Scenarios) -> None:
    assert any("do not stream" in warning for warning in scenarios.warnings[ALL_OPTIONS])


def test_stack_output_of_the_url_unless_switched_off(scenarios: Scenarios, variants: Variants) -> None:
    template(scenarios.templates, DEFAULTS).has_output(
        "*",
        {"Value": {"Fn::GetAtt": [Match.string_like_regexp("^StreamFunctionFunctionUrl"), "FunctionUrl"]}},
    )
    assert "Outputs" not in variants.templates[NO_OUTPUT]


def test_unresolved_tokens_pass_validation_and_reach_the_template(variants: Variants) -> None:
    template(variants.templates, TOKENS).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "MemorySize": {"Ref": "Memory"},
            "FunctionName": {"Ref": "Name"},
            "Environment": {"Variables": {"TABLE": {"Fn::ImportValue": "TableName"}, **WRAPPER}},
        },
    )


def test_typed_attributes(scenarios: Scenarios) -> None:
    every = scenarios.functions[ALL_OPTIONS]
    assert isinstance(every.function, lambda_.Function)
    assert isinstance(every.function_url, lambda_.FunctionUrl)
    assert every.url == every.function_url.url
    assert isinstance(every.log_group, logs.LogGroup)
    assert isinstance(every.runtime_layer, lambda_.LayerVersion)
    assert isinstance(every.distribution, cloudfront.Distribution)
    assert isinstance(every.rest_api, apigateway.LambdaRestApi)
    assert isinstance(every.dashboard, cloudwatch.Dashboard)
    assert len(every.alarms) == 5 and all(isinstance(alarm, cloudwatch.Alarm) for alarm in every.alarms)
    defaults = scenarios.functions[DEFAULTS]
    assert (defaults.distribution, defaults.rest_api, defaults.dashboard) == (None, None, None)
