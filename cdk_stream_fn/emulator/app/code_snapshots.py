"""Copies of a function's code, one per version, that its sandboxes run while the source moves on.

`serve` runs a function's code from its entry directory, but never from the directory itself: each
version is copied first (leaving out what the construct leaves out of the asset,
`contract.CODE_EXCLUDED_PATTERNS`), and sandboxes run the copy. So a stream in flight keeps importing
the code it started with, and when an edit breaks the function, new sandboxes of the last good version
still find that version's files. A file unchanged since the previous version (same size and
modification time) is hard-linked to that version's copy instead of copied again, so a version costs
what changed in it. Copies are never written to by `serve` and are removed with its scratch directory.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from pathlib import Path

from cdk_stream_fn.contract import CODE_EXCLUDED_PATTERNS

#: (size, mtime_ns) of each file of a version, by its path relative to the entry.
Manifest = dict[str, tuple[int, int]]


def is_excluded(name: str) -> bool:
    """Whether a file or directory of this name is left out of a function's code."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in CODE_EXCLUDED_PATTERNS)


class CodeSnapshots:
    """Versions of each function's code under `directory` (`<function>/v1`, `v2`, ...)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._latest: dict[str, tuple[Path, Manifest]] = {}

    def take(self, name: str, entry: Path) -> Path:
        """Copy `entry` as the next version of function `name`'s code; return the copy."""
        folder = self.directory / _safe(name)
        folder.mkdir(parents=True, exist_ok=True)
        number = 1 + max((int(p.name[1:]) for p in folder.glob("v*") if p.name[1:].isdigit()), default=0)
        target = folder / f"v{number}"
        previous, previous_manifest = self._latest.get(name, (None, {}))
        manifest: Manifest = {}
        visited: set[str] = set()
        for source_dir, directories, files in os.walk(entry, followlinks=True):
            real = os.path.realpath(source_dir)
            if real in visited:  # a link back up the tree: copied once, not forever
                directories[:] = []
                continue
            visited.add(real)
            directories[:] = sorted(d for d in directories if not is_excluded(d))
            relative_dir = Path(source_dir).relative_to(entry)
            (target / relative_dir).mkdir(parents=True, exist_ok=True)
            for file_name in sorted(files):
                if is_excluded(file_name):
                    continue
                source = Path(source_dir) / file_name
                relative = (relative_dir / file_name).as_posix()
                try:
                    stat = source.stat()
                except OSError:
                    continue  # gone while copying (an editor's temporary file): the next version has it
                manifest[relative] = (stat.st_size, stat.st_mtime_ns)
                destination = target / relative
                if previous is not None and previous_manifest.get(relative) == manifest[relative]:
                    try:
                        os.link(previous / relative, destination)
                        continue
                    except OSError:
                        pass  # another file system, or links not allowed: copy it
                try:
                    shutil.copy2(source, destination)
                except OSError:
                    manifest.pop(relative)
        self._latest[name] = (target, manifest)
        return target


def _safe(name: str) -> str:
    """A function name as a directory name (names may hold `/` when they are construct paths)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)
