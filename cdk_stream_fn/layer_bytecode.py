"""The runtime's bytecode for Lambda's interpreters, as the stream_fn package ships it for the layer.

Lambda unpacks a layer to /opt, which is read-only, so the interpreter cannot cache what it compiles
there: without bytecode in the layer, every cold start compiles stream_fn's start-up modules from
source. The layer therefore ships `.pyc` files for each Lambda interpreter the project can build them
with (python3.13 and python3.14, from its platform roots; python3.12 has no Debian package, so its
functions compile at each cold start).

Where the bytecode comes from: it is compiled when the package is built (the wheel, and `./dev setup`
for a checkout) by `cdk_stream_fn.platform_roots.bytecode`, in the platform roots, and kept in one
archive inside the package, `stream_fn/layer-bytecode.zip`. Synthesis only reads that archive, so every
machine that synthesizes the same installed version stages the same layer under the same asset hash,
with or without platform roots or a python3.14 of its own. The archive is not a `__pycache__`
directory and holds no `*.pyc` file names on disk, because installers (`pip` compiles every installed
`.py` with `force=True`), build backends (hatchling excludes `*.py[cdo]` and `__pycache__`) and
clean-up tools would rewrite or drop those, and the layer would then differ between machines.

The files are checked-hash pycs (PEP 552): Python validates each against its source's hash before
using it, so a stale file costs a compile (in memory; /opt cannot be written), never correctness. A
timestamp pyc would depend on file times, which the asset does not carry (the CDK CLI zips every file
with one fixed time: cdk-assets `writeZipFile`, "reset dates to get the same hash for the same
content") and which Lambda sets in no documented way when it unpacks a layer; an unchecked-hash pyc
would run even when the source beside it changed (a later layer can overwrite files in /opt: Lambda
merges a function's layers into /opt in the order they are added,
https://docs.aws.amazon.com/lambda/latest/dg/adding-layers.html).

The archive's manifest records each source's SHA-256: a source that changed after the archive was
built (an edited checkout) gets no bytecode, rather than a stale one, so the layer's content stays a
function of the package's files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

ARCHIVE_NAME = "layer-bytecode.zip"
"""The archive's file name in the stream_fn package directory."""
MANIFEST_NAME = "manifest.json"
FORMAT = 1
INTERPRETERS = ("3.13", "3.14")
"""The Lambda Pythons the layer ships bytecode for: those the platform roots provide an interpreter of."""
INVALIDATION_MODE = "checked-hash"
"""`py_compile`'s name (`--invalidation-mode` of compileall) for the kind of pyc shipped."""
PYC_FLAGS = {"checked-hash": 0b11, "unchecked-hash": 0b01}
"""PEP 552's flags word of a hash-based pyc, by invalidation mode."""
_HEADER_BYTES = 16
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class BytecodeArchiveError(ValueError):
    """An archive that is not what this module writes; the message says what is wrong."""


@dataclass(frozen=True)
class Interpreter:
    """The interpreter one set of pycs was compiled with."""

    python: str
    """`major.minor`, e.g. `3.14`."""
    cache_tag: str
    """`sys.implementation.cache_tag`, part of each pyc's name: `cpython-314`."""
    magic: str
    """`importlib.util.MAGIC_NUMBER` in hex: the first four bytes of each of its pycs."""
    version: str
    """`sys.version` of the interpreter that compiled them (its build, for the record)."""


@dataclass(frozen=True)
class BytecodeArchive:
    """What an archive holds: pycs by path relative to the package (`__pycache__/loop.cpython-314.pyc`),
    the interpreters they are for, and the SHA-256 of each source they were compiled from."""

    interpreters: tuple[Interpreter, ...]
    sources: Mapping[str, str]
    pycs: Mapping[str, bytes]
    invalidation_mode: str = INVALIDATION_MODE


@dataclass(frozen=True)
class ShippedBytecode:
    """The pycs the layer ships, and why any are missing (None when every source has all of its pycs)."""

    pycs: Mapping[str, bytes]
    problem: str | None


def sha256(content: bytes) -> str:
    """The hex SHA-256 the manifest records for a source."""
    return hashlib.sha256(content).hexdigest()


def pyc_path(source: str, cache_tag: str) -> str:
    """Where Python looks for the pyc of `source` (PEP 3147): `a/b.py` -> `a/__pycache__/b.<tag>.pyc`."""
    path = PurePosixPath(source)
    return str(path.parent / "__pycache__" / f"{path.stem}.{cache_tag}.pyc").removeprefix("./")


def python_sources(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The `.py` files among a package's files (relative path -> content)."""
    return {path: content for path, content in files.items() if path.endswith(".py")}


def source_digests(sources: Mapping[str, bytes]) -> dict[str, str]:
    """The manifest's `sources`: each source's SHA-256, by path, sorted."""
    return {path: sha256(content) for path, content in sorted(sources.items())}


def read_package_sources(package_dir: Path) -> dict[str, bytes]:
    """Every `.py` file of the package in `package_dir`, by POSIX path relative to it (no `__pycache__`)."""
    sources: dict[str, bytes] = {}
    for root, directories, names in os.walk(package_dir):
        directories[:] = sorted(d for d in directories if d != "__pycache__")
        for name in sorted(names):
            if name.endswith(".py"):
                path = Path(root) / name
                sources[path.relative_to(package_dir).as_posix()] = path.read_bytes()
    return sources


def write_archive(path: Path, archive: BytecodeArchive) -> None:
    """Write `archive` to `path` (replaced atomically), the same bytes for the same content."""
    manifest = {
        "format": FORMAT,
        "invalidation_mode": archive.invalidation_mode,
        "interpreters": [vars(interpreter) for interpreter in archive.interpreters],
        "sources": dict(sorted(archive.sources.items())),
    }
    entries = {MANIFEST_NAME: (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()}
    entries.update(sorted(archive.pycs.items()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, content in entries.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zipped.writestr(info, content)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    scratch.write_bytes(buffer.getvalue())
    os.replace(scratch, path)


def read_archive(path: Path) -> BytecodeArchive:
    """The archive at `path`, checked: every pyc is named for a listed source and interpreter, and its
    header carries that interpreter's magic number and the invalidation mode's flags."""
    try:
        with zipfile.ZipFile(path) as zipped:
            entries = {name: zipped.read(name) for name in zipped.namelist()}
    except (OSError, zipfile.BadZipFile) as error:
        raise BytecodeArchiveError(f"{path} cannot be read: {error}") from None
    try:
        manifest = json.loads(entries.pop(MANIFEST_NAME))
    except (KeyError, ValueError):
        raise BytecodeArchiveError(f"{path} has no readable {MANIFEST_NAME}") from None
    archive = _archive_of(manifest, entries, path)
    expected = {
        pyc_path(source, interpreter.cache_tag): interpreter
        for source in archive.sources
        for interpreter in archive.interpreters
    }
    for name, content in archive.pycs.items():
        interpreter = expected.get(name)
        if interpreter is None:
            raise BytecodeArchiveError(f"{path} holds {name}, which is no listed source's pyc")
        header = content[:_HEADER_BYTES]
        flags = int.from_bytes(header[4:8], "little")
        if len(header) < _HEADER_BYTES or header[:4].hex() != interpreter.magic:
            raise BytecodeArchiveError(f"{path}: {name} is not {interpreter.cache_tag} bytecode")
        if flags != PYC_FLAGS[archive.invalidation_mode]:
            raise BytecodeArchiveError(f"{path}: {name} is not a {archive.invalidation_mode} pyc")
    return archive


def _archive_of(manifest: Any, pycs: dict[str, bytes], path: Path) -> BytecodeArchive:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BytecodeArchiveError(
            f"{path} is not a format-{FORMAT} bytecode archive; rebuild it "
            "(python -m cdk_stream_fn.platform_roots.bytecode)"
        )
    mode = manifest.get("invalidation_mode")
    if mode not in PYC_FLAGS:
        raise BytecodeArchiveError(f"{path} names an unknown invalidation mode {mode!r}")
    try:
        interpreters = tuple(Interpreter(**item) for item in manifest["interpreters"])
        sources = {str(name): str(digest) for name, digest in manifest["sources"].items()}
    except (KeyError, TypeError, AttributeError):
        raise BytecodeArchiveError(f"{path} has a malformed {MANIFEST_NAME}") from None
    return BytecodeArchive(interpreters, sources, pycs, mode)


def shipped_bytecode(package_dir: Path, sources: Mapping[str, bytes]) -> ShippedBytecode:
    """The pycs of the archive in `package_dir` that belong to `sources` as they are now.

    A source whose SHA-256 is not the archive's gets none of its pycs (and is named in `problem`); so
    does every source when the archive is missing or unreadable.
    """
    path = package_dir / ARCHIVE_NAME
    if not path.is_file():
        return ShippedBytecode(
            {},
            f"the stream_fn package at {package_dir} has no {ARCHIVE_NAME}, so the layer ships no "
            "bytecode and every cold start compiles the runtime's modules; reinstall cdk-stream-fn, or in "
            "a checkout run ./dev setup on Linux with bubblewrap (it compiles them in the platform roots)",
        )
    try:
        archive = read_archive(path)
    except BytecodeArchiveError as error:
        return ShippedBytecode({}, f"the layer ships no bytecode: {error}")
    if archive.invalidation_mode != INVALIDATION_MODE:
        return ShippedBytecode(
            {},
            f"the layer ships no bytecode: {path} holds {archive.invalidation_mode} pycs, not {INVALIDATION_MODE}",
        )
    digests = source_digests(sources)
    fresh = [source for source, digest in digests.items() if archive.sources.get(source) == digest]
    stale = sorted(set(digests) - set(fresh))
    pycs = {
        name: archive.pycs[name]
        for name in (pyc_path(source, i.cache_tag) for source in fresh for i in archive.interpreters)
        if name in archive.pycs
    }
    missing = [python for python in INTERPRETERS if python not in {i.python for i in archive.interpreters}]
    problems = []
    if stale:
        problems.append(
            f"{', '.join(stale)} changed (or appeared) since {ARCHIVE_NAME} was built, so the layer ships no bytecode for "
            "them (rebuild it: ./dev setup, or python -m cdk_stream_fn.platform_roots.bytecode)"
        )
    if missing:
        problems.append(f"{ARCHIVE_NAME} has no bytecode for python{', python'.join(missing)}")
    return ShippedBytecode(dict(sorted(pycs.items())), "; ".join(problems) or None)


def is_fresh(package_dir: Path) -> bool:
    """Whether the package's archive is readable and holds every interpreter's pyc for every source."""
    try:
        archive = read_archive(package_dir / ARCHIVE_NAME)
    except BytecodeArchiveError:
        return False
    sources = read_package_sources(package_dir)
    return (
        dict(archive.sources) == source_digests(sources)
        and archive.invalidation_mode == INVALIDATION_MODE
        and {i.python for i in archive.interpreters} == set(INTERPRETERS)
        and set(archive.pycs) == set(_expected_pycs(sources, archive.interpreters))
    )


def _expected_pycs(sources: Iterable[str], interpreters: Iterable[Interpreter]) -> list[str]:
    interpreters = list(interpreters)
    return [pyc_path(source, interpreter.cache_tag) for source in sources for interpreter in interpreters]
