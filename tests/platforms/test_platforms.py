"""Platform names as the command line and the tier give them: a table of cases."""

from __future__ import annotations

import pytest

from cdk_stream_fn.platform_roots.platforms import Platform, PlatformError, parse_platform


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("python3.14/arm64", Platform("3.14", "arm64")),
        ("python3.13/x86_64", Platform("3.13", "x86_64")),
        ("3.14/amd64", Platform("3.14", "x86_64")),
        ("python3.14/aarch64", Platform("3.14", "arm64")),
        ("python3.13", Platform("3.13", "arm64")),
    ],
)
def test_names_parse(text: str, expected: Platform) -> None:
    assert parse_platform(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("python3.12/arm64", "python3.12 has no Debian package"),
        ("python3.15/arm64", "choose one of python3.13, python3.14"),
        ("python3.14/sparc", "architecture must be arm64 or x86_64"),
        ("node20", "a platform looks like python3.14/arm64"),
    ],
)
def test_what_cannot_be_had_says_why(text: str, message: str) -> None:
    with pytest.raises(PlatformError, match=message):
        parse_platform(text)


def test_names_as_lambda_and_debian_give_them() -> None:
    platform = Platform("3.14", "x86_64")
    assert (str(platform), platform.runtime, platform.debian_architecture) == (
        "python3.14/x86_64",
        "python3.14",
        "amd64",
    )
    assert platform.interpreter == "/usr/bin/python3.14"
