"""The platforms a function can run on locally: Lambda's Python version and architecture.

Lambda names a platform by its runtime (`python3.14`) and architecture (`arm64` or `x86_64`); Debian
names the architecture `arm64` or `amd64`. The interpreters come from Debian's packages, so only the
versions Debian carries can be had: python3.13 and python3.14 are in Debian's testing and unstable
suites; python3.12 is in no Debian suite (bookworm has 3.11, trixie 3.13), and no other source the
project may use (PyPI, npm, Debian) ships a CPython 3.12 interpreter for Linux.
"""

from __future__ import annotations

import platform as host_platform
import re
from dataclasses import dataclass
from typing import Final

DEFAULT_SUITE: Final = "testing"
"""The Debian suite roots come from: it carries python3.13 and python3.14 (so does unstable)."""

LAMBDA_ARCHITECTURES: Final = {"x86_64": "amd64", "arm64": "arm64"}
"""Lambda's architecture names, and Debian's name for each."""

ARCHITECTURE_ALIASES: Final = {"amd64": "x86_64", "aarch64": "arm64", "x86_64": "x86_64", "arm64": "arm64"}
"""Names accepted on the command line for each Lambda architecture."""

AVAILABLE_PYTHONS: Final = ("3.13", "3.14")
"""The Lambda Python versions whose interpreter Debian packages."""

UNAVAILABLE_PYTHONS: Final = {
    "3.12": "python3.12 has no Debian package (bookworm carries 3.11, trixie and later 3.13 and 3.14), and "
    "no registry this project uses ships a CPython 3.12 for Linux; test 3.12 on Lambda itself",
}

_HOST_MACHINES: Final = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


class PlatformError(ValueError):
    """A platform name that cannot be parsed, or an interpreter that cannot be had."""


@dataclass(frozen=True, order=True)
class Platform:
    """One Lambda Python runtime on one architecture, e.g. python3.14 on arm64."""

    python_version: str
    """`major.minor`, e.g. `3.14`."""
    architecture: str
    """Lambda's name: `arm64` or `x86_64`."""

    def __post_init__(self) -> None:
        if self.architecture not in LAMBDA_ARCHITECTURES:
            raise PlatformError(
                f"architecture must be one of {', '.join(sorted(LAMBDA_ARCHITECTURES))}, got {self.architecture!r}"
            )
        if self.python_version in UNAVAILABLE_PYTHONS:
            raise PlatformError(UNAVAILABLE_PYTHONS[self.python_version])
        if self.python_version not in AVAILABLE_PYTHONS:
            raise PlatformError(
                f"python{self.python_version} is not a Lambda runtime that can be had here; "
                f"choose one of {', '.join('python' + v for v in AVAILABLE_PYTHONS)}"
            )

    @property
    def runtime(self) -> str:
        """Lambda's runtime name: `python3.14`."""
        return f"python{self.python_version}"

    @property
    def debian_architecture(self) -> str:
        """Debian's architecture name: `amd64` or `arm64`."""
        return LAMBDA_ARCHITECTURES[self.architecture]

    @property
    def interpreter(self) -> str:
        """The interpreter's path inside a root (Lambda's is `/var/lang/bin/python3.X`)."""
        return f"/usr/bin/python{self.python_version}"

    @property
    def emulated(self) -> bool:
        """Whether this machine runs the platform's binaries through qemu-user rather than natively."""
        return host_architecture() != self.architecture

    def __str__(self) -> str:
        return f"{self.runtime}/{self.architecture}"


def host_architecture() -> str:
    """This machine's architecture in Lambda's naming (`x86_64` or `arm64`), or its own name if neither."""
    machine = host_platform.machine()
    return _HOST_MACHINES.get(machine.lower(), machine)


def parse_platform(text: str, *, default_architecture: str = "arm64") -> Platform:
    """`python3.14/arm64`, `3.14/x86_64`, `python3.13` (the default architecture) -> a Platform."""
    match = re.fullmatch(r"(?:python)?(3\.\d+)(?:/([A-Za-z0-9_]+))?", text.strip())
    if match is None:
        raise PlatformError(f"a platform looks like python3.14/arm64 or python3.13/x86_64, got {text!r}")
    version, architecture = match.group(1), match.group(2) or default_architecture
    return Platform(version, parse_architecture(architecture))


def parse_architecture(text: str) -> str:
    """Lambda's name for an architecture given as Lambda, Debian or the kernel names it."""
    try:
        return ARCHITECTURE_ALIASES[text.lower()]
    except KeyError:
        raise PlatformError(
            f"architecture must be arm64 or x86_64 (amd64 and aarch64 are accepted too), got {text!r}"
        ) from None
