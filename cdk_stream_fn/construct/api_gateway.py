"""A REST API whose Lambda proxy integration streams the function's response.

`ResponseTransferMode.STREAM` makes API Gateway call the function's response-streaming invocation
and pass bytes on as they come. REST APIs are the only API Gateway APIs that stream; a stream may
last up to 15 minutes, so the integration timeout follows the function's timeout.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .acknowledgements import acknowledge
from .options import ApiGatewayOptions


def streaming_rest_api(
    scope: Construct,
    construct_id: str,
    function: lambda_.IFunction,
    options: ApiGatewayOptions,
    *,
    timeout: cdk.Duration,
    log_retention: logs.RetentionDays,
    tracing: bool,
) -> apigateway.LambdaRestApi:
    """The REST API, with JSON access logs in a log group of its own."""
    authorization_type = options.authorization_type or apigateway.AuthorizationType.IAM
    access_logs = logs.LogGroup(scope, f"{construct_id}AccessLogs", retention=log_retention)
    api = apigateway.LambdaRestApi(
        scope,
        construct_id,
        handler=function,
        rest_api_name=options.rest_api_name,
        description=f"Streams {scope.node.path}",
        integration_options=apigateway.LambdaIntegrationOptions(
            response_transfer_mode=apigateway.ResponseTransferMode.STREAM, timeout=timeout
        ),
        default_method_options=apigateway.MethodOptions(authorization_type=authorization_type),
        endpoint_types=[options.endpoint_type or apigateway.EndpointType.REGIONAL],
        # An account-wide setting that one construct must not own (AWS::ApiGateway::Account).
        cloud_watch_role=False,
        deploy_options=apigateway.StageOptions(
            stage_name=options.stage_name,
            access_log_destination=apigateway.LogGroupLogDestination(access_logs),
            access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                caller=True,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=True,
            ),
            tracing_enabled=tracing,
        ),
    )
    _acknowledge_design_choices(api, authorization_type)
    if authorization_type == apigateway.AuthorizationType.NONE:
        cdk.Annotations.of(api).add_warning_v2(
            "cdk-stream-fn:publicRestApi",
            "ApiGatewayOptions(authorization_type=AuthorizationType.NONE) makes the REST API public: anyone "
            "on the internet can invoke the function and run up its bill. Keep AuthorizationType.IAM (the "
            "default) or put an authorizer in front.",
        )
    return api


def _acknowledge_design_choices(
    api: apigateway.LambdaRestApi, authorization_type: apigateway.AuthorizationType
) -> None:
    acknowledge(
        api,
        "AwsSolutions-APIG2",
        "A Lambda proxy integration hands the whole request to the function, which validates it; there "
        "is no request model for API Gateway to validate against.",
    )
    acknowledge(
        api,
        "AwsSolutions-APIG6",
        "Execution logging needs the account-wide API Gateway CloudWatch Logs role "
        "(AWS::ApiGateway::Account), which one construct must not own; JSON access logs are on.",
    )
    if authorization_type == apigateway.AuthorizationType.IAM:
        acknowledge(
            api,
            "AwsSolutions-COG4",
            "Every method requires AWS_IAM (SigV4) authorization, which authenticates callers without a "
            "Cognito user pool.",
        )
