"""Acknowledge cdk-nag AwsSolutions findings that are deliberate choices of this construct library.

Acknowledgements go through aws-cdk-lib's own `Validations` (cdk-nag 3 is a policy-validation
plugin), so the construct library needs no cdk-nag dependency. Each is put on the narrowest
construct it covers and carries the reason a reviewer reads in the validation report.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct

AWS_SOLUTIONS_PACK = "AwsSolutions"


def acknowledge(construct: IConstruct, rule: str, reason: str, *, finding: str | None = None) -> None:
    """Acknowledge AwsSolutions `rule` (e.g. `AwsSolutions-IAM4`) on `construct` and its children.

    `finding` narrows it to one finding of the rule, as the report prints it
    (e.g. `Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole`).
    """
    rule_id = f"{AWS_SOLUTIONS_PACK}::{rule}" + (f"[{finding}]" if finding else "")
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))
