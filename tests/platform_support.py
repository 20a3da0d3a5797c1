"""What tests outside the platform tier need from it: roots that run here, the layer's bytecode.

Like the tier (tests/platforms/conftest.py), a test that needs what this machine cannot offer (no
bubblewrap or user namespaces, not Linux) is skipped with the reason on a developer's machine, and fails
in CI, where CDK_STREAM_FN_REQUIRE_PLATFORMS=1.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from cdk_stream_fn.layer_bytecode import ARCHIVE_NAME, is_fresh
from cdk_stream_fn.platform_roots.host import problems
from cdk_stream_fn.platform_roots.platforms import Platform, PlatformError, host_architecture

REQUIRED_VARIABLE = "CDK_STREAM_FN_REQUIRE_PLATFORMS"


def unavailable(reason: str) -> None:
    """Skip (a developer's machine) or fail (CI) because this machine cannot do what the test needs."""
    if os.environ.get(REQUIRED_VARIABLE) == "1":
        pytest.fail(f"required here ({REQUIRED_VARIABLE}=1) but not possible: {reason}")
    pytest.skip(reason)


def require_roots() -> None:
    """Skip or fail unless this machine can run a native platform root."""
    try:
        found = problems(Platform("3.14", host_architecture()), emulation=False)
    except PlatformError as error:
        found = [str(error)]
    if found:
        unavailable("platform roots cannot run here: " + "; ".join(found))


def require_layer_bytecode() -> Path:
    """The installed stream_fn package, whose layer bytecode is up to date; where it is not, skip if it
    cannot be compiled here, and fail saying how to rebuild it if it can."""
    spec = importlib.util.find_spec("stream_fn")
    assert spec is not None and spec.submodule_search_locations, "stream_fn is not installed: ./dev setup"
    package = Path(next(iter(spec.submodule_search_locations))).resolve()
    if not is_fresh(package):
        require_roots()
        pytest.fail(
            f"{package / ARCHIVE_NAME} is missing or out of date: run ./dev setup "
            "(or python -m cdk_stream_fn.platform_roots.bytecode)"
        )
    return package
