"""`snap_start=True`: SnapStart on published versions, an alias, and every front door on the alias."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match

from cdk_stream_fn import StreamingFunction

from .conftest import DEFAULTS, SNAP_START, Scenarios
from .support import HELLO, resources_of_type, template

ALIAS = {"Ref": Match.string_like_regexp("^StreamAlias")}
FUNCTION = {"Ref": Match.string_like_regexp("^StreamFunction")}
FUNCTION_REF = {"Ref": "StreamFunction0E605769"}


def logical_id(template_json: dict[str, Any], resource_type: str) -> str:
    (found,) = resources_of_type(template_json, resource_type)
    return found


def test_the_function_applies_snap_start_to_published_versions(scenarios: Scenarios) -> None:
    template(scenarios.templates, SNAP_START).has_resource_properties(
        "AWS::Lambda::Function", {"SnapStart": {"ApplyOn": "PublishedVersions"}, "Runtime": "python3.14"}
    )
    template(scenarios.templates, DEFAULTS).has_resource_properties(
        "AWS::Lambda::Function", {"SnapStart": Match.absent()}
    )
    assert resources_of_type(scenarios.templates[DEFAULTS], "AWS::Lambda::Alias") == {}


def test_a_version_is_published_and_the_alias_live_points_at_it(scenarios: Scenarios) -> None:
    snap_start = template(scenarios.templates, SNAP_START)
    version = logical_id(scenarios.templates[SNAP_START], "AWS::Lambda::Version")
    snap_start.has_resource("AWS::Lambda::Version", {"Properties": {"FunctionName": FUNCTION}})
    snap_start.has_resource_properties(
        "AWS::Lambda::Alias",
        {"Name": "live", "FunctionName": FUNCTION, "FunctionVersion": {"Fn::GetAtt": [version, "Version"]}},
    )
    assert version.startswith("StreamFunctionCurrentVersion"), "a new version whenever the function changes"


def test_the_function_url_targets_the_alias(scenarios: Scenarios) -> None:
    snap_start = template(scenarios.templates, SNAP_START)
    alias = logical_id(scenarios.templates[SNAP_START], "AWS::Lambda::Alias")
    snap_start.has_resource(
        "AWS::Lambda::Url",
        {
            "Properties": {
                "Qualifier": "live",
                "TargetFunctionArn": {"Fn::GetAtt": [Match.string_like_regexp("^StreamFunction"), "Arn"]},
                "AuthType": "AWS_IAM",
                "InvokeMode": "RESPONSE_STREAM",
            },
            "DependsOn": [alias],
        },
    )
    outputs = scenarios.templates[SNAP_START]["Outputs"]
    (url_output,) = [output for name, output in outputs.items() if name.startswith("StreamUrl")]
    url = logical_id(scenarios.templates[SNAP_START], "AWS::Lambda::Url")
    assert url_output["Value"] == {"Fn::GetAtt": [url, "FunctionUrl"]}


def test_api_gateway_invokes_the_alias(scenarios: Scenarios) -> None:
    snap_start = template(scenarios.templates, SNAP_START)
    snap_start.has_resource_properties(
        "AWS::ApiGateway::Method",
        {
            "Integration": Match.object_like(
                {
                    "ResponseTransferMode": "STREAM",
                    "Uri": {"Fn::Join": ["", Match.array_with([ALIAS, "/response-streaming-invocations"])]},
                }
            )
        },
    )
    permissions = resources_of_type(scenarios.templates[SNAP_START], "AWS::Lambda::Permission").values()
    api_permissions = [
        p["Properties"] for p in permissions if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert api_permissions
    assert all(permission["FunctionName"]["Ref"].startswith("StreamAlias") for permission in api_permissions)


def test_cloudfront_invokes_the_alias_url(scenarios: Scenarios) -> None:
    url = logical_id(scenarios.templates[SNAP_START], "AWS::Lambda::Url")
    permissions = resources_of_type(scenarios.templates[SNAP_START], "AWS::Lambda::Permission").values()
    cloudfront = {
        p["Properties"]["Action"]: p["Properties"]["FunctionName"]
        for p in permissions
        if p["Properties"]["Principal"] == "cloudfront.amazonaws.com"
    }
    assert cloudfront == {
        "lambda:InvokeFunctionUrl": {"Fn::GetAtt": [url, "FunctionArn"]},
        "lambda:InvokeFunction": {"Fn::GetAtt": [url, "FunctionArn"]},
    }


def test_nothing_may_invoke_the_unpublished_function(scenarios: Scenarios) -> None:
    """Every permission names the alias (or its URL): SnapStart applies only to the published version."""
    permissions = resources_of_type(scenarios.templates[SNAP_START], "AWS::Lambda::Permission").values()
    targets = {str(permission["Properties"]["FunctionName"]) for permission in permissions}
    assert not any("StreamFunction" in target for target in targets), targets


def test_alarms_watch_the_function_across_its_versions(scenarios: Scenarios) -> None:
    """The `FunctionName` dimension covers every version and alias (see construct/snap_start.py)."""
    alarms = resources_of_type(scenarios.templates[SNAP_START], "AWS::CloudWatch::Alarm").values()
    assert len(alarms) == 5
    for alarm in alarms:
        assert alarm["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": FUNCTION_REF}]


def test_aws_cdk_libs_publish_warning_is_acknowledged(scenarios: Scenarios) -> None:
    assert not [warning for warning in scenarios.warnings[SNAP_START] if "published" in warning]
    assert scenarios.functions[SNAP_START].alias is not None
    assert scenarios.functions[DEFAULTS].alias is None


def test_a_non_bool_snap_start_is_named() -> None:
    stack = cdk.Stack(cdk.App(), "BadSnapStart")
    with pytest.raises(ValueError, match=r"snap_start must be True or False, got 'yes' \(str\)"):
        StreamingFunction(stack, "Stream", entry=str(HELLO), snap_start="yes")  # type: ignore[arg-type]


def test_a_runtime_without_snap_start_is_named_before_aws_cdk_lib_refuses_it() -> None:
    """A hand-made python3.15 runtime passes the runtime check, but aws-cdk-lib marks no SnapStart on it."""
    stack = cdk.Stack(cdk.App(), "NoSnapStartRuntime")
    future = lambda_.Runtime("python3.15", lambda_.RuntimeFamily.PYTHON)

    with pytest.raises(ValueError) as caught:
        StreamingFunction(stack, "Stream", entry=str(HELLO), runtime=future, snap_start=True)

    assert "snap_start needs a runtime that supports SnapStart" in str(caught.value)
    assert "got python3.15" in str(caught.value)


def test_snap_start_on_managed_instances_is_refused_naming_both_keywords() -> None:
    stack = cdk.Stack(cdk.App(), "SnapStartOnManagedInstances")
    provider = lambda_.CapacityProvider.from_capacity_provider_arn(
        stack, "Capacity", "arn:aws:lambda:us-east-1:123456789012:capacity-provider:shared"
    )

    with pytest.raises(ValueError) as caught:
        StreamingFunction(
            stack,
            "Stream",
            entry=str(HELLO),
            runtime=lambda_.Runtime.PYTHON_3_14,
            memory_size=2048,
            snap_start=True,
            capacity_provider=provider,
        )

    assert "snap_start cannot be combined with capacity_provider" in str(caught.value)
