"""StreamingFunction on Lambda Managed Instances: the capacity provider attached, its limits checked."""

from __future__ import annotations

import itertools
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from cdk_stream_fn import StreamingFunction
from cdk_stream_fn.emulator.app.assembly import read_assembly

from .conftest import MANAGED_INSTANCES, Scenarios
from .support import HELLO

_ids = itertools.count()
IMPORTED_ARN = "arn:aws:lambda:us-east-1:123456789012:capacity-provider:shared"


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "ManagedInstancesChecks")


def capacity_provider(stack: cdk.Stack, **props: Any) -> lambda_.CapacityProvider:
    suffix = next(_ids)
    return lambda_.CapacityProvider(
        stack,
        f"Capacity{suffix}",
        subnets=[ec2.Subnet.from_subnet_id(stack, f"Subnet{suffix}", "subnet-0123456789abcdef0")],
        security_groups=[
            ec2.SecurityGroup.from_security_group_id(stack, f"Sg{suffix}", "sg-0123456789abcdef0")
        ],
        **props,
    )


def build(stack: cdk.Stack, **props: Any) -> StreamingFunction:
    return StreamingFunction(stack, f"Stream{next(_ids)}", **{"entry": str(HELLO), **props})


def test_a_capacity_provider_of_this_app_is_attached_with_its_architecture_and_2_gib() -> None:
    stack = cdk.Stack(cdk.App(), "Attached")
    provider = capacity_provider(stack, architectures=[lambda_.Architecture.X86_64])

    StreamingFunction(
        stack,
        "Stream",
        entry=str(HELLO),
        capacity_provider=provider,
        capacity_provider_max_concurrency=32,
        capacity_provider_memory_gib_per_vcpu=4,
    )

    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Architectures": ["x86_64"],
            "MemorySize": 2048,
            "LoggingConfig": {"LogFormat": "JSON"},
            "CapacityProviderConfig": {
                "LambdaManagedInstancesCapacityProviderConfig": {
                    "CapacityProviderArn": {
                        "Fn::GetAtt": [stack.get_logical_id(provider.node.default_child), "Arn"]
                    },  # type: ignore[arg-type]
                    "PerExecutionEnvironmentMaxConcurrency": 32,
                    "ExecutionEnvironmentMemoryGiBPerVCpu": 4,
                }
            },
        },
    )


def test_an_imported_capacity_provider_is_written_on_the_function_and_means_x86_64() -> None:
    stack = cdk.Stack(cdk.App(), "Imported")
    provider = lambda_.CapacityProvider.from_capacity_provider_arn(stack, "Shared", IMPORTED_ARN)

    StreamingFunction(stack, "Stream", entry=str(HELLO), capacity_provider=provider, memory_size=4096)

    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Architectures": ["x86_64"],
            "MemorySize": 4096,
            "CapacityProviderConfig": {
                "LambdaManagedInstancesCapacityProviderConfig": {"CapacityProviderArn": IMPORTED_ARN}
            },
        },
    )


def test_without_a_capacity_provider_nothing_changes() -> None:
    stack = cdk.Stack(cdk.App(), "OnDemand")

    StreamingFunction(stack, "Stream", entry=str(HELLO))

    (function,) = Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()
    assert "CapacityProviderConfig" not in function["Properties"]
    assert (function["Properties"]["MemorySize"], function["Properties"]["Architectures"]) == (512, ["arm64"])


CASES = [
    (
        {"runtime": lambda_.Runtime.PYTHON_3_12},
        "runtime must be python3.13 or newer on Lambda Managed Instances (capacity_provider), got python3.12",
    ),
    (
        {"memory_size": 1024},
        "memory_size must be at least 2048 MiB on Lambda Managed Instances (capacity_provider), got 1024",
    ),
    (
        {"logging_format": lambda_.LoggingFormat.TEXT},
        "logging_format must be lambda_.LoggingFormat.JSON on Lambda Managed Instances (capacity_provider)",
    ),
    (
        {"architecture": lambda_.Architecture.X86_64},
        "architecture must match the capacity provider's instances (arm64), got x86_64",
    ),
    (
        {"capacity_provider_max_concurrency": 0},
        "capacity_provider_max_concurrency must be a whole number from 1 to 1600 (or None), got 0",
    ),
    (
        {"capacity_provider_max_concurrency": 1601},
        "capacity_provider_max_concurrency must be a whole number from 1 to 1600 (or None), got 1601",
    ),
    (
        {"capacity_provider_memory_gib_per_vcpu": 9},
        "capacity_provider_memory_gib_per_vcpu must be a number from 2 to 8 GiB (or None), got 9",
    ),
]


@pytest.mark.parametrize(("props", "expected"), CASES)
def test_what_managed_instances_do_not_allow_is_named(
    stack: cdk.Stack, props: dict[str, Any], expected: str
) -> None:
    provider = capacity_provider(stack, architectures=[lambda_.Architecture.ARM_64])

    with pytest.raises(ValueError) as caught:
        build(stack, capacity_provider=provider, **props)

    assert expected in str(caught.value)


def test_the_function_cannot_bring_its_own_network(stack: cdk.Stack) -> None:
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["us-east-1a"],
        private_subnet_ids=["subnet-1"],
    )
    with pytest.raises(ValueError) as caught:
        build(stack, capacity_provider=capacity_provider(stack), vpc=vpc)

    assert "vpc cannot be combined with capacity_provider" in str(caught.value)


def test_its_options_need_a_capacity_provider(stack: cdk.Stack) -> None:
    with pytest.raises(ValueError) as caught:
        build(stack, capacity_provider_max_concurrency=8)

    assert (
        "capacity_provider_max_concurrency needs a capacity_provider (Lambda Managed Instances), got 8"
        in str(caught.value)
    )


def test_serve_reads_the_scenario_as_managed_instances(scenarios: Scenarios) -> None:
    functions = [
        function
        for function in read_assembly(scenarios.outdir)
        if function.construct_path == f"{MANAGED_INSTANCES}/Stream"
    ]

    assert [function.per_environment_concurrency for function in functions] == [64]
    assert functions[0].memory_mb == 2048
