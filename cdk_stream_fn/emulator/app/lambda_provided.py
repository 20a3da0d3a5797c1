"""What Lambda's Python runtime gives function code besides the standard library, staged for a runtime here.

`serve` starts a function's runtime without its interpreter's own site-packages (`python -S`): code that
imports a package it does not list in its requirements should fail here as it fails on Lambda, not find
whatever happens to be installed beside cdk-stream-fn. What Lambda does provide stays importable, from
one directory of links into this installation:

* `stream_fn`, which the construct ships as a layer (`/opt/python` on Lambda);
* boto3 and what it needs: "Your code runs in an environment that includes the SDK for Python (Boto3)"
  (AWS Lambda Developer Guide, "Building Lambda functions with Python",
  https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html); the version here is cdk-stream-fn's
  own, which is no promise about Lambda's (AWS advises packaging boto3 when a version matters);
* `snapshot_restore_py`, the SnapStart hooks library Lambda's Python runtimes carry.

These are pure Python, so they load in any supported interpreter; a function's own requirements come
first on the path and win.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from pathlib import Path

#: Distributions Lambda's Python runtime provides, with what they require.
PROVIDED_DISTRIBUTIONS = ("boto3", "snapshot-restore-py")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def stage_provided(directory: Path) -> Path:
    """Fill `directory` with links to stream_fn and the provided distributions' packages; return it."""
    directory.mkdir(parents=True, exist_ok=True)
    spec = importlib.util.find_spec("stream_fn")
    assert spec is not None and spec.submodule_search_locations, "stream_fn is installed with cdk-stream-fn"
    _link(directory / "stream_fn", Path(next(iter(spec.submodule_search_locations))))
    for distribution in _closure(PROVIDED_DISTRIBUTIONS):
        for name, path in top_level(distribution).items():
            _link(directory / name, path)
    return directory


def _link(link: Path, target: Path) -> None:
    if not link.exists() and not link.is_symlink():
        link.symlink_to(target.resolve(), target_is_directory=target.is_dir())


def _closure(names: tuple[str, ...]) -> list[importlib.metadata.Distribution]:
    """The distributions named and everything they require (extras left out), as installed here."""
    found: dict[str, importlib.metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = _normalized(pending.pop())
        if name in found:
            continue
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        found[name] = distribution
        for requirement in distribution.requires or []:
            if "extra ==" in requirement.replace('"', "'").replace("extra==", "extra =="):
                continue
            if (match := _NAME.match(requirement)) is not None:
                pending.append(match[0])
    return list(found.values())


def top_level(distribution: importlib.metadata.Distribution) -> dict[str, Path]:
    """The importable top-level packages and modules a distribution installed, by name."""
    names: dict[str, Path] = {}
    for file in distribution.files or []:
        first = file.parts[0]
        if first in ("..", "__pycache__") or first.endswith((".dist-info", ".egg-info", ".pth")):
            continue
        name = first.removesuffix(".py")
        if len(file.parts) == 1 and not first.endswith(".py"):
            continue  # a data file at the top, not a module
        if name.isidentifier():
            names.setdefault(first, Path(str(distribution.locate_file(first))))
    return names


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
