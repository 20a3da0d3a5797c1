"""cdk-nag (AwsSolutions, as a policy-validation plugin) and cfn-lint on every scenario template."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from cfnlint.api import lint

from .conftest import CLOUDFRONT, DEFAULTS, NAG_CONTROL, SCENARIOS, SNAP_START, Scenarios
from .support import LINT_REGIONS, cfn_lint_errors, nag_report, unacknowledged_errors


def test_cdk_nag_reports_no_unacknowledged_errors(scenarios: Scenarios) -> None:
    report = nag_report(scenarios.outdir)
    assert unacknowledged_errors(report) == []


def _findings(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (violation["ruleName"], construct["constructPath"])
        for violation in [*report.get("violations", []), *report.get("suppressedViolations", [])]
        for construct in violation["violatingConstructs"]
    ]


def test_cdk_nag_flags_in_a_plain_function_what_the_construct_avoids(scenarios: Scenarios) -> None:
    """The control's managed-policy finding proves the pack ran; the construct's roles have none."""
    findings = _findings(nag_report(scenarios.outdir))
    managed_policy = [path for rule, path in findings if rule.startswith("AwsSolutions-IAM4")]
    assert f"{NAG_CONTROL}/Plain/ServiceRole/Resource" in managed_policy
    assert [path for path in managed_policy if path.startswith(f"{DEFAULTS}/")] == []


def test_default_stack_has_no_findings_at_all(scenarios: Scenarios) -> None:
    assert [
        finding
        for finding in _findings(nag_report(scenarios.outdir))
        if finding[1].startswith(f"{DEFAULTS}/")
    ] == []


def test_construct_acknowledgements_carry_reasons(scenarios: Scenarios) -> None:
    report = nag_report(scenarios.outdir)
    suppressed = {violation["ruleName"]: violation for violation in report["suppressedViolations"]}
    for rule in (
        "AwsSolutions-CFR3",
        "AwsSolutions-CFR4",
        "AwsSolutions-APIG2",
        "AwsSolutions-APIG6",
        "AwsSolutions-COG4",
    ):
        assert rule in suppressed, f"{rule} should be acknowledged by the construct"
        for construct in suppressed[rule]["violatingConstructs"]:
            assert construct["constructPath"].split("/")[0] in SCENARIOS
    assert any(
        rule.startswith("AwsSolutions-IAM4[Policy::") and "AWSLambdaVPCAccessExecutionRole" in rule
        for rule in suppressed
    )
    assert "AwsSolutions-IAM5[Resource::*]" in suppressed


def test_cloudfront_acknowledgements_only_where_the_option_is_missing(scenarios: Scenarios) -> None:
    """CFR3/CFR4 are acknowledged for the default distributions (CloudFront, SnapStart), but the
    all-options one complies."""
    report = nag_report(scenarios.outdir)
    for rule in ("AwsSolutions-CFR3", "AwsSolutions-CFR4"):
        violations = [v for v in report["suppressedViolations"] if v["ruleName"] == rule]
        stacks = {
            construct["constructPath"].split("/")[0]
            for violation in violations
            for construct in violation["violatingConstructs"]
        }
        assert stacks == {CLOUDFRONT, SNAP_START}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_cfn_lint_finds_no_errors(scenarios: Scenarios, scenario: str) -> None:
    assert cfn_lint_errors(scenarios.templates[scenario]) == []


def test_cfn_lint_catches_a_broken_template(scenarios: Scenarios) -> None:
    """The lint check can fail: an invoke mode Lambda does not know is an error."""
    broken = copy.deepcopy(scenarios.templates[DEFAULTS])
    (url,) = [resource for resource in broken["Resources"].values() if resource["Type"] == "AWS::Lambda::Url"]
    url["Properties"]["InvokeMode"] = "STREAMING"
    matches = lint(json.dumps(broken), regions=LINT_REGIONS)
    assert any(match.rule.id.startswith("E") and "InvokeMode" in match.path_string for match in matches)
