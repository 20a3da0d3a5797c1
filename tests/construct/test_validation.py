"""Bad props fail at construction: one ValueError naming each keyword, its value and what is allowed."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from cdk_stream_fn import CloudFrontOptions, StreamingFunction

from .support import HELLO

_ids = itertools.count()


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Validation")


def build(stack: cdk.Stack, **props: Any) -> StreamingFunction:
    return StreamingFunction(stack, f"Stream{next(_ids)}", **{"entry": str(HELLO), **props})


def problems(stack: cdk.Stack, **props: Any) -> str:
    with pytest.raises(ValueError) as caught:
        build(stack, **props)
    return str(caught.value)


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"memory_size": 64}, "memory_size must be between 128 and 10240 MiB, got 64"),
        ({"memory_size": 20_000}, "memory_size must be between 128 and 10240 MiB, got 20000"),
        ({"memory_size": "512"}, "memory_size must be a whole number of MiB, got '512' (str)"),
        (
            {"timeout": cdk.Duration.minutes(16)},
            "timeout must be whole seconds from 1 second to 15 minutes, got 16 minutes",
        ),
        (
            {"timeout": cdk.Duration.millis(1500)},
            "timeout must be whole seconds from 1 second to 15 minutes, got 1 second 500 millis",
        ),
        ({"timeout": 30}, "timeout must be an aws_cdk.Duration, got 30 (int)"),
        ({"handler": "index"}, "handler must be 'module.function' or 'package/module.function'"),
        ({"handler": "missing.handler"}, "handler 'missing.handler' names module 'missing', but entry"),
        ({"handler": "index.serve"}, "handler 'index.serve' names function 'serve', but"),
        (
            {"runtime": lambda_.Runtime.PYTHON_3_11},
            "runtime must be a managed Python runtime from python3.12 on",
        ),
        ({"runtime": lambda_.Runtime.NODEJS_22_X}, "got nodejs22.x"),
        (
            {"environment": {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/other"}},
            "environment must not set AWS_LAMBDA_EXEC_WRAPPER",
        ),
        ({"environment": {"AWS_REGION": "eu-west-1"}}, "environment must not set AWS_REGION"),
        ({"environment": {"1BAD": "x"}}, "environment keys must be letters, digits and underscores"),
        ({"environment": {"PORT": 8080}}, "environment['PORT'] must be a str, got 8080 (int)"),
        (
            {"function_name": "has spaces"},
            "function_name must be 1 to 64 letters, digits, hyphens or underscores",
        ),
        ({"description": "x" * 300}, "description must be a str of at most 256 characters"),
        (
            {"reserved_concurrent_executions": -1},
            "reserved_concurrent_executions must be a whole number of at least 0",
        ),
        (
            {"streamed_bytes_alarm_threshold_mb": 0},
            "streamed_bytes_alarm_threshold_mb must be more than 0 and at most 200 MB",
        ),
        ({"streamed_bytes_alarm_threshold_mb": 250}, "at most 200 MB (or None), got 250"),
        (
            {"errors_alarm_threshold_count": 0},
            "errors_alarm_threshold_count must be a whole number of at least 1",
        ),
        (
            {"throttles_alarm_threshold_count": 1.5},
            "throttles_alarm_threshold_count must be a whole number of at least 1",
        ),
        (
            {"url_5xx_alarm_threshold_count": -2},
            "url_5xx_alarm_threshold_count must be a whole number of at least 1",
        ),
        (
            {"duration_alarm_threshold_percent_of_timeout": 120},
            "duration_alarm_threshold_percent_of_timeout must be more than 0 and at most 100 percent",
        ),
        (
            {"environment": {"STREAM_FN_METRICS": "emf"}},
            "environment must not set STREAM_FN_METRICS: pass stream_metrics=True instead",
        ),
        ({"stream_metrics": "yes"}, "stream_metrics must be True or False, got 'yes' (str)"),
        (
            {"time_to_first_byte_alarm_threshold_ms": 0},
            "time_to_first_byte_alarm_threshold_ms must be more than 0 and at most 900000 ms",
        ),
        (
            {"errors_after_first_byte_alarm_threshold_count": 0},
            "errors_after_first_byte_alarm_threshold_count must be a whole number of at least 1",
        ),
        ({"cloudfront": "yes"}, "cloudfront must be True, False or a CloudFrontOptions, got 'yes' (str)"),
        ({"api_gateway": 1}, "api_gateway must be True, False or a ApiGatewayOptions, got 1 (int)"),
        (
            {"cloudfront": True, "auth_type": lambda_.FunctionUrlAuthType.NONE},
            "cloudfront needs auth_type=lambda_.FunctionUrlAuthType.AWS_IAM",
        ),
        (
            {"cloudfront": CloudFrontOptions(origin_read_timeout=cdk.Duration.minutes(5))},
            "CloudFrontOptions.origin_read_timeout must be between 1 and 180 seconds, got 5 minutes",
        ),
        (
            {"architecture": "arm64"},
            "architecture must be lambda_.Architecture.ARM_64 or lambda_.Architecture.X86_64",
        ),
    ],
)
def test_bad_prop_is_named_with_its_value(stack: cdk.Stack, props: dict[str, Any], expected: str) -> None:
    assert expected in problems(stack, **props)


def test_entry_must_be_an_existing_directory(stack: cdk.Stack, tmp_path: Path) -> None:
    message = problems(stack, entry=str(tmp_path / "nowhere"))
    assert (
        f"entry must be the directory that holds the function's code, got '{tmp_path / 'nowhere'}', which does not exist"
        in message
    )
    (tmp_path / "file.py").write_text("")
    assert "which is a file" in problems(stack, entry=str(tmp_path / "file.py"))
    assert "entry must be a directory path (str or pathlib.Path), got 3 (int)" in problems(stack, entry=3)


def test_handler_may_live_in_a_package_and_be_imported_or_assigned(stack: cdk.Stack, tmp_path: Path) -> None:
    package = tmp_path / "app" / "api"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from .views import handler as imported\n")
    (package / "views.py").write_text("try:\n    handler = object()\nexcept ImportError:\n    pass\n")
    (tmp_path / "matched.py").write_text(
        "import os\nmatch os.name:\n    case _:\n        def handler(e, c): ...\n"
    )
    for handler in ("app/api/views.handler", "app.api.views.handler", "app/api.imported", "matched.handler"):
        assert isinstance(build(stack, entry=tmp_path, handler=handler), StreamingFunction)


def test_handler_check_gives_way_when_the_module_cannot_be_read_statically(
    stack: cdk.Stack, tmp_path: Path
) -> None:
    (tmp_path / "star.py").write_text("from elsewhere import *\n")
    (tmp_path / "newer.py").write_text("type Alias = int  # Python 3.12 syntax\ndef handler(e, c): ...\n")
    assert isinstance(build(stack, entry=tmp_path, handler="star.handler"), StreamingFunction)
    assert isinstance(build(stack, entry=tmp_path, handler="newer.handler"), StreamingFunction)


def test_every_problem_is_reported_at_once(stack: cdk.Stack) -> None:
    message = problems(
        stack,
        memory_size=64,
        timeout=cdk.Duration.minutes(20),
        handler="index.nope",
        errors_alarm_threshold_count=0,
        environment={"_HANDLER": "x"},
    )
    assert message.startswith("StreamingFunction 'Validation/Stream")
    assert "has invalid props:" in message
    listed = [line for line in message.splitlines() if line.startswith("  - ")]
    assert [line.split()[1] for line in listed] == [
        "handler",
        "memory_size",
        "timeout",
        "environment",
        "errors_alarm_threshold_count",
    ]


def test_duration_alarm_needs_a_known_timeout(stack: cdk.Stack) -> None:
    token_timeout = cdk.Duration.seconds(
        cdk.Token.as_number(cdk.CfnParameter(stack, "Timeout", type="Number").value_as_number)
    )
    assert "duration_alarm_threshold_percent_of_timeout needs a timeout known at synth time" in problems(
        stack, timeout=token_timeout
    )
    assert isinstance(
        build(stack, timeout=token_timeout, duration_alarm_threshold_percent_of_timeout=None),
        StreamingFunction,
    )


def test_valid_edge_values_are_accepted(stack: cdk.Stack) -> None:
    built = build(
        stack,
        memory_size=10240,
        timeout=cdk.Duration.minutes(15),
        streamed_bytes_alarm_threshold_mb=200,
        duration_alarm_threshold_percent_of_timeout=100,
        reserved_concurrent_executions=0,
        cloudfront=CloudFrontOptions(origin_read_timeout=cdk.Duration.seconds(180)),
    )
    assert len(built.alarms) == 5
