"""SnapStart for a StreamingFunction: a published version, an alias, and the front doors on the alias.

Lambda applies SnapStart to published versions only ("SnapStart only supports published Lambda
versions", aws-cdk-lib's own warning), and a function URL can target the unpublished function or an
alias, never a version. So with `snap_start=True` the construct publishes `function.current_version`
(a new version whenever the function's configuration or code changes; the old one is deleted, with its
cached snapshot, which Python SnapStart bills for while the version exists) and points the alias `live`
at it; the function URL, CloudFront and API Gateway all invoke the alias.

aws-cdk-lib checks the rest when it gets `SnapStartConf.ON_PUBLISHED_VERSIONS`: a runtime that supports
SnapStart, no EFS, ephemeral storage up to 512 MiB, no tenant isolation. StreamingFunction exposes no
EFS or ephemeral-storage props and requires python3.12 or newer, which all support SnapStart, so only a
hand-made `Runtime` object can fail there; `check_snap_start` names the keyword for it first.

The alarms and metrics keep watching the function (the `FunctionName` dimension), not the alias (its
`Resource` dimension): `FunctionName` aggregates every version and alias, so it counts the alias's
invocations and any made another way (`$LATEST`, an older version still in use), and it is the one
dimension every Lambda metric has. Whether the streaming metrics are also published per alias is in no
AWS page, and an alarm on a metric that never arrives stays quiet.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

ALIAS_NAME = "live"
"""The alias that the front doors invoke; it always points at the newest published version."""

REQUIRE_PUBLISH_WARNING = "@aws-cdk/aws-lambda:snapStartRequirePublish"
"""aws-cdk-lib's warning that SnapStart needs a published version, which StreamingFunction publishes."""


def snap_start_conf(snap_start: bool) -> lambda_.SnapStartConf | None:
    """The `snap_start` of `lambda_.Function` for the construct's flag."""
    return lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None


def check_snap_start(snap_start: object, runtime: object, *, capacity_provider: object = None) -> list[str]:
    """`snap_start` is a bool, and SnapStart is on only with a runtime aws-cdk-lib says supports it, and not
    on Lambda Managed Instances.

    SnapStart snapshots a function's Firecracker microVM; Managed Instances run functions in containers on
    EC2 instances instead ("replacing Firecracker-based isolation", AWS Lambda Developer Guide, "Capacity
    providers"), and no AWS page within reach lists SnapStart among what they support.
    """
    if not isinstance(snap_start, bool):
        return [f"snap_start must be True or False, got {snap_start!r} ({type(snap_start).__name__})"]
    if snap_start and capacity_provider is not None:
        message = (
            "snap_start cannot be combined with capacity_provider: SnapStart restores Firecracker microVM "
            "snapshots, while Lambda Managed Instances run functions in containers on your capacity "
            "provider's instances (their environments start once and then serve many invocations); choose one"
        )
        return [message]
    if snap_start and isinstance(runtime, lambda_.Runtime) and not runtime.supports_snap_start:
        message = (
            f"snap_start needs a runtime that supports SnapStart (the python3.12 and newer managed runtimes "
            f"do), got {runtime.name}, which aws-cdk-lib marks as not supporting it; pass a "
            "lambda_.Runtime.PYTHON_3_* constant, or snap_start=False"
        )
        return [message]
    return []


def publish_alias(scope: Construct, function: lambda_.Function) -> lambda_.Alias:
    """Publish `function`'s current version and point the alias `live` at it."""
    cdk.Annotations.of(function).acknowledge_warning(
        REQUIRE_PUBLISH_WARNING,
        "StreamingFunction publishes the function's current version and invokes it through an alias.",
    )
    return lambda_.Alias(
        scope,
        "Alias",
        alias_name=ALIAS_NAME,
        version=function.current_version,
        description=f"The published version of {scope.node.path} (SnapStart), which its front doors invoke",
    )
