"""Helpers shared by the construct tests: apps, synthesis, snapshot normalization, the nag report."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HELLO = FIXTURES / "hello"
ASSET_HASH_TOKEN = "<asset-hash>"
_ASSET_HASH = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
FUNCTION_HASH_TOKEN = "<function-hash>"
_FUNCTION_HASH = re.compile(r"(?<=CurrentVersion[0-9A-F]{8})[0-9a-f]{32}(?![0-9a-f])")
"""The hash aws-cdk-lib appends to the logical id of `function.current_version`: it covers the function's
properties, its code's asset hash included."""
LINT_REGIONS = ["us-east-1", "eu-west-1"]
"""Regions where every resource type the construct uses exists (newer regions lack some, e.g. Lambda URLs)."""


ENTRY_TOKEN = "<path to the entry>"
"""Stands for the path from the assembly directory to a function's entry (`cdk-stream-fn` metadata)."""


def normalize_template(template: Any) -> Any:
    """The template with every asset hash (64 hex digits), and the function hash of a published
    version's logical id, in keys and values, replaced by a token; so is the path from the assembly
    directory to each entry in the `cdk-stream-fn` metadata (its last part, the entry's name, stays).

    Asset hashes depend on file bytes (the runtime's, the function's) and so differ between
    checkouts and Python versions, and so does a hash over them; the assembly of a test lives in a
    temporary directory, so the way from it to a fixture differs between runs; everything else a
    snapshot shows is stable.
    """
    if isinstance(template, dict):
        if isinstance(template.get("entry"), str) and "constructPath" in template:
            template = {**template, "entry": f"{ENTRY_TOKEN}/{PurePosixPath(template['entry']).name}"}
        return {_normalize_string(key): normalize_template(value) for key, value in template.items()}
    if isinstance(template, list):
        return [normalize_template(value) for value in template]
    if isinstance(template, str):
        return _normalize_string(template)
    return template


def _normalize_string(text: str) -> str:
    return _FUNCTION_HASH.sub(FUNCTION_HASH_TOKEN, _ASSET_HASH.sub(ASSET_HASH_TOKEN, text))


def new_app(outdir: Path, *, nag: bool = False, context: dict[str, Any] | None = None) -> cdk.App:
    """An app writing to `outdir`, optionally validated by cdk-nag's AwsSolutions pack."""
    app = cdk.App(outdir=str(outdir), context=context)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def synthesize_or_fail(app: cdk.App, outdir: Path, what: str) -> Any:
    """`app.synth()`; an unacknowledged cdk-nag error fails the test with the validation report."""
    try:
        return app.synth()
    except RuntimeError as error:
        report = outdir / "validation-report.json"
        details = report.read_text() if report.exists() else ""
        pytest.fail(f"synthesizing {what} failed: {error}\n{details}")


def cfn_lint_errors(template_json: dict[str, Any]) -> list[str]:
    """cfn-lint's errors (not its warnings) on a template, one line each."""
    return [
        f"{match.rule.id} {match.path_string}: {match.message}"
        for match in lint(json.dumps(template_json), regions=LINT_REGIONS)
        if match.rule.id.startswith("E")
    ]


def templates_of(assembly: Any) -> dict[str, dict[str, Any]]:
    """Every stack's template in a synthesized cloud assembly, by stack name."""
    return {stack.stack_name: stack.template for stack in assembly.stacks}


def template(templates: dict[str, dict[str, Any]], stack_name: str) -> assertions.Template:
    return assertions.Template.from_json(templates[stack_name])


def resources_of_type(template_json: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template_json["Resources"].items()
        if resource["Type"] == resource_type
    }


def nag_report(outdir: Path) -> dict[str, Any]:
    """The AwsSolutions plugin's part of the validation report cdk-nag writes into the assembly."""
    report = json.loads((outdir / "validation-report.json").read_text())
    return next(plugin for plugin in report["pluginReports"] if plugin["pluginName"] == "AwsSolutions")


def unacknowledged_errors(report: dict[str, Any]) -> list[str]:
    return [
        f"{violation['ruleName']} on {construct['constructPath']}: {violation['description']}"
        for violation in report.get("violations", [])
        if violation["severity"] == "error"
        for construct in violation["violatingConstructs"]
    ]
