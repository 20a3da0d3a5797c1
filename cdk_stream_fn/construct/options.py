"""Props for the front doors a StreamingFunction can put before its function URL.

Plain frozen dataclasses with keyword-only fields, shaped like aws-cdk-lib's structs. Nothing here
imports aws_cdk at run time, so the CLI can import this module cheaply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

MAX_ORIGIN_READ_TIMEOUT_SECONDS = 180
"""CloudFront's hard limit for the origin response timeout (above 60 s only after a quota increase)."""

if TYPE_CHECKING:
    from aws_cdk import Duration
    from aws_cdk import aws_apigateway as apigateway
    from aws_cdk import aws_certificatemanager as acm
    from aws_cdk import aws_cloudfront as cloudfront
    from aws_cdk import aws_s3 as s3


@dataclass(frozen=True, kw_only=True)
class CloudFrontOptions:
    """A CloudFront distribution in front of the function URL (Origin Access Control, no caching).

    The URL stays on AWS_IAM auth and only this distribution may call it. Clients that send a body
    (POST, PUT) through it must send the `x-amz-content-sha256` header: Origin Access Control signs
    requests, and Lambda checks the payload hash.

    :param origin_read_timeout: the longest CloudFront waits for the next bytes of a stream (its
        origin response timeout). Default: 60 seconds, the most CloudFront allows without a quota
        increase (up to 180 seconds with one).
    :param domain_names: alternative domain names. Default: only the *.cloudfront.net name.
    :param certificate: a certificate (in us-east-1) for ``domain_names``; with one, viewers must use
        TLS 1.2 or later. Default: the *.cloudfront.net certificate.
    :param web_acl_id: the ARN of an AWS WAF web ACL (global scope) to attach. Default: none.
    :param log_bucket: an S3 bucket for standard access logs. Default: no access logs.
    :param price_class: which edge locations serve the distribution. Default: all of them.
    """

    origin_read_timeout: Duration | None = None
    domain_names: Sequence[str] | None = None
    certificate: acm.ICertificate | None = None
    web_acl_id: str | None = None
    log_bucket: s3.IBucket | None = None
    price_class: cloudfront.PriceClass | None = None


@dataclass(frozen=True, kw_only=True)
class ApiGatewayOptions:
    """A REST API whose Lambda proxy integration streams (`ResponseTransferMode.STREAM`).

    :param authorization_type: how callers authenticate. Default: ``AuthorizationType.IAM``
        (SigV4-signed requests). ``AuthorizationType.NONE`` makes the API public and leaves a warning.
    :param endpoint_type: the API's endpoint type. Default: ``EndpointType.REGIONAL``; an
        edge-optimized API ends a stream that is idle for 30 seconds, a regional one after 5 minutes.
    :param stage_name: the stage the API is deployed to. Default: ``prod``.
    :param rest_api_name: the API's name. Default: the construct path.
    """

    authorization_type: apigateway.AuthorizationType | None = None
    endpoint_type: apigateway.EndpointType | None = None
    stage_name: str = "prod"
    rest_api_name: str | None = None
