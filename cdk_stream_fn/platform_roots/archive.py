"""Debian's archive over HTTP: the signed index of a suite, its Packages index, and the `.deb` files.

The chain of trust is apt's (https://wiki.debian.org/SecureApt): `InRelease` is clear-signed by the
archive's keys and checked with gpgv against `debian-archive-keyring`; it names the SHA-256 of each
`Packages.xz`, which names the SHA-256 of each `.deb`. Plain HTTP is therefore enough, as it is for
apt. `Valid-Until` is not enforced: a mirror that serves an older signed snapshot still serves
authentic packages, and a root built from it is keyed by exactly what it holds.

Everything fetched is kept under the cache directory: the last verified `InRelease` of each suite (used
when the mirror cannot be reached), each `Packages.xz` by its hash, each `.deb` by its hash.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .debian_index import IndexedFile, PackageRecord, Release, parse_packages, parse_release, signed_content
from .platforms import DEFAULT_SUITE

DEFAULT_MIRROR = "http://deb.debian.org/debian"
__all__ = ["DEFAULT_SUITE", "ArchiveError", "DebianArchive"]
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
COMPONENT = "main"
DOWNLOAD_THREADS = 4
TIMEOUT_SECONDS = 60.0

Progress = Callable[[str], None]


class ArchiveError(RuntimeError):
    """The archive could not be reached, or served something that does not verify."""


class DebianArchive:
    """One Debian mirror, with everything it served kept under `cache_dir`."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        mirror: str = DEFAULT_MIRROR,
        keyring: Path = KEYRING,
        progress: Progress = lambda _: None,
    ) -> None:
        self.cache_dir = cache_dir
        self.mirror = mirror.rstrip("/")
        self.keyring = keyring
        self.progress = progress

    # The suite's signed index

    def release(self, suite: str) -> Release:
        """The suite's verified Release; the last verified copy when the mirror cannot be reached."""
        cached = self.cache_dir / "dists" / suite / "InRelease"
        url = f"{self.mirror}/dists/{suite}/InRelease"
        try:
            signed = self._get(url)
        except ArchiveError as error:
            if not cached.is_file():
                raise
            self.progress(f"{error}; using the copy verified on an earlier run")
            return parse_release(signed_content(cached.read_text()))
        self._verify_signature(signed, url)
        _write_atomically(cached, signed)
        return parse_release(signed_content(signed.decode("utf-8")))

    def _verify_signature(self, signed: bytes, url: str) -> None:
        gpgv = shutil.which("gpgv")
        if gpgv is None or not self.keyring.is_file():
            raise ArchiveError(
                f"cannot verify {url}: gpgv and Debian's archive keyring ({self.keyring}) are needed "
                "(apt-get install gpgv debian-archive-keyring)"
            )
        with tempfile.NamedTemporaryFile(suffix=".InRelease") as file:
            file.write(signed)
            file.flush()
            result = subprocess.run(
                [gpgv, "--keyring", str(self.keyring), "--status-fd", "1", file.name],
                capture_output=True,
                text=True,
                check=False,
            )
        # Like apt: one good signature by a key of the keyring is enough; another by a key it does
        # not know yet (a newer release's) makes gpgv exit non-zero but is not a forgery.
        if not any(line.startswith("[GNUPG:] VALIDSIG ") for line in result.stdout.splitlines()):
            detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise ArchiveError(f"{url} has no valid signature by Debian's archive keys: {' | '.join(detail)}")

    # The Packages index

    def packages_index_hash(self, release: Release, suite: str, architecture: str) -> str:
        """The SHA-256 of the suite's Packages.xz for `architecture`, as the signed Release names it."""
        return self._indexed(release, suite, architecture).sha256

    def packages(self, release: Release, suite: str, architecture: str) -> dict[str, PackageRecord]:
        """The suite's Packages index for `architecture`, verified against the Release."""
        indexed = self._indexed(release, suite, architecture)
        cached = self.cache_dir / "dists" / suite / f"Packages-{architecture}-{indexed.sha256}.xz"
        if not cached.is_file() or _sha256_file(cached) != indexed.sha256:
            url = f"{self.mirror}/dists/{suite}/{indexed.path}"
            self.progress(f"fetching {url} ({indexed.size / 1e6:.1f} MB)")
            data = self._get(url)
            if hashlib.sha256(data).hexdigest() != indexed.sha256:
                raise ArchiveError(f"{url} does not match the SHA-256 its signed Release names")
            for stale in cached.parent.glob(f"Packages-{architecture}-*.xz"):
                stale.unlink()
            _write_atomically(cached, data)
        return parse_packages(lzma.decompress(cached.read_bytes()).decode("utf-8"))

    def _indexed(self, release: Release, suite: str, architecture: str) -> IndexedFile:
        path = f"{COMPONENT}/binary-{architecture}/Packages.xz"
        try:
            return release.files[path]
        except KeyError:
            raise ArchiveError(
                f"the {suite} suite has no {path} (is {architecture} one of its architectures?)"
            ) from None

    # Package files

    def fetch(self, records: Iterable[PackageRecord]) -> dict[str, Path]:
        """Each package's `.deb` in the cache (downloaded and verified when missing), by package name."""
        records = list(records)
        paths = {record.name: self.deb_path(record) for record in records}
        missing = [record for record in records if not paths[record.name].is_file()]
        if missing:
            total = sum(record.size for record in missing)
            self.progress(f"downloading {len(missing)} packages ({total / 1e6:.1f} MB)")
            with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
                for _ in pool.map(self._download, missing):
                    pass
        return paths

    def deb_path(self, record: PackageRecord) -> Path:
        return self.cache_dir / "debs" / f"{record.sha256}.deb"

    def _download(self, record: PackageRecord) -> None:
        url = f"{self.mirror}/{record.filename}"
        data = self._get(url)
        if hashlib.sha256(data).hexdigest() != record.sha256:
            raise ArchiveError(f"{url} does not match the SHA-256 the Packages index names")
        _write_atomically(self.deb_path(record), data)

    def _get(self, url: str) -> bytes:
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
                return bytes(response.read())
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ArchiveError(f"cannot fetch {url}: {reason}") from None


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
