"""Whole-template snapshots of the scenarios, through one normalizing function."""

from __future__ import annotations

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from .conftest import SCENARIOS, Scenarios
from .support import ASSET_HASH_TOKEN, ENTRY_TOKEN, FUNCTION_HASH_TOKEN, normalize_template

HASH_A = "a" * 64
HASH_B = "0123456789abcdef" * 4


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_template_matches_snapshot(
    scenarios: Scenarios, scenario: str, snapshot_json: SnapshotAssertion
) -> None:
    assert normalize_template(scenarios.templates[scenario]) == snapshot_json


def test_normalize_replaces_asset_hashes_in_keys_and_nested_values() -> None:
    template = {
        "Resources": {
            f"Asset{HASH_A}": {"Properties": {"S3Key": f"{HASH_B}.zip", "List": [f"asset.{HASH_A}", 3, None]}}
        },
        "Metadata": {"codeAssetPath": f"asset.{HASH_B}"},
    }
    assert normalize_template(template) == {
        "Resources": {
            f"Asset{ASSET_HASH_TOKEN}": {
                "Properties": {
                    "S3Key": f"{ASSET_HASH_TOKEN}.zip",
                    "List": [f"asset.{ASSET_HASH_TOKEN}", 3, None],
                }
            }
        },
        "Metadata": {"codeAssetPath": f"asset.{ASSET_HASH_TOKEN}"},
    }


def test_normalize_leaves_shorter_hex_and_logical_ids_alone() -> None:
    template = {
        "StreamFunction0E605769": {"CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "Sha": "f" * 40}
    }
    assert normalize_template(template) == template


def test_normalize_does_not_cut_a_longer_hex_run() -> None:
    longer = "b" * 65
    assert normalize_template({"Value": longer}) == {"Value": longer}


def test_normalize_replaces_the_function_hash_of_a_published_version() -> None:
    logical_id = "StreamFunctionCurrentVersion31531D2De3ebb038b0b24e8f0b5001c88818591a"
    template = {logical_id: {"FunctionVersion": {"Fn::GetAtt": [logical_id, "Version"]}}}
    normalized_id = f"StreamFunctionCurrentVersion31531D2D{FUNCTION_HASH_TOKEN}"
    assert normalize_template(template) == {
        normalized_id: {"FunctionVersion": {"Fn::GetAtt": [normalized_id, "Version"]}}
    }


def test_normalize_keeps_only_the_name_of_the_entry_in_the_serve_metadata() -> None:
    metadata = {"constructPath": "S/F", "entry": "../../../../home/me/app/functions/chat"}
    assert normalize_template({"cdk-stream-fn": metadata}) == {
        "cdk-stream-fn": {"constructPath": "S/F", "entry": f"{ENTRY_TOKEN}/chat"}
    }
    assert normalize_template({"entry": "../functions/chat"}) == {"entry": "../functions/chat"}
