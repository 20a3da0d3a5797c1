"""Compile the stream_fn runtime's bytecode for the layer with Lambda's interpreters, in the platform roots.

Run when the package is built (the hatch build hook, `hatch_build.py`) and by `./dev setup` for a
checkout: `python -m cdk_stream_fn.platform_roots.bytecode [--check] [--force] [PACKAGE_DIR]`. The
result is the package's `layer-bytecode.zip` (cdk_stream_fn.layer_bytecode says why there, and in
what form). Synthesis never compiles: it only reads the archive.

Each interpreter compiles the sources with `py_compile` (checked-hash, no optimization) in a root of
this machine's architecture (bytecode does not depend on the machine: an arm64 root compiles the same
bytes), from a copy mounted where Lambda puts the layer, `/opt/python/stream_fn`, so the file names
inside the code objects are the ones the modules have on Lambda. Marshal's output could in principle
depend on the compiling process (interned strings and reference counts decide which objects are
written with FLAG_REF, hash seeds the order of sets): each interpreter compiles twice, in processes with
different hash seeds, and a difference fails the build rather than ship bytes another machine would not
reproduce. The platform tier checks the same with the package's own modules imported first.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from ..layer_bytecode import (
    ARCHIVE_NAME,
    INTERPRETERS,
    INVALIDATION_MODE,
    BytecodeArchive,
    Interpreter,
    is_fresh,
    read_package_sources,
    source_digests,
    write_archive,
)
from .archive import ArchiveError
from .builder import RootSpec, ensure_root
from .debian_index import ArchiveFormatError
from .host import HostError
from .launch import sandbox_command
from .platforms import Platform, PlatformError, host_architecture
from .prepare import check_host

Progress = Callable[[str], None]

LAYER_PACKAGE_DIR = "/opt/python/stream_fn"
"""Where the layer puts the package on Lambda, and where the sources are compiled from."""
_OUTPUT_DIR = "/tmp/bytecode"
COMPILE_TIMEOUT_SECONDS = 120.0
HASH_SEEDS = ("0", "4242")
"""Two compilations per interpreter, in processes whose hash seeds differ: their bytes must be equal."""

# Runs in the root, by its interpreter: compile every source of the package, print the interpreter.
_COMPILE_SCRIPT = """
import importlib.util, json, os, py_compile, sys
package, output, mode = sys.argv[1:4]
for root, directories, names in os.walk(package):
    directories[:] = sorted(d for d in directories if d != "__pycache__")
    for name in sorted(names):
        if name.endswith(".py"):
            source = os.path.join(root, name)
            target = os.path.join(output, importlib.util.cache_from_source(os.path.relpath(source, package)))
            py_compile.compile(source, cfile=target, doraise=True, optimize=0,
                               invalidation_mode=py_compile.PycInvalidationMode[mode.upper().replace("-", "_")])
print(json.dumps({"python": "%d.%d" % sys.version_info[:2], "cache_tag": sys.implementation.cache_tag,
                  "magic": importlib.util.MAGIC_NUMBER.hex(), "version": sys.version}))
"""


class BytecodeBuildError(RuntimeError):
    """The bytecode could not be compiled here; the message says why and what to do."""


def compile_sources(
    rootfs: Path,
    platform: Platform,
    sources: Mapping[str, bytes],
    *,
    invalidation_mode: str = INVALIDATION_MODE,
    hash_seed: str = HASH_SEEDS[0],
    preload: bool = False,
) -> tuple[Interpreter, dict[str, bytes]]:
    """Compile `sources` (path relative to the package -> content) with the interpreter of the root at
    `rootfs`; returns it and the pycs by path relative to the package (`__pycache__/x.cpython-314.pyc`).

    With `preload`, the compiling process imports the package first (its names and constants are then
    live in the interpreter), a different process state that must not change the bytes.
    """
    with tempfile.TemporaryDirectory(prefix="stream-fn-bytecode-") as scratch:
        package = Path(scratch, "stream_fn")
        output = Path(scratch, "out")
        output.mkdir()
        for relative, content in sources.items():
            (package / relative).parent.mkdir(parents=True, exist_ok=True)
            (package / relative).write_bytes(content)
        script = _COMPILE_SCRIPT
        if preload:
            script = "import sys; sys.path.insert(0, '/opt/python'); import stream_fn.loop\n" + script
        command = sandbox_command(
            rootfs,
            [
                platform.interpreter,
                "-s",
                "-S",
                "-c",
                script,
                LAYER_PACKAGE_DIR,
                _OUTPUT_DIR,
                invalidation_mode,
            ],
            scratch_dirs=["/opt"],
            read_only_binds=[(package, LAYER_PACKAGE_DIR)],
            writable_binds=[(output, _OUTPUT_DIR)],
        )
        environment = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": hash_seed,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        try:
            result = subprocess.run(
                command,
                env=environment,
                capture_output=True,
                text=True,
                timeout=COMPILE_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BytecodeBuildError(
                f"compiling the runtime with {platform} took over {COMPILE_TIMEOUT_SECONDS:.0f} s"
            ) from None
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise BytecodeBuildError(f"compiling the runtime with {platform} failed: {' | '.join(tail)}")
        interpreter = Interpreter(**json.loads(result.stdout.strip().splitlines()[-1]))
        pycs = {
            path.relative_to(output).as_posix(): path.read_bytes() for path in sorted(output.rglob("*.pyc"))
        }
    return interpreter, pycs


def compiling_platform(python: str) -> Platform:
    """The platform whose root compiles for `python`: this machine's architecture, so no qemu is needed."""
    return Platform(python, host_architecture())


def build_archive(
    package_dir: Path, *, cache_dir: Path | None = None, progress: Progress = lambda _: None
) -> BytecodeArchive:
    """Compile the package in `package_dir` with every interpreter of INTERPRETERS, in its root."""
    sources = read_package_sources(package_dir)
    interpreters: list[Interpreter] = []
    pycs: dict[str, bytes] = {}
    for python in INTERPRETERS:
        try:
            platform = compiling_platform(python)
            check_host(platform)
            root = ensure_root(RootSpec(platform), cache_dir=cache_dir, progress=progress)
        except (PlatformError, HostError, ArchiveError, ArchiveFormatError) as error:
            raise BytecodeBuildError(
                f"the python{python} root that compiles the layer's bytecode cannot be had here: {error}"
            ) from None
        progress(f"compiling the runtime's bytecode with {platform}")
        first, compiled = compile_sources(root.rootfs, platform, sources, hash_seed=HASH_SEEDS[0])
        _, again = compile_sources(root.rootfs, platform, sources, hash_seed=HASH_SEEDS[1])
        differing = sorted(name for name in compiled if again.get(name) != compiled[name])
        if differing or set(again) != set(compiled):
            raise BytecodeBuildError(
                f"{platform} compiled the runtime to different bytes in two processes ({', '.join(differing)}): "
                "a layer built from them would differ between machines under one hash"
            )
        interpreters.append(first)
        pycs.update(compiled)
    return BytecodeArchive(tuple(interpreters), source_digests(sources), pycs)


def ensure_layer_bytecode(
    package_dir: Path,
    *,
    force: bool = False,
    cache_dir: Path | None = None,
    progress: Progress = lambda _: None,
) -> bool:
    """Build the package's archive unless it is fresh already (or `force`); True when it was built."""
    if not force and is_fresh(package_dir):
        return False
    archive = build_archive(package_dir, cache_dir=cache_dir, progress=progress)
    write_archive(package_dir / ARCHIVE_NAME, archive)
    return True


def installed_package_dir() -> Path:
    """The directory of the `stream_fn` package this interpreter imports (without importing it)."""
    spec = importlib.util.find_spec("stream_fn")
    if spec is None or not spec.submodule_search_locations:
        raise BytecodeBuildError("stream_fn is not installed here; run ./dev setup")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cdk_stream_fn.platform_roots.bytecode",
        description="Compile the stream_fn runtime's bytecode for the layer with Lambda's interpreters "
        f"(python{', python'.join(INTERPRETERS)}), in the platform roots, into the package's {ARCHIVE_NAME}.",
    )
    parser.add_argument("package_dir", nargs="?", type=Path, help="default: the installed stream_fn package")
    parser.add_argument("--check", action="store_true", help="only say whether the archive is up to date")
    parser.add_argument("--force", action="store_true", help="compile even when the archive is up to date")
    args = parser.parse_args(argv)
    try:
        package_dir = (args.package_dir or installed_package_dir()).resolve()
        if args.check:
            fresh = is_fresh(package_dir)
            print(f"{package_dir / ARCHIVE_NAME}: {'up to date' if fresh else 'missing or out of date'}")
            return 0 if fresh else 1
        built = ensure_layer_bytecode(package_dir, force=args.force, progress=lambda message: print(message))
    except BytecodeBuildError as error:
        print(f"cdk-stream-fn: the layer's bytecode was not built: {error}", file=sys.stderr)
        return 2
    print(f"{package_dir / ARCHIVE_NAME}: {'built' if built else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
