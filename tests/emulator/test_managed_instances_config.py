"""What a Managed Instances function's runtime is told, and what the emulator refuses in its configuration."""

from __future__ import annotations

from pathlib import Path

from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig, lambda_environment

FUNCTIONS = Path(__file__).parent / "functions"


def test_the_runtime_is_told_it_serves_several_invocations_at_once() -> None:
    config = FunctionConfig("fn", "managed.async_events", FUNCTIONS, per_environment_concurrency=64)

    environment = lambda_environment(config, "127.0.0.1:9001", host_environment={})

    assert environment["AWS_LAMBDA_MAX_CONCURRENCY"] == "64"
    assert environment["AWS_LAMBDA_INITIALIZATION_TYPE"] == "lambda-managed-instances"
    assert environment["AWS_LAMBDA_LOG_FORMAT"] == "JSON"
    assert environment["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST.PUBLISHED"


def test_an_on_demand_runtime_is_told_nothing_of_it() -> None:
    config = FunctionConfig("fn", "managed.async_events", FUNCTIONS, log_format="Text")

    environment = lambda_environment(config, "127.0.0.1:9001", host_environment={})

    assert "AWS_LAMBDA_MAX_CONCURRENCY" not in environment
    assert environment["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert environment["AWS_LAMBDA_LOG_FORMAT"] == "Text"


def test_a_per_environment_concurrency_outside_lambdas_range_is_named() -> None:
    for value in (0, 1601):
        config = FunctionConfig("fn", "managed.async_events", FUNCTIONS, per_environment_concurrency=value)
        assert config.problems() == [
            (
                "fn: per-environment concurrency (PerExecutionEnvironmentMaxConcurrency) must be between 1 and "
                f"1600, got {value}"
            )
        ]
