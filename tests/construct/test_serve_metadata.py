"""The cloud-assembly contract `cdk-stream-fn serve` reads (docs/architecture.md)."""

from __future__ import annotations

from .conftest import SCENARIOS, Scenarios
from .support import HELLO, resources_of_type


def test_every_function_names_its_code_asset_and_construct(scenarios: Scenarios) -> None:
    for scenario in SCENARIOS:
        (function,) = resources_of_type(scenarios.templates[scenario], "AWS::Lambda::Function").values()
        metadata = function["Metadata"]["cdk-stream-fn"]
        assert metadata["version"] == 2
        assert metadata["constructPath"] == f"{scenario}/Stream"
        code = scenarios.outdir / metadata["codeAssetPath"]
        assert not metadata["codeAssetPath"].startswith("/"), "relative to the assembly directory"
        handler_module = function["Properties"]["Handler"].rsplit(".", 1)[0].replace(".", "/")
        assert (code / f"{handler_module}.py").is_file()
        assert "streamify_response" in (code / f"{handler_module}.py").read_text()


def test_only_streaming_functions_carry_the_key(scenarios: Scenarios) -> None:
    """The nag control's plain Function is not something `serve` should pick up."""
    plain = resources_of_type(scenarios.templates["NagControl"], "AWS::Lambda::Function")
    assert plain and all("cdk-stream-fn" not in function.get("Metadata", {}) for function in plain.values())


def test_every_function_names_its_entry_relative_to_the_assembly(scenarios: Scenarios) -> None:
    """`serve` runs the code from its source directory: the entry, found from the assembly directory
    as the asset is, and written without this machine's absolute path."""
    for scenario in SCENARIOS:
        (function,) = resources_of_type(scenarios.templates[scenario], "AWS::Lambda::Function").values()
        entry = function["Metadata"]["cdk-stream-fn"]["entry"]
        assert not entry.startswith("/") and "\\" not in entry
        assert (scenarios.outdir / entry).resolve() == HELLO.resolve()
