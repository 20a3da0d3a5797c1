"""Reading a CDK cloud assembly: every function `StreamingFunction` made, ready to serve.

The contract (docs/architecture.md): each such `AWS::Lambda::Function` carries resource metadata
`"cdk-stream-fn": {"version": 2, "codeAssetPath": ..., "constructPath": ..., "entry": ...}`, the paths
being relative to the assembly directory (version 1 had no `entry`). Everything else comes from the
template's properties: Handler, Environment, Timeout, MemorySize, Runtime, Architectures, LoggingConfig,
FunctionName, SnapStart, the `CapacityProviderConfig` of Lambda Managed Instances (its per-environment
concurrency), and the `AWS::Lambda::Url` that targets the function (or an `AWS::Lambda::Alias`
of it, as with SnapStart, since a URL cannot target a version). Nested assemblies (stages) are read too.
A value only known at deploy time (a token such as `{"Ref": ...}`) is left out with a warning naming it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cdk_stream_fn.contract import METADATA_KEY, READABLE_METADATA_VERSIONS
from cdk_stream_fn.emulator import limits
from cdk_stream_fn.emulator.sandboxes.config import CorsSettings, FunctionConfig

#: Lambda Managed Instances' defaults for a Python function (see `_per_environment_concurrency`).
PYTHON_CONCURRENCY_PER_VCPU = 16
DEFAULT_MEMORY_GIB_PER_VCPU = 2.0
#: Lambda's architectures; a function without `Architectures` runs on x86_64 (CloudFormation's default).
ARCHITECTURES = ("x86_64", "arm64")
DEFAULT_ARCHITECTURE = "x86_64"

Warn = Callable[[str], None]


class AssemblyError(Exception):
    """The directory is not a usable cloud assembly, or a function in it cannot be served."""


@dataclass(frozen=True)
class AppFunction:
    """One function of the app: its configuration as synthesized (`code_dir` is its code asset), the
    entry directory its code comes from (None: metadata version 1, or an entry no longer where the
    assembly says), and the architecture it is deployed on."""

    config: FunctionConfig
    entry: Path | None = None
    architecture: str = DEFAULT_ARCHITECTURE


@dataclass(frozen=True)
class _Stack:
    name: str
    template: dict[str, Any]
    assembly_dir: Path


def read_assembly(
    directory: Path, *, region: str = "us-east-1", warn: Warn = lambda _: None
) -> list[FunctionConfig]:
    """The functions to serve from the cloud assembly in `directory` (a `cdk.out`), from their assets."""
    return [function.config for function in read_app_functions(directory, region=region, warn=warn)]


def read_app_functions(
    directory: Path, *, region: str = "us-east-1", warn: Warn = lambda _: None
) -> list[AppFunction]:
    """Every StreamingFunction in the cloud assembly in `directory`, with where its code comes from."""
    functions = [
        function
        for stack in _stacks(directory)
        for function in _functions_of(stack, region=region, warn=warn)
    ]
    configs = _with_short_aliases([function.config for function in functions])
    return [replace(function, config=config) for function, config in zip(functions, configs)]


def _stacks(directory: Path) -> Iterator[_Stack]:
    manifest_file = directory / "manifest.json"
    try:
        manifest = json.loads(manifest_file.read_text())
    except FileNotFoundError:
        raise AssemblyError(f"{directory} is not a cloud assembly: it has no manifest.json") from None
    except ValueError as error:
        raise AssemblyError(f"{manifest_file} is not valid JSON: {error}") from None
    for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
        properties = artifact.get("properties") or {}
        if artifact.get("type") == "aws:cloudformation:stack":
            template_file = directory / properties["templateFile"]
            try:
                template = json.loads(template_file.read_text())
            except (OSError, ValueError) as error:
                raise AssemblyError(f"cannot read the template of stack {artifact_id}: {error}") from None
            yield _Stack(properties.get("stackName") or artifact_id, template, directory)
        elif artifact.get("type") == "cdk:cloud-assembly":
            yield from _stacks(directory / properties["directoryName"])


def _functions_of(stack: _Stack, *, region: str, warn: Warn) -> Iterator[AppFunction]:
    resources: dict[str, Any] = stack.template.get("Resources") or {}
    urls = _urls_by_target(resources)
    for logical_id, resource in resources.items():
        metadata = (resource.get("Metadata") or {}).get(METADATA_KEY)
        if resource.get("Type") != "AWS::Lambda::Function" or metadata is None:
            continue
        label = metadata.get("constructPath") or f"{stack.name}/{logical_id}"
        version = metadata.get("version")
        if version not in READABLE_METADATA_VERSIONS:
            raise AssemblyError(
                f"{label}: cdk-stream-fn metadata version {version!r} is not supported by this emulator "
                f"(supported: {sorted(READABLE_METADATA_VERSIONS)}); upgrade cdk-stream-fn"
            )
        properties = resource.get("Properties") or {}
        code_dir = stack.assembly_dir / str(metadata.get("codeAssetPath", ""))
        if not metadata.get("codeAssetPath") or not code_dir.is_dir():
            raise AssemblyError(
                f"{label}: code asset directory {code_dir} is missing; synthesize the app again"
            )
        handler = properties.get("Handler")
        if not isinstance(handler, str):
            raise AssemblyError(f"{label}: Handler must be a plain string in the template, got {handler!r}")
        url = urls.get(logical_id)
        logging_config = properties.get("LoggingConfig") or {}
        name = _name(properties.get("FunctionName"), label)
        memory_mb = int(_number(properties, "MemorySize", limits.DEFAULT_MEMORY_MB, label, warn))
        config = FunctionConfig(
            name=name,
            handler=handler,
            code_dir=code_dir,
            environment=_environment(properties, label, warn),
            timeout_seconds=_number(properties, "Timeout", limits.DEFAULT_TIMEOUT_SECONDS, label, warn),
            memory_mb=memory_mb,
            runtime=properties.get("Runtime") if isinstance(properties.get("Runtime"), str) else None,
            region=region,
            log_format=_literal(logging_config.get("LogFormat")) or "Text",
            log_level=_literal(logging_config.get("ApplicationLogLevel")),
            auth_type=_literal((url or {}).get("AuthType")) or "AWS_IAM",
            invoke_mode=_literal((url or {}).get("InvokeMode")) or "BUFFERED",
            has_url=url is not None,
            cors=_cors((url or {}).get("Cors"), label, warn),
            reserved_concurrency=_reserved_concurrency(properties, label, warn),
            snap_start=_snap_start(properties, label, warn),
            per_environment_concurrency=_per_environment_concurrency(properties, memory_mb, label, warn),
            construct_path=label,
            aliases=tuple(
                dict.fromkeys(a for a in (logical_id, f"{stack.name}-{logical_id}", label) if a != name)
            ),
        )
        yield AppFunction(
            config,
            entry=_entry(metadata, stack.assembly_dir, label, warn),
            architecture=_architecture(properties, label, warn),
        )


def _entry(metadata: dict[str, Any], assembly_dir: Path, label: str, warn: Warn) -> Path | None:
    """The function's source directory (metadata version 2), if it is still where the assembly says."""
    entry = metadata.get("entry")
    if not isinstance(entry, str) or not entry:
        return None
    directory = (assembly_dir / entry).resolve()
    if not directory.is_dir():
        warn(
            f"{label}: its entry {directory} is not there (was the assembly moved?); serving its code asset "
            "as synthesized, where edits take effect only after a new synthesis"
        )
        return None
    return directory


def _architecture(properties: dict[str, Any], label: str, warn: Warn) -> str:
    """`Architectures` (one of x86_64, arm64); CloudFormation's default, x86_64, without it."""
    architectures = properties.get("Architectures")
    if architectures is None:
        return DEFAULT_ARCHITECTURE
    if isinstance(architectures, list) and len(architectures) == 1 and architectures[0] in ARCHITECTURES:
        return str(architectures[0])
    warn(f"{label}: Architectures is {json.dumps(architectures)}, not known here; taking x86_64")
    return DEFAULT_ARCHITECTURE


def _urls_by_target(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`AWS::Lambda::Url` properties by the logical id of the function they target, directly or through
    an `AWS::Lambda::Alias` (whose `FunctionName` refers to the function)."""
    aliased = {
        logical_id: _referenced((resource.get("Properties") or {}).get("FunctionName"))
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::Lambda::Alias"
    }
    found = {}
    for resource in resources.values():
        if resource.get("Type") != "AWS::Lambda::Url":
            continue
        properties = resource.get("Properties") or {}
        target = _referenced(properties.get("TargetFunctionArn"))
        if target is not None:
            found[aliased.get(target) or target] = properties
    return found


def _referenced(value: object) -> str | None:
    """The logical id a `{"Ref": ...}` or `{"Fn::GetAtt": [...]}` names, else None."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
        if "Ref" in value:
            return str(value["Ref"])
    return None


def _snap_start(properties: dict[str, Any], label: str, warn: Warn) -> bool:
    """`SnapStart: {ApplyOn: PublishedVersions}` turns SnapStart on (`None`, the default, leaves it off)."""
    apply_on = (properties.get("SnapStart") or {}).get("ApplyOn")
    if apply_on is None or apply_on == "None":
        return False
    if apply_on == "PublishedVersions":
        return True
    warn(
        f"{label}: SnapStart ApplyOn is {json.dumps(apply_on)}, not a value known here; SnapStart is off locally"
    )
    return False


def _cors(cors: object, label: str, warn: Warn) -> CorsSettings | None:
    """The URL's `Cors` property (AllowOrigins, AllowMethods, AllowHeaders, ExposeHeaders, MaxAge,
    AllowCredentials), or None without one. An entry known only at deploy time is left out, with a warning."""
    if not isinstance(cors, dict):
        return None

    def strings(key: str) -> tuple[str, ...]:
        values = cors.get(key) or []
        if not isinstance(values, list):
            values = [values]
        kept = []
        for value in values:
            if isinstance(value, str):
                kept.append(value)
            else:
                warn(
                    f"{label}: function URL Cors {key} entry {json.dumps(value)} is known only at deploy "
                    "time; it is left out locally"
                )
        return tuple(kept)

    max_age = cors.get("MaxAge")
    return CorsSettings(
        allow_origins=strings("AllowOrigins"),
        allow_methods=strings("AllowMethods"),
        allow_headers=strings("AllowHeaders"),
        expose_headers=strings("ExposeHeaders"),
        max_age=max_age if isinstance(max_age, int) and not isinstance(max_age, bool) else None,
        allow_credentials=cors.get("AllowCredentials") is True,
    )


def _reserved_concurrency(properties: dict[str, Any], label: str, warn: Warn) -> int | None:
    """`ReservedConcurrentExecutions`: how many invocations may run at once before Lambda throttles."""
    if "ReservedConcurrentExecutions" not in properties:
        return None
    value = properties["ReservedConcurrentExecutions"]
    if isinstance(value, bool) or not isinstance(value, int):
        warn(
            f"{label}: ReservedConcurrentExecutions is {json.dumps(value)}, known only at deploy time; "
            "no concurrency limit locally"
        )
        return None
    return value


def _per_environment_concurrency(
    properties: dict[str, Any], memory_mb: int, label: str, warn: Warn
) -> int | None:
    """For a function on Lambda Managed Instances (`CapacityProviderConfig`), how many invocations one
    execution environment takes at once; None for an on-demand function.

    `LambdaManagedInstancesCapacityProviderConfig.PerExecutionEnvironmentMaxConcurrency` when the template
    sets it; otherwise Lambda's default for Python, "16 concurrent requests per vCPU" ("Python runtime for
    Lambda Managed Instances"), the vCPUs being the memory over `ExecutionEnvironmentMemoryGiBPerVCpu`
    (2 GiB by default: `AWS::Lambda::Function` `LambdaManagedInstancesCapacityProviderConfig`).
    """
    config = properties.get("CapacityProviderConfig")
    if config is None:
        return None
    managed = (
        (config or {}).get("LambdaManagedInstancesCapacityProviderConfig")
        if isinstance(config, dict)
        else None
    )
    if not isinstance(managed, dict):
        warn(
            f"{label}: CapacityProviderConfig is {json.dumps(config)}, without a "
            "LambdaManagedInstancesCapacityProviderConfig this emulator knows; serving it on-demand"
        )
        return None
    memory_per_vcpu = managed.get("ExecutionEnvironmentMemoryGiBPerVCpu", DEFAULT_MEMORY_GIB_PER_VCPU)
    if (
        isinstance(memory_per_vcpu, bool)
        or not isinstance(memory_per_vcpu, (int, float))
        or memory_per_vcpu <= 0
    ):
        memory_per_vcpu = DEFAULT_MEMORY_GIB_PER_VCPU
    default = PYTHON_CONCURRENCY_PER_VCPU * max(1, int(memory_mb / 1024 / memory_per_vcpu))
    value = managed.get("PerExecutionEnvironmentMaxConcurrency", default)
    if isinstance(value, bool) or not isinstance(value, int):
        warn(
            f"{label}: PerExecutionEnvironmentMaxConcurrency is {json.dumps(value)}, known only at deploy time; "
            f"{default} per environment locally"
        )
        return default
    return value


def _name(function_name: object, label: str) -> str:
    """The deployed name when the template fixes it; otherwise the construct path, dashed."""
    if isinstance(function_name, str):
        return function_name
    return label.replace("/", "-")[:64]


def _environment(properties: dict[str, Any], label: str, warn: Warn) -> dict[str, str]:
    variables = ((properties.get("Environment") or {}).get("Variables")) or {}
    environment = {}
    for key, value in variables.items():
        literal = _literal(value)
        if literal is None:
            warn(
                f"{label}: environment variable {key} is {json.dumps(value)}, known only at deploy time; "
                f"it is not set locally (pass --env {key}=... to set it)"
            )
            continue
        environment[key] = literal
    return environment


def _literal(value: object) -> str | None:
    """A template value as the string Lambda would see, or None for a token (Ref, Fn::...)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _number(properties: dict[str, Any], key: str, default: float, label: str, warn: Warn) -> float:
    value = properties.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        warn(f"{label}: {key} is {json.dumps(value)}, known only at deploy time; using {default} locally")
        return default
    return value


def _with_short_aliases(functions: list[FunctionConfig]) -> list[FunctionConfig]:
    """Let each function also be called by its construct id ("Clock") when that is unambiguous."""
    short = [(f.construct_path or f.name).rsplit("/", 1)[-1] for f in functions]
    taken = {f.name for f in functions} | {a for f in functions for a in f.aliases}
    return [
        replace(function, aliases=(*function.aliases, alias))
        if short.count(alias) == 1 and alias not in taken
        else function
        for function, alias in zip(functions, short)
    ]
