"""Everything a sandbox needs to run in a platform root, in one call: the host checked, the root built
(or found in the cache), the runtime layer staged."""

from __future__ import annotations

import os
from pathlib import Path

from . import host
from .builder import Progress, RootSpec, ensure_root
from .host import HostError
from .launch import PlatformRoot
from .layer import stage_runtime_layer
from .platforms import DEFAULT_SUITE, Platform


def check_host(platform: Platform, *, to_run: bool = True) -> None:
    """Raise HostError naming everything this machine lacks to run `platform` (qemu's binfmt entry is
    registered on the way when running as root), or only to build its root when not `to_run`."""
    if platform.emulated and os.geteuid() == 0:
        try:
            host.enable_emulation(platform)
        except HostError:
            pass  # reported below with the other problems
    problems = host.problems(platform, emulation=to_run)
    if problems:
        action = "run" if to_run else "build"
        raise HostError(f"cannot {action} {platform} roots on this machine: " + "; ".join(problems))


def prepare_platform_root(
    platform: Platform,
    *,
    layer_parent: Path,
    suite: str = DEFAULT_SUITE,
    cache_dir: Path | None = None,
    progress: Progress = lambda _: None,
) -> PlatformRoot:
    """A `PlatformRoot` for `FunctionConfig.platform`; the layer is staged under `layer_parent`."""
    check_host(platform)
    root = ensure_root(RootSpec(platform, suite), cache_dir=cache_dir, progress=progress)
    return PlatformRoot(platform, root.rootfs, stage_runtime_layer(layer_parent))
