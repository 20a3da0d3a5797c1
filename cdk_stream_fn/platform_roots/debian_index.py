"""Debian's archive index, read without I/O: the signed Release file and a Packages index.

Formats from Debian Policy ch. 5 (control files, deb822) and the repository format
(https://wiki.debian.org/DebianRepository/Format): a Release file lists, under `SHA256:`, every index
file with its hash and size; a Packages index is one stanza per binary package with `Package`,
`Version`, `Depends`, `Pre-Depends`, `Provides`, `Filename`, `SHA256` and `Size`. Dependency fields
are comma-separated groups of `|`-separated alternatives, each a name with an optional `:arch`
qualifier and `(op version)` constraint.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

_WANTED_FIELDS = frozenset(
    {"Package", "Version", "Architecture", "Depends", "Pre-Depends", "Provides", "Filename", "SHA256", "Size"}
)
_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")


class ArchiveFormatError(ValueError):
    """The index (or Release file) is not what Debian's archive serves."""


@dataclass(frozen=True)
class IndexedFile:
    """An index file named by a Release file: its path under the suite, SHA-256 and size."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Release:
    """The fields of a suite's Release file this project needs."""

    suite: str
    codename: str
    date: str
    files: Mapping[str, IndexedFile]


@dataclass(frozen=True)
class PackageRecord:
    """One binary package of a Packages index."""

    name: str
    version: str
    architecture: str
    filename: str
    """The `.deb`'s path under the mirror's root (`pool/main/...`)."""
    sha256: str
    size: int
    depends: tuple[tuple[str, ...], ...] = ()
    """`Pre-Depends` then `Depends`: groups of alternatives, names only."""
    provides: tuple[str, ...] = ()


def stanzas(text: str) -> Iterator[dict[str, str]]:
    """The deb822 stanzas of `text`, each field's value with continuation lines joined by newlines."""
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        name = None
        for line in block.splitlines():
            if not line or line.startswith("#"):
                continue
            if line[0] in " \t":
                if name is None:
                    raise ArchiveFormatError(f"a continuation line before any field: {line!r}")
                fields[name] += "\n" + line.strip()
                continue
            name, separator, value = line.partition(":")
            if not separator:
                raise ArchiveFormatError(f"a line that is not 'Field: value': {line!r}")
            fields[name] = value.strip()
        if fields:
            yield fields


def signed_content(inrelease: str) -> str:
    """The text an OpenPGP clear-signed InRelease file signs (the caller verifies the signature)."""
    lines = inrelease.splitlines()
    try:
        start = lines.index("-----BEGIN PGP SIGNED MESSAGE-----")
        end = lines.index("-----BEGIN PGP SIGNATURE-----")
    except ValueError:
        raise ArchiveFormatError("not a clear-signed InRelease file (no PGP signed message)") from None
    body = lines[start + 1 : end]
    while body and body[0]:  # armor headers ("Hash: SHA256") up to the blank line
        body.pop(0)
    return "\n".join(line.removeprefix("- ") for line in body[1:]) + "\n"


def parse_release(text: str) -> Release:
    """A Release file (or the signed content of an InRelease file)."""
    try:
        fields = next(stanzas(text))
    except StopIteration:
        raise ArchiveFormatError("an empty Release file") from None
    files = {}
    for line in fields.get("SHA256", "").splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        digest, size, path = parts
        files[path] = IndexedFile(path, digest, int(size))
    if not files:
        raise ArchiveFormatError("the Release file lists no SHA256 hashes")
    return Release(
        suite=fields.get("Suite", ""),
        codename=fields.get("Codename", ""),
        date=fields.get("Date", ""),
        files=files,
    )


def parse_relations(value: str) -> tuple[tuple[str, ...], ...]:
    """`a (>= 1) | b:any, c` -> (("a", "b"), ("c",)): names only, constraints and qualifiers dropped."""
    groups = []
    for group in value.split(","):
        names = []
        for alternative in group.split("|"):
            match = _NAME.match(alternative.strip())
            if match is not None:
                names.append(match.group(0))
        if names:
            groups.append(tuple(names))
    return tuple(groups)


def parse_packages(text: str) -> dict[str, PackageRecord]:
    """A Packages index, by package name. The archive's suites list one version of each binary package
    per architecture; should a name appear twice, the first stanza is kept."""
    packages: dict[str, PackageRecord] = {}
    for fields in _package_stanzas(text):
        name = fields.get("Package")
        if not name or name in packages:
            continue
        try:
            record = PackageRecord(
                name=name,
                version=fields["Version"],
                architecture=fields.get("Architecture", ""),
                filename=fields["Filename"],
                sha256=fields["SHA256"],
                size=int(fields["Size"]),
                depends=parse_relations(fields.get("Pre-Depends", ""))
                + parse_relations(fields.get("Depends", "")),
                provides=tuple(group[0] for group in parse_relations(fields.get("Provides", ""))),
            )
        except (KeyError, ValueError) as error:
            raise ArchiveFormatError(f"package {name}: a missing or malformed field ({error})") from None
        packages[name] = record
    return packages


def _package_stanzas(text: str) -> Iterator[dict[str, str]]:
    """Like `stanzas`, but keeping only the fields a root needs: a Packages index is 60 MB of text."""
    for block in text.split("\n\n"):
        fields = {}
        for line in block.split("\n"):
            if line and line[0] not in " \t#":
                name, _, value = line.partition(":")
                if name in _WANTED_FIELDS:
                    fields[name] = value.strip()
        if fields:
            yield fields
