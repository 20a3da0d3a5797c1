"""Roots in the cache: whole ones are used, half-built or tampered ones are removed and built again."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cdk_stream_fn.platform_roots.builder import RootSpec, ensure_root, root_key
from cdk_stream_fn.platform_roots.cache import RootCache, default_cache_dir
from cdk_stream_fn.platform_roots.debian_index import PackageRecord
from cdk_stream_fn.platform_roots.platforms import Platform

from .conftest import built_root

KEY = "a" * 64


def record(name: str, version: str = "1", sha256: str = "0" * 64) -> PackageRecord:
    return PackageRecord(name, version, "amd64", f"pool/{name}.deb", sha256, 1)


def whole_root(cache: RootCache, name: str, key: str) -> Path:
    directory = cache.directory(name, key)
    (directory / "rootfs").mkdir(parents=True)
    (directory / "manifest.json").write_text(json.dumps({"key": key, "packages": []}))
    return directory


def test_a_whole_root_is_found(tmp_path: Path) -> None:
    cache = RootCache(tmp_path)
    directory = whole_root(cache, "python3.14-x86_64-testing", KEY)
    found = cache.whole("python3.14-x86_64-testing", KEY)
    assert found is not None and found.rootfs == directory / "rootfs"


@pytest.mark.parametrize(
    "damage",
    [
        "no manifest (the build was killed before its last step)",
        "a manifest naming another key",
        "a manifest that is not JSON",
    ],
)
def test_a_half_built_or_tampered_root_is_removed_not_trusted(tmp_path: Path, damage: str) -> None:
    cache = RootCache(tmp_path)
    directory = whole_root(cache, "python3.14-x86_64-testing", KEY)
    manifest = directory / "manifest.json"
    if damage.startswith("no manifest"):
        manifest.unlink()
    elif damage.startswith("a manifest naming"):
        manifest.write_text(json.dumps({"key": "b" * 64}))
    else:
        manifest.write_text("{")

    assert cache.whole("python3.14-x86_64-testing", KEY) is None
    assert not directory.exists()


def test_what_a_killed_build_left_is_cleared_when_the_next_build_starts(tmp_path: Path) -> None:
    cache = RootCache(tmp_path)
    leftover = cache.roots_dir / ".build-python3.14-x86_64-testing-12345"
    (leftover / "rootfs" / "usr").mkdir(parents=True)
    (leftover / "rootfs" / "usr").chmod(0o555)
    with cache.building():
        assert not leftover.exists()


@pytest.mark.parametrize(
    "change",
    [
        lambda spec, records: (spec, [record("python3.14", "3.14.9-1")]),
        lambda spec, records: (spec, [record("python3.14", sha256="1" * 64)]),
        lambda spec, records: (spec, [*records, record("libextra")]),
        lambda spec, records: (RootSpec(Platform("3.14", "arm64")), records),
        lambda spec, records: (RootSpec(spec.platform, suite="unstable"), records),
    ],
    ids=["a version", "a package's bytes", "another package", "the architecture", "the suite"],
)
def test_the_key_changes_with_anything_the_root_holds(change) -> None:  # type: ignore[no-untyped-def]
    spec = RootSpec(Platform("3.14", "x86_64"))
    records = [record("python3.14", "3.14.8-1")]
    assert root_key(*change(spec, records)) != root_key(spec, records)


def test_a_damaged_root_in_a_real_cache_is_built_again(tmp_path: Path) -> None:
    """With the archive's files shared (nothing is downloaded again), a root whose manifest is gone is
    rebuilt from scratch; asked again, it comes from the cache."""
    spec = RootSpec(Platform("3.13", "x86_64"))
    built_root(spec)  # the shared cache holds the index and the packages
    shared = default_cache_dir()
    for part in ("dists", "debs", "resolutions"):
        os.symlink(shared / part, tmp_path / part)
    first = ensure_root(spec, cache_dir=tmp_path)
    (first.rootfs.parent / "manifest.json").unlink()
    (first.rootfs / "usr" / "bin" / "python3.13").unlink()  # what a half-built root might lack

    rebuilt = ensure_root(spec, cache_dir=tmp_path)
    cached = ensure_root(spec, cache_dir=tmp_path)

    assert (rebuilt.built, rebuilt.key) == (True, first.key)
    assert (rebuilt.rootfs / "usr" / "bin" / "python3.13").is_file()
    assert (cached.built, cached.rootfs) == (False, rebuilt.rootfs)
