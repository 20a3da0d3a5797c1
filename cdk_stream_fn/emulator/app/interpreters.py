"""The Pythons on this machine that can run a function: found by version, and asked what they are.

A function deployed on `python3.13` runs here on a Python 3.13 when one is installed: `python3.13` on
PATH, or one that pyenv or uv manage (their shims and `python3.X` commands are only on PATH when that
version is selected, so their version directories are looked in too). Each candidate is run once to ask
its version, machine and whether it has pip; a candidate that does not answer (a pyenv shim of a version
that is not selected fails) is passed over. Nothing here installs an interpreter.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: How long a candidate gets to say what it is (a cold start of a Python from a slow disk included).
PROBE_TIMEOUT_SECONDS = 15.0

_PROBE = (
    "import importlib.util, json, platform, sys; print(json.dumps({"
    "'implementation': sys.implementation.name, "
    "'version': platform.python_version(), "
    "'machine': platform.machine(), "
    "'pip': importlib.util.find_spec('pip') is not None}))"
)

_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class LocalInterpreter:
    """A CPython on this machine."""

    path: str
    version: str
    """The full version, e.g. `3.13.0`."""
    machine: str
    """Lambda's name for its architecture (`x86_64`, `arm64`), or the machine's own if neither."""
    has_pip: bool

    @property
    def minor(self) -> str:
        """`3.13`."""
        return ".".join(self.version.split(".")[:2])

    @property
    def is_current(self) -> bool:
        """Whether it is the Python the emulator runs on."""
        return self.path == sys.executable


def current_interpreter() -> LocalInterpreter:
    """The Python the emulator runs on (cdk-stream-fn depends on pip, so it has pip)."""
    return LocalInterpreter(
        path=sys.executable,
        version=platform.python_version(),
        machine=_MACHINES.get(platform.machine().lower(), platform.machine()),
        has_pip=True,
    )


@functools.cache
def find_interpreter(minor: str) -> LocalInterpreter | None:
    """A CPython `minor` (`3.13`) on this machine: this one if it is that version, else the first that
    answers of `python3.X` on PATH, then pyenv's and uv's installs of it; None if there is none."""
    current = current_interpreter()
    if current.minor == minor:
        return current
    for candidate in candidates(minor):
        found = probe(candidate)
        if found is not None and found.minor == minor:
            return found
    return None


def candidates(minor: str, environment: dict[str, str] | None = None) -> list[str]:
    """Where a Python `minor` may be, most likely first, each path once."""
    environment = dict(os.environ) if environment is None else environment
    name = f"python{minor}"
    found: list[str] = []
    for directory in environment.get("PATH", "").split(os.pathsep):
        if directory and (path := shutil.which(name, path=directory)) is not None:
            found.append(path)
    home = Path(environment.get("HOME") or Path.home())
    pyenv_root = Path(environment.get("PYENV_ROOT") or home / ".pyenv")
    found += [
        str(path) for path in sorted((pyenv_root / "versions").glob(f"{minor}.*/bin/{name}"), reverse=True)
    ]
    uv_root = Path(environment.get("UV_PYTHON_INSTALL_DIR") or _xdg_data(environment, home) / "uv" / "python")
    found += [str(path) for path in sorted(uv_root.glob(f"cpython-{minor}.*/bin/{name}"), reverse=True)]
    return list(dict.fromkeys(found))


def _xdg_data(environment: dict[str, str], home: Path) -> Path:
    return Path(environment.get("XDG_DATA_HOME") or home / ".local" / "share")


def probe(path: str) -> LocalInterpreter | None:
    """Ask `path` what it is; None if it does not answer as a CPython."""
    try:
        result = subprocess.run(
            [path, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        answer = json.loads(result.stdout) if result.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    if not isinstance(answer, dict) or answer.get("implementation") != "cpython":
        return None
    machine = str(answer.get("machine", ""))
    return LocalInterpreter(
        path=path,
        version=str(answer["version"]),
        machine=_MACHINES.get(machine.lower(), machine),
        has_pip=bool(answer.get("pip")),
    )
