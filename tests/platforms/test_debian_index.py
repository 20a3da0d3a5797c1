"""Debian's Release and Packages formats, read without I/O: a table of cases per function."""

from __future__ import annotations

import pytest

from cdk_stream_fn.platform_roots.debian_index import (
    ArchiveFormatError,
    parse_packages,
    parse_relations,
    parse_release,
    signed_content,
    stanzas,
)

INRELEASE = """\
-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA256

Origin: Debian
Suite: testing
Codename: forky
Date: Fri, 30 Oct 2026 08:08:01 UTC
SHA256:
 aaaa 10 main/binary-amd64/Packages
 bbbb 5 main/binary-amd64/Packages.xz
- -dash-escaped: kept without its escape
-----BEGIN PGP SIGNATURE-----

iQIzBAEBCAAdFiEE
-----END PGP SIGNATURE-----
"""

PACKAGES = """\
Package: python3.14
Version: 3.14.8-1
Architecture: amd64
Pre-Depends: libc6 (>= 2.38)
Depends: python3.14-minimal (= 3.14.8-1), libpython3.14-stdlib (= 3.14.8-1), media-types | mime-support
Description: Interactive high-level object-oriented language
 continued description line
Filename: pool/main/p/python3.14/python3.14_3.14.8-1_amd64.deb
Size: 873608
SHA256: 1111

Package: debconf
Version: 1.5.92
Architecture: all
Provides: debconf-2.0
Filename: pool/main/d/debconf/debconf_1.5.92_all.deb
Size: 122512
SHA256: 2222

Package: debconf
Version: 0.1
Architecture: all
Filename: pool/main/d/debconf/debconf_0.1_all.deb
Size: 1
SHA256: 3333
"""


def test_signed_content_is_the_message_without_armor_or_dash_escapes() -> None:
    content = signed_content(INRELEASE)
    assert content.startswith("Origin: Debian\n")
    assert "-dash-escaped: kept without its escape\n" in content
    assert "PGP" not in content and "Hash:" not in content


def test_a_file_without_a_signed_message_is_refused() -> None:
    with pytest.raises(ArchiveFormatError, match="not a clear-signed InRelease"):
        signed_content("Origin: Debian\n")


def test_the_release_lists_each_index_by_hash_and_size() -> None:
    release = parse_release(signed_content(INRELEASE))
    assert (release.suite, release.codename) == ("testing", "forky")
    xz = release.files["main/binary-amd64/Packages.xz"]
    assert (xz.sha256, xz.size) == ("bbbb", 5)


def test_a_release_without_hashes_is_refused() -> None:
    with pytest.raises(ArchiveFormatError, match="no SHA256"):
        parse_release("Origin: Debian\nSuite: testing\n")


@pytest.mark.parametrize(
    ("value", "groups"),
    [
        ("", ()),
        ("libc6", (("libc6",),)),
        ("libc6 (>= 2.38), zlib1g (>= 1:1.2.0)", (("libc6",), ("zlib1g",))),
        ("media-types | mime-support", (("media-types", "mime-support"),)),
        ("python3:any (>= 3.11~), libgcc-s1:amd64", (("python3",), ("libgcc-s1",))),
        ("debconf (>= 0.5) | debconf-2.0", (("debconf", "debconf-2.0"),)),
        ("libstdc++6 (>= 13)", (("libstdc++6",),)),
    ],
)
def test_relations_keep_names_and_alternatives_only(value: str, groups: tuple[tuple[str, ...], ...]) -> None:
    assert parse_relations(value) == groups


def test_packages_carry_pre_depends_then_depends_and_provides() -> None:
    packages = parse_packages(PACKAGES)
    python = packages["python3.14"]
    assert python.depends == (
        ("libc6",),
        ("python3.14-minimal",),
        ("libpython3.14-stdlib",),
        ("media-types", "mime-support"),
    )
    assert (python.filename, python.size, python.sha256) == (
        "pool/main/p/python3.14/python3.14_3.14.8-1_amd64.deb",
        873608,
        "1111",
    )
    assert packages["debconf"].provides == ("debconf-2.0",)


def test_the_first_stanza_of_a_package_wins() -> None:
    assert parse_packages(PACKAGES)["debconf"].version == "1.5.92"


def test_a_package_without_its_file_fields_is_refused_by_name() -> None:
    with pytest.raises(ArchiveFormatError, match="package broken"):
        parse_packages("Package: broken\nVersion: 1\n")


def test_stanzas_join_continuation_lines() -> None:
    (first, *_) = stanzas(PACKAGES)
    assert first["Description"].endswith("language\ncontinued description line")
