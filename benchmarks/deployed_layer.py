"""The stream_fn runtime layer as Lambda holds it: staged by the construct's own code, then read-only.

On Lambda the layer is unpacked to /opt, which is read-only, so the interpreter uses the bytecode the
layer ships (cdk_stream_fn.layer_bytecode: pycs for python3.13 and python3.14) and compiles the rest at
every cold start without caching it. The cold-start figures run stream_fn from such a layer, mounted
read-only in the target interpreter's root (benchmarks.target_interpreter). The layer is staged as the
platform roots stage theirs (cdk_stream_fn.platform_roots.layer: the construct's own `stage_layer`, in a
child process, because importing it starts a jsii kernel, which the benchmark process must not carry).
Files and directories are then made read-only, and `bytecode_written` checks afterwards that no run
cached anything in it (bubblewrap mounts it read-only as well).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import stat
from collections.abc import Iterable

from benchmarks.references import node_only_dir
from cdk_stream_fn.platform_roots.layer import stage_runtime_layer

PACKAGE_DIR = pathlib.Path("python") / "stream_fn"
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def stage_read_only_layer(parent: pathlib.Path) -> pathlib.Path:
    """Stage the layer into a new directory under `parent`, make it read-only and return it (raises
    `cdk_stream_fn.platform_roots.layer.LayerError`, saying why, when it cannot be staged)."""
    env = {**os.environ, "PATH": os.pathsep.join([str(node_only_dir()), os.environ.get("PATH", "")])}
    layer = stage_runtime_layer(parent, prefix="layer-", environment=env)
    make_read_only(layer)
    return layer


def make_read_only(layer: pathlib.Path) -> None:
    """Clear every write bit, deepest first, so that the directories can still be walked meanwhile."""
    for root, directories, files in os.walk(layer, topdown=False):
        for name in [*files, *directories]:
            _clear_write_bits(pathlib.Path(root) / name)
    _clear_write_bits(layer)


def _clear_write_bits(path: pathlib.Path) -> None:
    path.chmod(stat.S_IMODE(path.lstat().st_mode) & ~_WRITE_BITS)


def bytecode_in(layer: pathlib.Path) -> list[pathlib.Path]:
    """Every bytecode cache in the layer: `__pycache__` directories and the files in them."""
    return sorted(
        path for path in layer.rglob("*") if path.name == "__pycache__" or path.suffix in (".pyc", ".pyo")
    )


def bytecode_written(layer: pathlib.Path, shipped: Iterable[pathlib.Path]) -> list[pathlib.Path]:
    """Bytecode caches that appeared in the layer besides the `shipped` ones (none may: /opt is read-only)."""
    return sorted(set(bytecode_in(layer)) - set(shipped))


def remove_layer(layer: pathlib.Path) -> None:
    """Give the owner write access back and remove the layer."""
    for root, directories, _ in os.walk(layer):
        for name in directories:
            path = pathlib.Path(root) / name
            path.chmod(stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)
    if layer.exists():
        layer.chmod(stat.S_IMODE(layer.stat().st_mode) | stat.S_IWUSR)
    shutil.rmtree(layer, ignore_errors=True)
