"""Build a platform root, or find it in the cache: resolve, fetch, unpack, lay out, rename.

A root is built from the archive's packages alone: no debootstrap and no maintainer scripts, so an
arm64 root unpacks as fast as an amd64 one (qemu is needed only to run it). The interpreter's standard
library is compiled to byte code at build time, as Debian's `py3compile` and Lambda's image have it,
because the root is read-only when a runtime runs there.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import layout
from .archive import DebianArchive
from .cache import CachedRoot, RootCache, default_cache_dir
from .deb_files import extract_deb
from .debian_index import PackageRecord
from .host import HostError
from .launch import sandbox_command
from .platforms import DEFAULT_SUITE, LAMBDA_ARCHITECTURES, Platform, host_architecture
from .resolver import resolve

Progress = Callable[[str], None]

RESOLVER_VERSION = 2
"""Part of a cached resolution's key: a change to resolver.py that can choose other packages bumps it."""

BASE_PACKAGES = ("bash", "libstdc++6")
"""Besides the interpreter: the shell of Lambda's bootstrap (a bash script, and /bin/sh as on Amazon
Linux), and the C++ runtime that Lambda's images carry (awslambdaric's own extension links to it, and so
do many compiled wheels)."""


@dataclass(frozen=True)
class RootSpec:
    """What a root holds: one interpreter of one suite for one architecture, and any extra packages."""

    platform: Platform
    suite: str = DEFAULT_SUITE
    extra_packages: tuple[str, ...] = field(default=())

    @property
    def packages(self) -> tuple[str, ...]:
        """The packages asked for (the root holds their dependency closure)."""
        return (self.platform.runtime, *BASE_PACKAGES, *self.extra_packages)

    @property
    def name(self) -> str:
        """The root's name in the cache, without its key: `python3.14-arm64-testing[-<extras hash>]`."""
        name = f"{self.platform.runtime}-{self.platform.architecture}-{self.suite}"
        if self.extra_packages:
            name += "-" + hashlib.sha256(" ".join(sorted(self.extra_packages)).encode()).hexdigest()[:8]
        return name


@dataclass(frozen=True)
class BuiltRoot:
    """A whole root: where its file system is, and what it holds."""

    spec: RootSpec
    rootfs: Path
    key: str
    packages: tuple[tuple[str, str], ...]
    """(name, version) of every package unpacked."""
    built: bool
    """Whether this call built it (False: it came from the cache)."""
    seconds: float


def ensure_root(
    spec: RootSpec,
    *,
    cache_dir: Path | None = None,
    archive: DebianArchive | None = None,
    progress: Progress = lambda _: None,
) -> BuiltRoot:
    """The root for `spec`: from the cache when one holds exactly what `spec` resolves to today."""
    started = time.perf_counter()
    cache_dir = default_cache_dir() if cache_dir is None else cache_dir
    archive = archive or DebianArchive(cache_dir, progress=progress)
    records = _resolved(spec, archive, cache_dir)
    key = root_key(spec, records)
    cache = RootCache(cache_dir)
    cached = cache.whole(spec.name, key)
    if cached is None:
        compiler = _bytecode_compiler(spec, records, cache_dir=cache_dir, archive=archive, progress=progress)
        with cache.building():
            cached = cache.whole(spec.name, key)  # another process may have built it meanwhile
            if cached is None:
                cached = _build(spec, records, key, cache, archive, progress, compiler=compiler)
                return _built(spec, cached, built=True, started=started)
    return _built(spec, cached, built=False, started=started)


def root_key(spec: RootSpec, records: list[PackageRecord]) -> str:
    """The SHA-256 of everything a root holds (see cache.py)."""
    content = {
        "suite": spec.suite,
        "architecture": spec.platform.debian_architecture,
        "python": spec.platform.python_version,
        "layout": layout.layout_fingerprint(spec.platform),
        "packages": [[record.name, record.version, record.sha256] for record in records],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _resolved(spec: RootSpec, archive: DebianArchive, cache_dir: Path) -> list[PackageRecord]:
    """The closure of `spec.packages` in today's index; reused while the index is the same."""
    architecture = spec.platform.debian_architecture
    release = archive.release(spec.suite)
    index_hash = archive.packages_index_hash(release, spec.suite, architecture)
    wanted = sorted(spec.packages)
    resolution = (
        cache_dir
        / "resolutions"
        / (hashlib.sha256(json.dumps([index_hash, wanted]).encode()).hexdigest() + ".json")
    )
    try:
        return [
            PackageRecord(**{**item, "depends": (), "provides": ()})
            for item in json.loads(resolution.read_text())
        ]
    except (OSError, ValueError, TypeError):
        pass
    records = resolve(archive.packages(release, spec.suite, architecture), wanted)
    resolution.parent.mkdir(parents=True, exist_ok=True)
    fields = ("name", "version", "architecture", "filename", "sha256", "size")
    resolution.write_text(
        json.dumps([{name: getattr(record, name) for name in fields} for record in records])
    )
    return records


def _bytecode_compiler(
    spec: RootSpec,
    records: list[PackageRecord],
    *,
    cache_dir: Path,
    archive: DebianArchive,
    progress: Progress,
) -> Path | None:
    """The rootfs whose interpreter compiles `spec`'s byte code: None for the root's own, else a root of
    the same Python build on this machine's architecture (byte code does not depend on the machine, and
    qemu compiles the standard library 10 to 30 times slower)."""
    host = host_architecture()
    if not spec.platform.emulated or host not in LAMBDA_ARCHITECTURES:
        return None
    native = ensure_root(
        RootSpec(Platform(spec.platform.python_version, host), spec.suite),
        cache_dir=cache_dir,
        archive=archive,
        progress=progress,
    )
    interpreter_package = f"lib{spec.platform.runtime}-minimal"
    wanted = {record.name: record.version for record in records}.get(interpreter_package)
    if wanted is None or dict(native.packages).get(interpreter_package) != wanted:
        return None  # another build of the interpreter: its byte code might not load
    return native.rootfs


def compile_bytecode(rootfs: Path, platform: Platform, *, compiler: Path | None = None) -> None:
    """Compile the root's Python libraries in place, as Debian's py3compile would have at install time."""
    library = f"/usr/lib/{platform.runtime}"
    targets = [library] + (
        ["/usr/lib/python3/dist-packages"] if (rootfs / "usr/lib/python3/dist-packages").is_dir() else []
    )
    if compiler is None:
        command = sandbox_command(
            rootfs, [platform.interpreter, "-m", "compileall", "-q", "-j0", *targets], writable_root=True
        )
    else:  # the foreign root's libraries, mounted at /opt and /var/task of the compiling root
        mounts = list(zip((rootfs / target.lstrip("/") for target in targets), ("/opt", "/var/task")))
        compile_each = [
            f"{platform.interpreter} -m compileall -q -j0 -s {mount} -p {target} {mount} || exit 1"
            for (_, mount), target in zip(mounts, targets)
        ]
        command = sandbox_command(compiler, ["/bin/sh", "-c", "; ".join(compile_each)], writable_binds=mounts)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise HostError(f"compiling the {platform} root's byte code failed: {' | '.join(output)}")


def _build(
    spec: RootSpec,
    records: list[PackageRecord],
    key: str,
    cache: RootCache,
    archive: DebianArchive,
    progress: Progress,
    *,
    compiler: Path | None,
) -> CachedRoot:
    started = time.perf_counter()
    debs = archive.fetch(records)
    scratch = cache.scratch(spec.name)
    rootfs = scratch / "rootfs"
    rootfs.mkdir()
    progress(f"unpacking {len(records)} packages into a {spec.platform} root")
    layout.prepare_layout(rootfs, spec.platform)
    for record in records:
        extract_deb(debs[record.name].read_bytes(), rootfs)
    layout.complete_layout(rootfs, spec.platform)
    progress(f"compiling the {spec.platform} root's byte code")
    compile_bytecode(rootfs, spec.platform, compiler=compiler)
    manifest = {
        "key": key,
        "platform": str(spec.platform),
        "suite": spec.suite,
        "extra_packages": list(spec.extra_packages),
        "packages": [[record.name, record.version] for record in records],
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    return cache.commit(scratch, spec.name, manifest)


def _built(spec: RootSpec, cached: CachedRoot, *, built: bool, started: float) -> BuiltRoot:
    packages = tuple((str(name), str(version)) for name, version in cached.manifest["packages"])
    return BuiltRoot(
        spec=spec,
        rootfs=cached.rootfs,
        key=cached.key,
        packages=packages,
        built=built,
        seconds=time.perf_counter() - started,
    )
