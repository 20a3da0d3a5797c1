"""Reading cloud assemblies: stacks, nested stages, tokens, and the errors a user can act on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdk_stream_fn.emulator.app.assembly import AssemblyError, read_app_functions, read_assembly


def function_resource(asset: str = "asset.abc", **properties: object) -> dict:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {"Handler": "index.handler", "Runtime": "python3.13", **properties},
        "Metadata": {"cdk-stream-fn": {"version": 1, "codeAssetPath": asset, "constructPath": "Stack/Api"}},
    }


def write_assembly(directory: Path, resources: dict, *, nested: dict | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "asset.abc").mkdir(exist_ok=True)
    (directory / "Stack.template.json").write_text(json.dumps({"Resources": resources}))
    artifacts: dict = {
        "Stack": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "Stack.template.json"}},
        "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}},
    }
    if nested:
        for name, nested_resources in nested.items():
            write_assembly(directory / f"assembly-{name}", nested_resources)
            artifacts[f"assembly-{name}"] = {
                "type": "cdk:cloud-assembly",
                "properties": {"directoryName": f"assembly-{name}", "displayName": name},
            }
    (directory / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))
    return directory


def test_a_function_with_its_url_reads_completely(tmp_path: Path) -> None:
    assembly = write_assembly(
        tmp_path,
        {
            "ApiFunction1234": function_resource(
                Timeout=30,
                MemorySize=1024,
                FunctionName="my-api",
                Environment={"Variables": {"MODE": "prod", "RETRIES": 3, "DEBUG": False}},
                LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"},
            ),
            "ApiUrl": {
                "Type": "AWS::Lambda::Url",
                "Properties": {
                    "AuthType": "NONE",
                    "InvokeMode": "RESPONSE_STREAM",
                    "TargetFunctionArn": {"Fn::GetAtt": ["ApiFunction1234", "Arn"]},
                },
            },
            "Unrelated": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "x.y"}},
        },
    )

    (function,) = read_assembly(assembly, region="ap-south-1")

    assert function.name == "my-api"
    assert function.handler == "index.handler"
    assert function.code_dir == assembly / "asset.abc"
    assert (function.timeout_seconds, function.memory_mb, function.runtime) == (30, 1024, "python3.13")
    assert function.environment == {"MODE": "prod", "RETRIES": "3", "DEBUG": "false"}
    assert (function.log_format, function.log_level) == ("JSON", "DEBUG")
    assert (function.has_url, function.auth_type, function.invoke_mode) == (True, "NONE", "RESPONSE_STREAM")
    assert function.region == "ap-south-1"
    assert set(function.aliases) >= {"ApiFunction1234", "Stack-ApiFunction1234", "Stack/Api", "Api"}


def test_tokens_are_left_out_with_a_warning_that_names_them(tmp_path: Path) -> None:
    warnings: list[str] = []
    assembly = write_assembly(
        tmp_path,
        {
            "F": function_resource(
                Environment={"Variables": {"TABLE": {"Ref": "Table"}, "PLAIN": "x"}},
                Timeout={"Ref": "TimeoutParam"},
            )
        },
    )

    (function,) = read_assembly(assembly, warn=warnings.append)

    assert function.environment == {"PLAIN": "x"}
    assert function.timeout_seconds == 3
    assert any("TABLE" in w and '{"Ref": "Table"}' in w and "--env TABLE=" in w for w in warnings)
    assert any("Timeout" in w for w in warnings)
    assert function.name == "Stack-Api"
    assert not function.has_url


def test_nested_stage_assemblies_are_read(tmp_path: Path) -> None:
    assembly = write_assembly(tmp_path, {}, nested={"Prod": {"F": function_resource()}})

    (function,) = read_assembly(assembly)

    assert function.code_dir == assembly / "assembly-Prod" / "asset.abc"


def test_a_missing_asset_directory_says_to_synthesize_again(tmp_path: Path) -> None:
    assembly = write_assembly(tmp_path, {"F": function_resource(asset="asset.gone")})

    with pytest.raises(
        AssemblyError, match="code asset directory .*asset.gone is missing; synthesize the app again"
    ):
        read_assembly(assembly)


def test_an_unknown_metadata_version_asks_for_an_upgrade(tmp_path: Path) -> None:
    resource = function_resource()
    resource["Metadata"]["cdk-stream-fn"]["version"] = 3
    assembly = write_assembly(tmp_path, {"F": resource})

    with pytest.raises(AssemblyError, match="metadata version 3 is not supported .* upgrade cdk-stream-fn"):
        read_assembly(assembly)


def test_version_2_names_the_entry_relative_to_the_assembly_and_the_architecture_is_read(
    tmp_path: Path,
) -> None:
    entry = tmp_path / "functions" / "chat"
    entry.mkdir(parents=True)
    resource = function_resource(Architectures=["arm64"])
    resource["Metadata"]["cdk-stream-fn"].update(version=2, entry="../functions/chat")
    nested = function_resource()
    nested["Metadata"]["cdk-stream-fn"].update(version=2, entry="../../functions/chat")
    assembly = write_assembly(tmp_path / "cdk.out", {"F": resource}, nested={"Dev": {"G": nested}})

    functions = read_app_functions(assembly)

    assert [(f.entry, f.architecture) for f in functions] == [(entry, "arm64"), (entry, "x86_64")]
    assert [f.config.code_dir for f in functions] == [
        assembly / "asset.abc",
        assembly / "assembly-Dev" / "asset.abc",
    ]


def test_version_1_and_a_moved_entry_are_served_from_the_asset(tmp_path: Path) -> None:
    moved = function_resource()
    moved["Metadata"]["cdk-stream-fn"].update(version=2, entry="../functions/gone")
    warnings: list[str] = []
    assembly = write_assembly(tmp_path / "cdk.out", {"Old": function_resource(), "Moved": moved})

    functions = read_app_functions(assembly, warn=warnings.append)

    assert [f.entry for f in functions] == [None, None]
    assert len(warnings) == 1
    assert "Stack/Api: its entry" in warnings[0] and "gone is not there" in warnings[0]
    assert "serving its code asset as synthesized" in warnings[0]


def test_an_architecture_known_only_at_deploy_time_is_named(tmp_path: Path) -> None:
    warnings: list[str] = []
    resource = function_resource(Architectures=[{"Ref": "Arch"}])
    assembly = write_assembly(tmp_path, {"F": resource})

    (function,) = read_app_functions(assembly, warn=warnings.append)

    assert function.architecture == "x86_64"
    assert warnings == ['Stack/Api: Architectures is [{"Ref": "Arch"}], not known here; taking x86_64']


def test_a_directory_without_a_manifest_is_not_an_assembly(tmp_path: Path) -> None:
    with pytest.raises(AssemblyError, match="is not a cloud assembly: it has no manifest.json"):
        read_assembly(tmp_path)


def test_the_url_cors_and_reserved_concurrency_are_read(tmp_path: Path) -> None:
    warnings: list[str] = []
    assembly = write_assembly(
        tmp_path,
        {
            "ApiFunction1234": function_resource(ReservedConcurrentExecutions=2),
            "ApiUrl": {
                "Type": "AWS::Lambda::Url",
                "Properties": {
                    "AuthType": "AWS_IAM",
                    "TargetFunctionArn": {"Fn::GetAtt": ["ApiFunction1234", "Arn"]},
                    "Cors": {
                        "AllowOrigins": ["http://localhost:5173", {"Fn::GetAtt": ["Site", "Url"]}],
                        "AllowMethods": ["GET", "POST"],
                        "AllowHeaders": ["content-type"],
                        "ExposeHeaders": ["x-request-id"],
                        "MaxAge": 300,
                        "AllowCredentials": True,
                    },
                },
            },
        },
    )

    (function,) = read_assembly(assembly, warn=warnings.append)

    assert function.reserved_concurrency == 2
    assert function.cors is not None
    assert function.cors.allow_origins == ("http://localhost:5173",)
    assert function.cors.allow_methods == ("GET", "POST")
    assert function.cors.allow_headers == ("content-type",)
    assert function.cors.expose_headers == ("x-request-id",)
    assert (function.cors.max_age, function.cors.allow_credentials) == (300, True)
    assert warnings == [
        (
            'Stack/Api: function URL Cors AllowOrigins entry {"Fn::GetAtt": ["Site", "Url"]} is known only at '
            "deploy time; it is left out locally"
        )
    ]


def test_without_cors_or_reservation_nothing_is_added_and_a_token_reservation_is_named(
    tmp_path: Path,
) -> None:
    warnings: list[str] = []
    assembly = write_assembly(
        tmp_path, {"ApiFunction1234": function_resource(ReservedConcurrentExecutions={"Ref": "Limit"})}
    )

    (function,) = read_assembly(assembly, warn=warnings.append)

    assert (function.cors, function.reserved_concurrency) == (None, None)
    assert warnings == [
        (
            'Stack/Api: ReservedConcurrentExecutions is {"Ref": "Limit"}, known only at deploy time; '
            "no concurrency limit locally"
        )
    ]


def capacity_provider_config(**settings: object) -> dict:
    arn = {"Fn::GetAtt": ["CapacityProvider1234", "Arn"]}  # a token, as CDK writes it
    return {"LambdaManagedInstancesCapacityProviderConfig": {"CapacityProviderArn": arn, **settings}}


def test_a_managed_instances_function_reads_its_per_environment_concurrency(tmp_path: Path) -> None:
    assembly = write_assembly(
        tmp_path,
        {
            "Fixed": function_resource(
                MemorySize=4096,
                CapacityProviderConfig=capacity_provider_config(PerExecutionEnvironmentMaxConcurrency=64),
            ),
            "Defaulted": function_resource(
                MemorySize=4096, CapacityProviderConfig=capacity_provider_config()
            ),
            "MoreMemoryPerVcpu": function_resource(
                MemorySize=8192,
                CapacityProviderConfig=capacity_provider_config(ExecutionEnvironmentMemoryGiBPerVCpu=8),
            ),
            "OnDemand": function_resource(MemorySize=4096),
        },
    )

    functions = {f.aliases[0]: f for f in read_assembly(assembly)}

    assert functions["Fixed"].per_environment_concurrency == 64
    assert functions["Defaulted"].per_environment_concurrency == 32  # 16 per vCPU, 4 GiB at 2 GiB per vCPU
    assert functions["MoreMemoryPerVcpu"].per_environment_concurrency == 16  # 8 GiB at 8 GiB per vCPU
    assert functions["OnDemand"].per_environment_concurrency is None
    assert functions["Fixed"].managed_instances and not functions["OnDemand"].managed_instances


def test_a_per_environment_concurrency_known_at_deploy_time_is_named(tmp_path: Path) -> None:
    warnings: list[str] = []
    token = {"Ref": "Concurrency"}
    assembly = write_assembly(
        tmp_path,
        {
            "Fn": function_resource(
                MemorySize=2048,
                CapacityProviderConfig=capacity_provider_config(PerExecutionEnvironmentMaxConcurrency=token),
            )
        },
    )

    (function,) = read_assembly(assembly, warn=warnings.append)

    assert function.per_environment_concurrency == 16
    assert warnings == [
        (
            'Stack/Api: PerExecutionEnvironmentMaxConcurrency is {"Ref": "Concurrency"}, known only at deploy '
            "time; 16 per environment locally"
        )
    ]
