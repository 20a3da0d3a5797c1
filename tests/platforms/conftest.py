"""The platform tier: the runtime, the example app and a FastAPI asset in roots with Lambda's interpreters.

Each test runs on python3.13/x86_64, python3.14/x86_64 and python3.14/arm64 (through qemu-user), in
platform roots that `cdk_stream_fn.platform_roots` builds from Debian's packages and caches between
runs. Where this machine cannot build or run them (no bubblewrap, no user namespaces, no qemu, no
Debian mirror), the tier is skipped with the reason on a developer's machine, and fails in CI:
`.ci/run` sets CDK_STREAM_FN_REQUIRE_PLATFORMS=1.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from emulator.harness import ServedEmulator

from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig
from cdk_stream_fn.platform_roots.archive import ArchiveError
from cdk_stream_fn.platform_roots.builder import BuiltRoot, RootSpec, ensure_root
from cdk_stream_fn.platform_roots.host import HostError
from cdk_stream_fn.platform_roots.launch import PlatformRoot
from cdk_stream_fn.platform_roots.layer import stage_runtime_layer
from cdk_stream_fn.platform_roots.platforms import parse_platform
from cdk_stream_fn.platform_roots.prepare import check_host

REQUIRED_VARIABLE = "CDK_STREAM_FN_REQUIRE_PLATFORMS"
FUNCTIONS = Path(__file__).parent / "functions"

PLATFORMS = ("python3.13/x86_64", "python3.14/x86_64", "python3.14/arm64")
"""Every platform of the tier."""
NATIVE = PLATFORMS[:2]
"""The platforms this x86_64 machine runs natively; arm64 (10 to 30 times slower under qemu) gets a
representative part of each test module."""

#: Lambda's cold start allows 10 s of init; python3.14 under qemu needs more on a loaded 2-core machine.
TIMEOUT_SECONDS = 60


def unavailable(reason: str) -> None:
    """Skip (a developer's machine) or fail (CI) because this machine cannot run the tier."""
    if os.environ.get(REQUIRED_VARIABLE) == "1":
        pytest.fail(f"the platform tier is required here ({REQUIRED_VARIABLE}=1) but cannot run: {reason}")
    pytest.skip(f"platform tier skipped: {reason}")


@pytest.fixture(scope="session")
def runtime_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stream_fn layer as the construct stages it, mounted read-only on /opt."""
    return stage_runtime_layer(tmp_path_factory.mktemp("layer"))


_roots: dict[RootSpec, BuiltRoot] = {}


def built_root(spec: RootSpec) -> BuiltRoot:
    """The root for `spec` (built once per session, from the cache when it holds it)."""
    if spec not in _roots:
        try:
            check_host(spec.platform)
            _roots[spec] = ensure_root(spec)
        except (HostError, ArchiveError) as error:
            unavailable(str(error))
    return _roots[spec]


def platform_root(name: str, layer: Path) -> PlatformRoot:
    platform = parse_platform(name)
    return PlatformRoot(platform, built_root(RootSpec(platform)).rootfs, layer)


STYLES = {
    "node-style": "styles.node_style",
    "http-prelude": "styles.http_prelude",
    "empty-body": "styles.empty_body",
    "generator": "styles.generator",
    "async": "styles.async_handler",
    "async-generator": "styles.async_generator",
    "buffered": "styles.buffered",
    "buffered-async": "styles.buffered_async",
    "fails-before": "styles.fails_before_first_byte",
    "fails-after": "styles.fails_after_first_byte",
    "broken-init": "broken_init.handler",
    "lifespan": "lifespan_app.handler",
}


def style_functions(root: PlatformRoot) -> list[FunctionConfig]:
    """Every handler style, plus the logging function in Text and in JSON, on one platform root."""
    functions = [
        FunctionConfig(name, handler, FUNCTIONS, timeout_seconds=TIMEOUT_SECONDS, platform=root)
        for name, handler in STYLES.items()
    ]
    for log_format in ("Text", "JSON"):
        functions.append(
            FunctionConfig(
                f"logs-{log_format.lower()}",
                "styles.logs",
                FUNCTIONS,
                timeout_seconds=TIMEOUT_SECONDS,
                log_format=log_format,
                log_level="INFO",
                platform=root,
            )
        )
    return functions


ServeStyles = Callable[[str], ServedEmulator]
"""The `styles_on` fixture: `styles_on("python3.14/arm64")` is that platform's emulator."""


@pytest.fixture(scope="session")
def styles_on(runtime_layer: Path) -> Iterator[ServeStyles]:
    """One emulator per platform serving every style, started when a test first asks for that platform
    (runtimes start on their first request, so a style no test calls costs nothing)."""
    started: dict[str, ServedEmulator] = {}

    def serve(name: str) -> ServedEmulator:
        if name not in started:
            started[name] = ServedEmulator(style_functions(platform_root(name, runtime_layer)))
        return started[name]

    try:
        yield serve
    finally:
        for emulator in started.values():
            emulator.close()
