"""`import cdk_stream_fn` (as the CLI does) must not load aws_cdk; the construct loads it lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
import cdk_stream_fn
from cdk_stream_fn import ApiGatewayOptions, CloudFrontOptions
from cdk_stream_fn import dependencies
assert "aws_cdk" not in sys.modules, "aws_cdk was imported"
assert "jsii" not in sys.modules, "jsii was imported"
assert "StreamingFunction" in dir(cdk_stream_fn) and "StreamingFunction" not in vars(cdk_stream_fn)
print("ok")
"""


def test_package_and_options_import_without_aws_cdk() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_lazy_export_resolves_to_the_construct() -> None:
    import cdk_stream_fn
    from cdk_stream_fn.construct.streaming_function import StreamingFunction

    assert cdk_stream_fn.StreamingFunction is StreamingFunction


def test_unknown_attribute_is_an_attribute_error() -> None:
    import cdk_stream_fn

    with pytest.raises(AttributeError, match="has no attribute 'StreamingFunctoin'"):
        cdk_stream_fn.StreamingFunctoin  # noqa: B018
