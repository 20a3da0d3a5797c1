"""Where roots live between runs, and how a root is known to be whole.

`$CDK_STREAM_FN_ROOTS_CACHE`, else `$XDG_CACHE_HOME/cdk-stream-fn/platform-roots`, else
`~/.cache/cdk-stream-fn/platform-roots`. Under it:

    dists/<suite>/        the last verified InRelease, the Packages.xz it names
    debs/<sha256>.deb     every package fetched, by its hash
    resolutions/          the packages a spec resolved to in one Packages index (saves parsing 60 MB)
    roots/<name>-<key>/   a root: rootfs/ and manifest.json, the manifest written last
    roots/.lock           held while a root is built, so two processes never build the same one

A root's key is the SHA-256 of what it holds: suite, architecture, interpreter, every package's name,
version and hash, and the layout's files. A directory whose manifest is missing or names another
key is half-built or tampered with: it is removed and built again, never used.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CACHE_VARIABLE = "CDK_STREAM_FN_ROOTS_CACHE"
MANIFEST = "manifest.json"
ROOTFS = "rootfs"


def default_cache_dir() -> Path:
    """The cache directory (see the module's docstring for the order of precedence)."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cdk-stream-fn" / "platform-roots"


@dataclass(frozen=True)
class CachedRoot:
    """A whole root in the cache."""

    directory: Path
    manifest: dict[str, Any]

    @property
    def rootfs(self) -> Path:
        return self.directory / ROOTFS

    @property
    def key(self) -> str:
        return str(self.manifest["key"])


class RootCache:
    """The roots directory of a cache."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.roots_dir = cache_dir / "roots"

    def directory(self, name: str, key: str) -> Path:
        return self.roots_dir / f"{name}-{key[:16]}"

    def whole(self, name: str, key: str) -> CachedRoot | None:
        """The root `name` with `key` if it is whole; a half-built one is removed."""
        directory = self.directory(name, key)
        if not directory.exists():
            return None
        manifest = _read_manifest(directory)
        if manifest is not None and manifest.get("key") == key and (directory / ROOTFS).is_dir():
            return CachedRoot(directory, manifest)
        remove_tree(directory)
        return None

    def roots(self) -> list[CachedRoot]:
        """Every whole root, by name."""
        found = []
        if self.roots_dir.is_dir():
            for directory in sorted(self.roots_dir.iterdir()):
                manifest = _read_manifest(directory) if not directory.name.startswith(".") else None
                if manifest is not None:
                    found.append(CachedRoot(directory, manifest))
        return found

    @contextlib.contextmanager
    def building(self) -> Iterator[None]:
        """Hold the cache's build lock (other builders wait) and clear what a killed build left."""
        self.roots_dir.mkdir(parents=True, exist_ok=True)
        with (self.roots_dir / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                for leftover in self.roots_dir.glob(".build-*"):
                    remove_tree(leftover)
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def scratch(self, name: str) -> Path:
        """A new directory to build `name` in (call within `building`); `commit` renames it into place."""
        directory = self.roots_dir / f".build-{name}-{os.getpid()}"
        remove_tree(directory)
        directory.mkdir(parents=True)
        return directory

    def commit(self, scratch: Path, name: str, manifest: dict[str, Any]) -> CachedRoot:
        """Write the manifest last, then rename the scratch directory to the root's place."""
        (scratch / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        target = self.directory(name, str(manifest["key"]))
        remove_tree(target)
        os.rename(scratch, target)
        return CachedRoot(target, manifest)


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def remove_tree(path: Path) -> None:
    """Remove a directory tree, read-only directories in it included (a root's may be)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
        return
    if not path.exists():
        return
    for directory, _, _ in os.walk(path):
        os.chmod(directory, stat.S_IMODE(os.lstat(directory).st_mode) | stat.S_IRWXU)
    shutil.rmtree(path)
