"""StreamingFunction on Lambda Managed Instances: a capacity provider, checked and attached.

With ``capacity_provider``, the function runs on the provider's EC2 instances and each execution
environment serves several invocations at once (the stream_fn runtime serves them in one process:
:mod:`stream_fn.managed_instances`). What AWS documents, and what this module therefore checks:

* Python 3.13 and later ("Lambda Managed Instances runtimes", Supported runtimes).
* At least 2 GB of memory ("The minimum supported function size is 2GB and 1 vCPU", "Best practices for
  Lambda Managed Instances"), so ``memory_size`` defaults to 2048 MiB with a capacity provider.
* JSON logs: "Functions using Lambda Managed Instances always use the structured JSON log format"
  ("Python runtime for Lambda Managed Instances"), so ``logging_format=TEXT`` is refused.
* Networking is the capacity provider's ("When you create a capacity provider, you specify: VPC
  configuration - The subnets and security groups where instances will run", "Capacity providers"), so
  ``vpc``, ``vpc_subnets`` and ``security_groups`` are refused (whether Lambda would accept a function
  ``VpcConfig`` as well is not documented).
* The function's architecture must be the provider's instances' (``InstanceRequirements.Architectures``,
  one of ``x86_64`` and ``arm64``; a provider that names none runs ``x86_64``: AWS SAM's
  ``AWS::Serverless::CapacityProvider`` ``InstanceRequirements``, "Default: x86_64"). It is checked when
  the provider is a ``CapacityProvider`` of this app, and becomes the function's default architecture.
* ``PerExecutionEnvironmentMaxConcurrency`` 1 to 1600 and ``ExecutionEnvironmentMemoryGiBPerVCpu`` 2 to 8
  (``AWS::Lambda::Function`` ``LambdaManagedInstancesCapacityProviderConfig``).

The function is attached with aws-cdk-lib's ``CapacityProvider.add_function``; a provider imported by ARN
(which has no ``add_function``) gets the same ``CapacityProviderConfig`` written on the function.
CloudFormation then creates the ``$LATEST.PUBLISHED`` version that an unqualified invocation (the function
URL's) runs ("$LATEST.PUBLISHED version in Lambda Managed Instances").
"""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_lambda as lambda_

from .validation import is_unresolved, python_minor

MIN_PYTHON_MINOR = 13
MIN_MEMORY_MIB = 2048
MAX_CONCURRENCY = 1600
MIN_MEMORY_GIB_PER_VCPU = 2
MAX_MEMORY_GIB_PER_VCPU = 8
DEFAULT_PROVIDER_ARCHITECTURE = "x86_64"


def is_capacity_provider(value: object) -> bool:
    """Whether ``value`` is a capacity provider (jsii interfaces cannot be checked with isinstance)."""
    return isinstance(value, lambda_.CapacityProvider) or (
        hasattr(value, "capacity_provider_arn") and hasattr(value, "capacity_provider_name")
    )


def provider_architecture(provider: lambda_.ICapacityProvider) -> str | None:
    """The architecture of the provider's instances when this app defines the provider, else None."""
    if not isinstance(provider, lambda_.CapacityProvider):
        return None
    resource = provider.node.default_child
    requirements = getattr(resource, "instance_requirements", None)
    architectures = getattr(requirements, "architectures", None) if requirements is not None else None
    if architectures is None:
        return DEFAULT_PROVIDER_ARCHITECTURE
    if isinstance(architectures, list) and len(architectures) == 1 and isinstance(architectures[0], str):
        return None if is_unresolved(architectures[0]) else architectures[0]
    return None


def default_architecture(provider: lambda_.ICapacityProvider) -> lambda_.Architecture:
    """The function's architecture when the user names none: the provider's instances'."""
    name = provider_architecture(provider) or DEFAULT_PROVIDER_ARCHITECTURE
    return lambda_.Architecture.ARM_64 if name == "arm64" else lambda_.Architecture.X86_64


def check_capacity_provider(
    provider: object,
    *,
    runtime: object,
    architecture: object,
    memory_size: object,
    logging_format: object,
    network: dict[str, object],
    max_concurrency: object,
    memory_gib_per_vcpu: object,
) -> list[str]:
    """Every reason the function cannot run on ``provider`` (or why its options need one)."""
    problems: list[str] = []
    if provider is None:
        for keyword, value in (
            ("capacity_provider_max_concurrency", max_concurrency),
            ("capacity_provider_memory_gib_per_vcpu", memory_gib_per_vcpu),
        ):
            if value is not None:
                problems.append(
                    f"{keyword} needs a capacity_provider (Lambda Managed Instances), got {value!r}"
                )
        return problems
    if not is_capacity_provider(provider):
        return [
            (
                "capacity_provider must be a lambda_.ICapacityProvider (lambda_.CapacityProvider, or one "
                f"imported with CapacityProvider.from_capacity_provider_arn), got {provider!r}"
            )
        ]
    if isinstance(runtime, lambda_.Runtime):
        minor = python_minor(runtime)
        if minor is not None and minor < MIN_PYTHON_MINOR:
            problems.append(
                f"runtime must be python3.{MIN_PYTHON_MINOR} or newer on Lambda Managed Instances "
                f"(capacity_provider), got {runtime.name}"
            )
    if isinstance(memory_size, int) and not is_unresolved(memory_size) and memory_size < MIN_MEMORY_MIB:
        problems.append(
            f"memory_size must be at least {MIN_MEMORY_MIB} MiB on Lambda Managed Instances (capacity_provider), "
            f"got {memory_size}"
        )
    if logging_format == lambda_.LoggingFormat.TEXT:
        problems.append(
            "logging_format must be lambda_.LoggingFormat.JSON on Lambda Managed Instances (capacity_provider): "
            "their logs are always JSON, got TEXT"
        )
    for keyword, value in network.items():
        if value is not None:
            problems.append(
                f"{keyword} cannot be combined with capacity_provider: a Managed Instances function runs in its "
                "capacity provider's subnets and security groups"
            )
    wanted = provider_architecture(provider)  # type: ignore[arg-type]
    if isinstance(architecture, lambda_.Architecture) and wanted is not None and architecture.name != wanted:
        problems.append(
            f"architecture must match the capacity provider's instances ({wanted}), got {architecture.name}"
        )
    problems += _check_number(
        "capacity_provider_max_concurrency", max_concurrency, 1, MAX_CONCURRENCY, whole=True, unit=""
    )
    problems += _check_number(
        "capacity_provider_memory_gib_per_vcpu",
        memory_gib_per_vcpu,
        MIN_MEMORY_GIB_PER_VCPU,
        MAX_MEMORY_GIB_PER_VCPU,
        whole=False,
        unit=" GiB",
    )
    return problems


def _check_number(
    keyword: str, value: object, low: float, high: float, *, whole: bool, unit: str
) -> list[str]:
    if value is None or is_unresolved(value):
        return []
    kinds: tuple[type, ...] = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= float(value) <= high:  # type: ignore[arg-type]
        what = "a whole number" if whole else "a number"
        return [f"{keyword} must be {what} from {low:g} to {high:g}{unit} (or None), got {value!r}"]
    return []


def attach(
    function: lambda_.Function,
    provider: lambda_.ICapacityProvider,
    *,
    max_concurrency: int | None,
    memory_gib_per_vcpu: float | None,
) -> None:
    """Run ``function`` on ``provider``, with aws-cdk-lib's ``add_function`` where the provider has it."""
    if isinstance(provider, lambda_.CapacityProvider):
        provider.add_function(
            function,
            per_execution_environment_max_concurrency=max_concurrency,
            execution_environment_memory_gib_per_v_cpu=memory_gib_per_vcpu,
        )
        return
    resource: Any = function.node.default_child
    resource.capacity_provider_config = lambda_.CfnFunction.CapacityProviderConfigProperty(
        lambda_managed_instances_capacity_provider_config=(
            lambda_.CfnFunction.LambdaManagedInstancesCapacityProviderConfigProperty(
                capacity_provider_arn=provider.capacity_provider_arn,
                per_execution_environment_max_concurrency=max_concurrency,
                execution_environment_memory_gib_per_v_cpu=memory_gib_per_vcpu,
            )
        )
    )
