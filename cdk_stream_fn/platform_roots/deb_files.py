"""Unpacking a `.deb` into a directory, as `dpkg-deb --extract` does, without dpkg.

A `.deb` is an ar archive of `debian-binary`, `control.tar.*` and `data.tar.*` (deb(5)); the files it
installs are `data.tar`, compressed with xz (Debian's default), gzip, bzip2 or zstd, or not at all.
Maintainer scripts (in `control.tar`) are never run: a root for Python needs none of them. Python's
tarfile does the unpacking, with its `tar` filter (no paths outside the root, no setuid bits);
zstd, which the standard library lacks before 3.14, goes through the `zstd` command.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

AR_MAGIC = b"!<arch>\n"
_AR_HEADER_SIZE = 60


class DebError(ValueError):
    """The file is not a .deb this module can unpack; the message says why."""


def ar_members(data: bytes) -> dict[str, bytes]:
    """The members of an ar archive (the common format `.deb` files use), by name."""
    if not data.startswith(AR_MAGIC):
        raise DebError("not an ar archive (a .deb starts with '!<arch>')")
    members = {}
    offset = len(AR_MAGIC)
    while offset + _AR_HEADER_SIZE <= len(data):
        header = data[offset : offset + _AR_HEADER_SIZE]
        if header[58:60] != b"`\n":
            raise DebError(f"a malformed ar header at byte {offset}")
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        start = offset + _AR_HEADER_SIZE
        if start + size > len(data):
            raise DebError(f"ar member {name!r} is cut short")
        members[name] = data[start : start + size]
        offset = start + size + (size % 2)
    return members


def data_tar(deb: bytes) -> tarfile.TarFile:
    """The opened `data.tar.*` member of a .deb."""
    members = ar_members(deb)
    for name, payload in members.items():
        if not name.startswith("data.tar"):
            continue
        if name.endswith(".zst"):
            payload = _unzstd(payload)
        return tarfile.open(fileobj=io.BytesIO(payload), mode="r:*")
    raise DebError(f"no data.tar member (members: {', '.join(members) or 'none'})")


def extract_deb(deb: bytes, destination: Path) -> list[str]:
    """Unpack a .deb's files into `destination`; returns the paths it installed (relative, as in the tar)."""
    with data_tar(deb) as archive:
        names = archive.getnames()
        archive.extractall(destination, filter="tar")
    return names


def _unzstd(payload: bytes) -> bytes:
    zstd = shutil.which("zstd")
    if zstd is None:
        raise DebError(
            "this .deb's data is zstd-compressed and the `zstd` command is missing (apt-get install zstd)"
        )
    result = subprocess.run([zstd, "-dc"], input=payload, capture_output=True, check=False)
    if result.returncode != 0:
        raise DebError(
            f"zstd could not decompress the data: {result.stderr.decode(errors='replace').strip()}"
        )
    return result.stdout
