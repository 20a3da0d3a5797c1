"""A CloudFront distribution that streams a function URL to viewers.

Origin Access Control signs every origin request, so the URL keeps AWS_IAM auth and only this
distribution can call it. Nothing is cached or compressed (a cache or a compressor would hold bytes
back); every viewer header but Host, every cookie and the query string reach the function.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .acknowledgements import acknowledge
from .options import CloudFrontOptions

DEFAULT_ORIGIN_READ_TIMEOUT_SECONDS = 60
CLOUDFRONT_PRINCIPAL = "cloudfront.amazonaws.com"


def streaming_distribution(
    scope: Construct,
    construct_id: str,
    function: lambda_.IFunction,
    function_url: lambda_.FunctionUrl,
    options: CloudFrontOptions,
) -> cloudfront.Distribution:
    """The distribution, with the permissions CloudFront needs to invoke the function URL."""
    origin = origins.FunctionUrlOrigin.with_origin_access_control(
        function_url,
        read_timeout=options.origin_read_timeout or cdk.Duration.seconds(DEFAULT_ORIGIN_READ_TIMEOUT_SECONDS),
    )
    distribution = cloudfront.Distribution(
        scope,
        construct_id,
        comment=f"Streams {scope.node.path}",
        default_behavior=cloudfront.BehaviorOptions(
            origin=origin,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            # The function URL checks the signed Host, so it is the one viewer header not forwarded.
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            compress=False,
        ),
        http_version=cloudfront.HttpVersion.HTTP2_AND_3,
        domain_names=list(options.domain_names) if options.domain_names else None,
        certificate=options.certificate,
        minimum_protocol_version=(
            cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if options.certificate is not None else None
        ),
        web_acl_id=options.web_acl_id,
        enable_logging=options.log_bucket is not None,
        log_bucket=options.log_bucket,
        price_class=options.price_class,
    )
    grant_cloudfront_invoke_function(distribution, function)
    _acknowledge_user_choices(distribution, options)
    return distribution


def grant_cloudfront_invoke_function(
    distribution: cloudfront.Distribution, function: lambda_.IFunction
) -> None:
    """Let the distribution call `lambda:InvokeFunction` through the URL, unless aws-cdk-lib did.

    Since October 2025 a URL caller needs it next to `lambda:InvokeFunctionUrl`. Recent aws-cdk-lib
    versions add it with the OAC origin (aws-cdk#35872); older ones in our supported range do not.
    """
    if _grants_invoke_function(distribution):
        return
    function.add_permission(
        "InvokeFunctionFromCloudFront",
        principal=iam.ServicePrincipal(CLOUDFRONT_PRINCIPAL),
        action="lambda:InvokeFunction",
        source_arn=distribution.distribution_arn,
        invoked_via_function_url=True,
    )


def _grants_invoke_function(distribution: cloudfront.Distribution) -> bool:
    return any(
        isinstance(child, lambda_.CfnPermission)
        and child.action == "lambda:InvokeFunction"
        and child.principal == CLOUDFRONT_PRINCIPAL
        for child in distribution.node.find_all()
    )


def _acknowledge_user_choices(distribution: cloudfront.Distribution, options: CloudFrontOptions) -> None:
    if options.log_bucket is None:
        acknowledge(
            distribution,
            "AwsSolutions-CFR3",
            "Standard access logs need an S3 bucket that the application owns and pays for; pass "
            "CloudFrontOptions(log_bucket=...) to turn them on. Meanwhile the function's log group records "
            "every invocation (Lambda's platform start and report records).",
        )
    if options.certificate is None:
        acknowledge(
            distribution,
            "AwsSolutions-CFR4",
            "With the default *.cloudfront.net certificate CloudFront fixes the minimum viewer protocol at "
            "TLSv1; pass CloudFrontOptions(domain_names=..., certificate=...) to require TLS 1.2.",
        )
