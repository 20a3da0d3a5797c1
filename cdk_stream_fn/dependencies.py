"""Install a function's Python dependencies for Lambda's platform with pip, without Docker.

pip can fetch wheels built for another platform (`--platform`, `--python-version`, `--implementation`,
`--only-binary=:all:`), so a function's dependencies are installed on the developer's machine exactly as
Lambda will import them. A dependency without such a wheel cannot be built here (that would need the
target's compilers, i.e. Docker), so it is reported by name instead.

Standard library only: nothing here imports aws_cdk, so it is cheap to import and test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import tomllib

REQUIREMENTS_FILE = "requirements.txt"
PYPROJECT_FILE = "pyproject.toml"
QUIET_PIP = ("--disable-pip-version-check", "--no-input", "--quiet")
"""pip options for an install run by a tool: no version nag, no prompt, only errors."""

# Every managed Python runtime this project supports (python3.12+) runs on Amazon Linux 2023, whose
# glibc is 2.34: any manylinux wheel up to manylinux_2_34 loads there. pip does not expand a
# `manylinux_2_X` platform to the older ones, so each is named (manylinux2014 covers 2010 and 1).
_LAMBDA_GLIBC_MINOR = 34
_MANYLINUX2014_GLIBC_MINOR = 17
_PIP_ARCH = {"arm64": "aarch64", "x86_64": "x86_64"}


class DependencyInstallError(RuntimeError):
    """pip could not install a function's dependencies for the Lambda platform."""


@dataclass(frozen=True)
class LambdaPlatform:
    """The interpreter and machine a function runs on, as pip needs to know them."""

    python_version: str
    """`major.minor`, e.g. `3.14`."""
    architecture: str
    """Lambda's architecture name: `arm64` or `x86_64`."""

    def __post_init__(self) -> None:
        if self.architecture not in _PIP_ARCH:
            raise ValueError(f"architecture must be one of {sorted(_PIP_ARCH)}, got {self.architecture!r}")
        if not re.fullmatch(r"3\.\d+", self.python_version):
            raise ValueError(f"python_version must look like '3.14', got {self.python_version!r}")

    @property
    def machine(self) -> str:
        """The architecture as wheel tags name it: `aarch64` or `x86_64`."""
        return _PIP_ARCH[self.architecture]

    @property
    def pip_platforms(self) -> list[str]:
        """The wheel platform tags Lambda can load, newest first."""
        newer = [
            f"manylinux_2_{minor}_{self.machine}"
            for minor in range(_LAMBDA_GLIBC_MINOR, _MANYLINUX2014_GLIBC_MINOR, -1)
        ]
        return [*newer, f"manylinux2014_{self.machine}"]

    def describe(self) -> str:
        """How an error message names this platform."""
        return f"Python {self.python_version} on manylinux {self.machine} ({self.architecture})"


@dataclass(frozen=True)
class Requirements:
    """What to install for a function: a requirements file, or the dependencies a pyproject lists."""

    source: Path
    """The file the requirements come from (shown in errors)."""
    requirements_file: Path | None = None
    specifiers: tuple[str, ...] = ()

    def pip_arguments(self) -> list[str]:
        if self.requirements_file is not None:
            return ["--requirement", str(self.requirements_file)]
        return list(self.specifiers)


def find_requirements(entry: Path) -> Requirements | None:
    """The dependencies declared in a function directory, or None when there are none to install.

    `requirements.txt` wins over `pyproject.toml`; from a pyproject only `[project] dependencies` are
    installed (the function's own code is copied as it is, never built as a package).
    """
    requirements_file = entry / REQUIREMENTS_FILE
    if requirements_file.is_file():
        return Requirements(source=requirements_file, requirements_file=requirements_file)
    pyproject = entry / PYPROJECT_FILE
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise DependencyInstallError(f"{pyproject} is not valid TOML: {error}") from error
        dependencies = data.get("project", {}).get("dependencies", [])
        if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
            raise DependencyInstallError(
                f"{pyproject}: [project] dependencies must be a list of requirement strings, "
                f"got {dependencies!r}"
            )
        if dependencies:
            return Requirements(source=pyproject, specifiers=tuple(dependencies))
    return None


def pip_install_command(requirements: Requirements, target: Path, platform: LambdaPlatform) -> list[str]:
    """The pip command that installs `requirements` into `target` for `platform`, wheels only."""
    platforms = [argument for tag in platform.pip_platforms for argument in ("--platform", tag)]
    return pip_wheels_command(
        requirements,
        target,
        platform.python_version,
        # byte code compiled by this interpreter would be useless on Lambda's
        [*platforms, "--no-compile"],
    )


def pip_wheels_command(
    requirements: Requirements, target: Path, python_version: str, options: Sequence[str] = ()
) -> list[str]:
    """This interpreter's pip installing `requirements` into `target` for CPython `python_version`, wheels
    only (pip may not build a package for an interpreter other than its own), with more `options`."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--target",
        str(target),
        *options,
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "--only-binary=:all:",
        *QUIET_PIP,
        *requirements.pip_arguments(),
    ]


def install_dependencies(
    requirements: Requirements, target: Path, platform: LambdaPlatform, *, cwd: Path
) -> None:
    """Install `requirements` into `target` for `platform`; raise DependencyInstallError on failure.

    pip runs in `cwd` (the function directory) so that relative paths in a requirements file mean
    what they mean to the developer; the rest of pip's configuration (index URL, proxy) is theirs.
    """
    environment = {**os.environ, "PIP_USER": "0", "PIP_REQUIRE_VIRTUALENV": "0"}
    command = pip_install_command(requirements, target, platform)
    try:
        result = subprocess.run(
            command, cwd=cwd, env=environment, check=False, capture_output=True, text=True
        )
    except OSError as error:
        raise DependencyInstallError(f"could not start pip ({sys.executable} -m pip): {error}") from error
    if result.returncode != 0:
        raise DependencyInstallError(_explain_pip_failure(result.stderr, requirements, platform))


def _explain_pip_failure(stderr: str, requirements: Requirements, platform: LambdaPlatform) -> str:
    if "No module named pip" in stderr:
        return (
            f"pip is not installed in the Python that runs this CDK app ({sys.executable}), so the "
            f"dependencies in {requirements.source} cannot be installed. Install cdk-stream-fn with its "
            "dependencies (they include pip) or run `python -m ensurepip`."
        )
    missing = re.findall(r"No matching distribution found for (\S+)", stderr)
    pip_said = "\n".join(f"    {line}" for line in stderr.strip().splitlines()[-12:])
    if missing:
        names = ", ".join(sorted(set(missing)))
        return (
            f"no wheel of {names} (from {requirements.source}) is available for Lambda's platform, "
            f"{platform.describe()}. Dependencies are installed from wheels only, without Docker, so "
            "nothing can be compiled here. To fix it: pin a version that publishes a manylinux wheel "
            f"for {platform.machine} and Python {platform.python_version}; or set "
            "StreamingFunction's architecture (or runtime) to one the package has wheels for; or vendor a "
            f"pure-Python copy into the function directory.\n  pip said:\n{pip_said}"
        )
    return f"pip could not install the dependencies in {requirements.source}:\n{pip_said}"
