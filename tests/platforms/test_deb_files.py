"""Unpacking real .deb files, built here with dpkg-deb in each compression Debian uses."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cdk_stream_fn.platform_roots.deb_files import DebError, ar_members, extract_deb

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb builds the test packages")


def build_deb(tmp_path: Path, compression: str) -> bytes:
    tree = tmp_path / "tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        "Package: sample\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: s\n"
    )
    (tree / "usr" / "bin").mkdir(parents=True)
    (tree / "usr" / "bin" / "tool").write_text("#!/bin/sh\necho tool\n")
    (tree / "usr" / "bin" / "tool").chmod(0o755)
    (tree / "usr" / "bin" / "tool-link").symlink_to("tool")
    (tree / "usr" / "lib" / "sample").mkdir(parents=True)
    (tree / "usr" / "lib" / "sample" / "absolute").symlink_to("/usr/bin/tool")
    deb = tmp_path / f"sample-{compression}.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", f"-Z{compression}", "--build", str(tree), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb.read_bytes()


@pytest.mark.parametrize("compression", ["xz", "gzip", "none", "zstd"])
def test_a_deb_unpacks_as_dpkg_deb_extract_does(tmp_path: Path, compression: str) -> None:
    if compression == "zstd" and shutil.which("zstd") is None:
        pytest.skip("zstd is not installed")
    deb = build_deb(tmp_path, compression)
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    extract_deb(deb, ours)
    subprocess.run(
        ["dpkg-deb", "--extract", str(tmp_path / f"sample-{compression}.deb"), str(theirs)], check=True
    )

    def listing(root: Path) -> list[tuple[str, str, int]]:
        return sorted(
            (
                str(path.relative_to(root)),
                str(path.readlink()) if path.is_symlink() else ("dir" if path.is_dir() else path.read_text()),
                path.lstat().st_mode,
            )
            for path in root.rglob("*")
        )

    assert listing(ours) == listing(theirs)
    assert (ours / "usr/lib/sample/absolute").readlink() == Path("/usr/bin/tool")


def test_ar_members_are_read_by_name(tmp_path: Path) -> None:
    members = ar_members(build_deb(tmp_path, "xz"))
    assert list(members) == ["debian-binary", "control.tar.xz", "data.tar.xz"]
    assert members["debian-binary"] == b"2.0\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04 a zip file", "not an ar archive"),
        (
            b"!<arch>\n" + b"debian-binary   " + b"0" * 24 + b"100     " + b"4         " + b"XX",
            "malformed ar header",
        ),
        (
            b"!<arch>\n" + b"data.tar.xz     " + b"0" * 24 + b"100644  " + b"999       " + b"`\n" + b"short",
            "cut short",
        ),
    ],
)
def test_what_is_not_a_deb_is_refused_with_the_reason(data: bytes, message: str, tmp_path: Path) -> None:
    with pytest.raises(DebError, match=message):
        extract_deb(data, tmp_path)
