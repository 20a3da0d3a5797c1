"""Where each function runs here: which Python, on which machine, and what pip installs for it.

`serve --platform` decides, for every function:

* not given (`auto`): the Python version of the function's runtime (`Runtime: python3.13`), on this
  machine's architecture. A Python of that version on this machine (`interpreters.find_interpreter`),
  else a platform root of it already built for this architecture (`cdk-stream-fn roots build`; looked
  up in the cache, never built nor fetched here), else this Python stands in, and `serve` says which
  version stands in for which.
* `lambda`: each function in a platform root of its own runtime and architecture (`Architectures`),
  built on first use; arm64 runs through qemu-user, 10 to 30 times slower.
* `pythonX.Y/ARCH`: every function in that one root.

A function without a runtime (`serve --handler`) runs on this Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cdk_stream_fn.dependencies import LambdaPlatform
from cdk_stream_fn.emulator.app.dependency_cache import InstallTarget
from cdk_stream_fn.emulator.app.interpreters import LocalInterpreter, current_interpreter, find_interpreter
from cdk_stream_fn.platform_roots.launch import PlatformRoot
from cdk_stream_fn.platform_roots.platforms import Platform, PlatformError, host_architecture, parse_platform

AUTO = "auto"
PER_FUNCTION = "lambda"

Progress = Callable[[str], None]


class RunnerError(Exception):
    """A function cannot run where `--platform` asks (a root that cannot be had or run here)."""


@dataclass(frozen=True)
class Runner:
    """What runs a function's runtime here: a Python on this machine, or a platform root."""

    python_version: str
    """`3.13`."""
    architecture: str
    """Lambda's name of the machine it runs on: `x86_64` or `arm64`."""
    interpreter: LocalInterpreter | None = None
    root: PlatformRoot | None = None
    stands_in_for: str | None = None
    """The runtime (`python3.14`) this Python stands in for, when none of its version could be found."""
    version: str = ""
    """The full version, as far as it is known (`3.13.0`)."""

    @property
    def summary(self) -> str:
        """How the table of functions names it: `3.13.0`, `3.14 root`, `3.14 root arm64 (qemu)`,
        `3.11.7 for python3.14`."""
        if self.root is not None:
            where = f" {self.architecture}" + (" (qemu)" if self.root.platform.emulated else "")
            return f"{self.version or self.python_version} root" + (
                where if self.root.platform.emulated else ""
            )
        text = self.version or self.python_version
        return f"{text} for {self.stands_in_for}" if self.stands_in_for else text

    @property
    def install_target(self) -> InstallTarget:
        """What pip installs a function's dependencies for, to run here."""
        if self.root is not None:
            platform = LambdaPlatform(self.python_version, self.architecture)
            return InstallTarget(
                python_version=self.python_version,
                description=f"Python {self.python_version} on {self.architecture} (a platform root)",
                fingerprint=f"lambda-wheels {platform.python_version} {platform.architecture}",
                lambda_platform=platform,
            )
        assert self.interpreter is not None
        interpreter = self.interpreter
        how = "own pip" if interpreter.has_pip else "this pip, wheels only"
        return InstallTarget(
            python_version=interpreter.minor,
            description=f"Python {interpreter.version} on {interpreter.machine}",
            fingerprint=f"cpython {interpreter.version} {interpreter.machine} {how}",
            interpreter=interpreter.path,
            own_pip=interpreter.has_pip,
        )


def current_runner() -> Runner:
    """This Python."""
    interpreter = current_interpreter()
    return Runner(
        interpreter.minor, interpreter.machine, interpreter=interpreter, version=interpreter.version
    )


def runtime_version(runtime: str | None) -> str | None:
    """`3.13` for `python3.13`; None for anything else."""
    match = re.fullmatch(r"python(3\.\d+)", runtime or "")
    return match[1] if match else None


@dataclass
class RunnerResolver:
    """Chooses each function's `Runner` for a `--platform` choice (`auto`, `lambda`, or a platform),
    preparing each platform root once (its layer staged under `scratch`)."""

    choice: str = AUTO
    scratch: Path = field(default_factory=Path)
    progress: Progress = lambda _: None
    roots_cache: Path | None = None
    _roots: dict[Platform, PlatformRoot] = field(default_factory=dict)
    _cached: dict[str, Runner | None] = field(default_factory=dict)
    _fixed: Platform | None = None

    def __post_init__(self) -> None:
        if self.choice not in (AUTO, PER_FUNCTION):
            try:
                self._fixed = parse_platform(self.choice)
            except PlatformError as error:
                raise RunnerError(f"--platform {self.choice}: {error}") from None

    def runner_for(self, runtime: str | None, architecture: str) -> Runner:
        """Where a function deployed on `runtime` (None: not known) and `architecture` runs here."""
        if self._fixed is not None:
            return self._in_root(self._fixed)
        version = runtime_version(runtime)
        if self.choice == PER_FUNCTION:
            if version is None:
                raise RunnerError(f"--platform lambda: the runtime {runtime!r} is not a Python runtime")
            try:
                return self._in_root(Platform(version, architecture))
            except PlatformError as error:
                raise RunnerError(f"--platform lambda: {error}") from None
        if version is None:
            return current_runner()
        interpreter = find_interpreter(version)
        if interpreter is not None:
            return Runner(version, interpreter.machine, interpreter=interpreter, version=interpreter.version)
        root = self._cached_root(version)
        if root is not None:
            return root
        current = current_runner()
        return Runner(
            current.python_version,
            current.architecture,
            interpreter=current.interpreter,
            stands_in_for=runtime,
            version=current.version,
        )

    def _in_root(self, platform: Platform) -> Runner:
        """The root for `platform`, built (or found) and its layer staged, once."""
        from cdk_stream_fn.platform_roots.archive import ArchiveError
        from cdk_stream_fn.platform_roots.host import HostError
        from cdk_stream_fn.platform_roots.layer import LayerError
        from cdk_stream_fn.platform_roots.prepare import prepare_platform_root
        from cdk_stream_fn.platform_roots.resolver import ResolveError

        if platform not in self._roots:
            self.progress(f"preparing the {platform} platform root ...")
            try:
                self._roots[platform] = prepare_platform_root(
                    platform,
                    layer_parent=self.scratch / "layer",
                    cache_dir=self.roots_cache,
                    progress=self.progress,
                )
            except (HostError, ArchiveError, ResolveError, LayerError) as error:
                raise RunnerError(f"--platform {self.choice}: {error}") from None
        return Runner(platform.python_version, platform.architecture, root=self._roots[platform])

    def _cached_root(self, version: str) -> Runner | None:
        """A root of Python `version` for this machine that the cache already holds and that can run
        here, without building or fetching anything; None otherwise (looked up once per version)."""
        if version not in self._cached:
            self._cached[version] = self._find_cached_root(version)
        return self._cached[version]

    def _find_cached_root(self, version: str) -> Runner | None:
        from cdk_stream_fn.platform_roots.cache import RootCache, default_cache_dir
        from cdk_stream_fn.platform_roots.host import problems
        from cdk_stream_fn.platform_roots.layer import LayerError, stage_runtime_layer

        try:
            platform = Platform(version, host_architecture())
        except PlatformError:
            return None
        roots = [
            root
            for root in RootCache(self.roots_cache or default_cache_dir()).roots()
            if root.manifest.get("platform") == str(platform) and not root.manifest.get("extra_packages")
        ]
        if not roots or problems(platform):
            return None
        newest = max(roots, key=lambda root: str(root.manifest.get("built_at", "")))
        try:
            layer = (
                self._roots[platform].layer
                if platform in self._roots
                else stage_runtime_layer(self.scratch / "layer")
            )
        except LayerError:
            return None
        packages = dict(newest.manifest.get("packages") or [])
        built = str(packages.get(platform.runtime, "")).split("-")[0]  # Debian's version, e.g. 3.14.0-5
        return Runner(
            version, platform.architecture, root=PlatformRoot(platform, newest.rootfs, layer), version=built
        )
