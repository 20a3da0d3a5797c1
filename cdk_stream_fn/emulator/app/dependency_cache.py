"""A function's dependencies, installed once for the Python that runs it here, and kept for next time.

The code asset holds the dependencies compiled for Lambda (pydantic-core for aarch64 and CPython 3.14,
say), which cannot load on the developer's machine; `serve` installs them again, with pip, for the
interpreter that runs the function here:

* a Python on this machine that has pip installs them itself (`python -m pip install --target`), so a
  package that publishes only a source distribution is built as it would be in a virtual environment;
* one without pip gets wheels chosen by this Python's pip for its version (`--python-version`,
  `--only-binary=:all:`);
* a platform root gets what the construct bundles: wheels for Lambda's platform (`dependencies.py`).

Each install lands in the cache, laid out as a layer's `python/` directory
(`python/lib/pythonX.Y/site-packages`), under a key that covers the requirements (the file's bytes and
those of the files it includes with `-r`/`-c`), the interpreter (its version, machine, and how pip is
run for it) and pip's index settings from the environment. Another function or another `serve` with
the same key finds it at once; a change to any of them installs again. Unpinned requirements are not
resolved again while the key holds: delete the cache (or pin them) to take newer releases.

Cache: `$CDK_STREAM_FN_DEPENDENCIES_CACHE`, else `$XDG_CACHE_HOME/cdk-stream-fn/dependencies`, else
`~/.cache/cdk-stream-fn/dependencies`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cdk_stream_fn.dependencies import (
    QUIET_PIP,
    LambdaPlatform,
    Requirements,
    pip_install_command,
    pip_wheels_command,
)

CACHE_VARIABLE = "CDK_STREAM_FN_DEPENDENCIES_CACHE"
LAYOUT_VERSION = 1
"""Part of every key: a change to how installs are laid out or run bumps it."""

#: pip's settings that change what it installs, from the environment: part of the key.
PIP_SETTINGS = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_NO_INDEX",
    "PIP_ONLY_BINARY",
    "PIP_NO_BINARY",
    "PIP_PRE",
    "PIP_CONSTRAINT",
)
MANIFEST = "manifest.json"
INSTALL_TIMEOUT_SECONDS = 900.0

_INCLUDE = re.compile(r"^\s*(?:-r|--requirement|-c|--constraint)(?:\s+|=)(\S+)")


def default_cache_dir() -> Path:
    """The cache directory (see the module's docstring for the order of precedence)."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cdk-stream-fn" / "dependencies"


class LocalInstallError(RuntimeError):
    """pip could not install a function's dependencies here; the message names the packages."""

    def __init__(self, message: str, packages: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.packages = packages


@dataclass(frozen=True)
class InstallTarget:
    """What pip installs for: the Python that runs a function here.

    `interpreter` (a Python on this machine) installs with its own pip when `own_pip`; without it, this
    Python's pip picks wheels for `python_version` on this machine. `lambda_platform` (a platform root)
    installs wheels for Lambda's platform, as the construct does.
    """

    python_version: str
    """`3.13`: the site-packages directory is named after it."""
    description: str
    """How messages name it: `Python 3.13.0 on x86_64`."""
    fingerprint: str
    """What about it the cache key covers."""
    interpreter: str | None = None
    own_pip: bool = False
    lambda_platform: LambdaPlatform | None = None

    def pip_command(self, requirements: Requirements, target: Path) -> list[str]:
        if self.lambda_platform is not None:
            return pip_install_command(requirements, target, self.lambda_platform)
        if self.own_pip and self.interpreter is not None:
            return [
                self.interpreter,
                "-m",
                "pip",
                "install",
                "--target",
                str(target),
                *QUIET_PIP,
                *requirements.pip_arguments(),
            ]
        return pip_wheels_command(requirements, target, self.python_version)


@dataclass(frozen=True)
class InstalledDependencies:
    """Dependencies in the cache, ready to put on a runtime's path."""

    layer: Path
    """The `python/` directory: the packages are in `lib/pythonX.Y/site-packages` under it."""
    packages: tuple[tuple[str, str], ...]
    """(name, version) of each distribution installed."""
    installed_now: bool
    """Whether this call installed them (False: found in the cache)."""
    seconds: float


class DependencyCache:
    """Installs requirements into the cache for an `InstallTarget`, once per key."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = default_cache_dir() if directory is None else directory

    def key(self, requirements: Requirements, target: InstallTarget) -> str:
        """The SHA-256 of what an install depends on (see the module's docstring)."""
        content = {
            "layout": LAYOUT_VERSION,
            "target": target.fingerprint,
            "requirements": requirements_fingerprint(requirements),
            "pip": {name: os.environ[name] for name in PIP_SETTINGS if name in os.environ},
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

    def cached(self, requirements: Requirements, target: InstallTarget) -> InstalledDependencies | None:
        """The install for this key, if the cache holds a whole one."""
        return self._whole(self._entry(requirements, target))

    def ensure(
        self, requirements: Requirements, target: InstallTarget, *, cwd: Path
    ) -> InstalledDependencies:
        """The install for this key, from the cache or made now (pip runs in `cwd`, the function's
        directory, so relative paths in a requirements file mean what they mean to the developer)."""
        started = time.perf_counter()
        entry = self._entry(requirements, target)
        found = self._whole(entry)
        if found is not None:
            return found
        with self._locked(entry):
            found = self._whole(entry)  # another serve may have installed it meanwhile
            if found is not None:
                return found
            scratch = entry.with_name(f".install-{entry.name}-{os.getpid()}")
            shutil.rmtree(scratch, ignore_errors=True)
            site_packages = scratch / "python" / "lib" / f"python{target.python_version}" / "site-packages"
            site_packages.mkdir(parents=True)
            try:
                _run_pip(target.pip_command(requirements, site_packages), requirements, target, cwd=cwd)
                packages = _distributions(site_packages)
                manifest = {
                    "requirements": str(requirements.source),
                    "target": target.description,
                    "packages": [list(package) for package in packages],
                    "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "seconds": round(time.perf_counter() - started, 1),
                }
                (scratch / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
                shutil.rmtree(entry, ignore_errors=True)
                os.rename(scratch, entry)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        return InstalledDependencies(entry / "python", packages, True, time.perf_counter() - started)

    def _entry(self, requirements: Requirements, target: InstallTarget) -> Path:
        tag = "cp" + target.python_version.replace(".", "")
        return self.directory / f"{tag}-{self.key(requirements, target)[:24]}"

    def _whole(self, entry: Path) -> InstalledDependencies | None:
        try:
            manifest = json.loads((entry / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        packages = tuple((str(name), str(version)) for name, version in manifest.get("packages", []))
        return InstalledDependencies(entry / "python", packages, False, 0.0)

    @contextlib.contextmanager
    def _locked(self, entry: Path) -> Iterator[None]:
        """One installer per key at a time, across processes (another waits, then finds it installed)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / f".lock-{entry.name}").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def requirements_fingerprint(requirements: Requirements) -> str:
    """The requirements as pip reads them: the file's bytes and those of the files it includes
    (`-r`, `-c`, followed recursively), or the specifiers a pyproject lists."""
    if requirements.requirements_file is None:
        return json.dumps(list(requirements.specifiers))
    digest = hashlib.sha256()
    seen: set[Path] = set()

    def add(path: Path) -> None:
        path = path.resolve()
        if path in seen:
            return
        seen.add(path)
        try:
            content = path.read_bytes()
        except OSError:
            content = b"<missing>"
        digest.update(f"{path.name}:{len(content)}:".encode() + content)
        for line in content.decode("utf-8", "replace").splitlines():
            if (match := _INCLUDE.match(line)) is not None:
                add(path.parent / match[1])

    add(requirements.requirements_file)
    return digest.hexdigest()


def _distributions(site_packages: Path) -> tuple[tuple[str, str], ...]:
    """(name, version) of every distribution pip installed, from the names of their `.dist-info` dirs."""
    found = []
    for info in sorted(site_packages.glob("*.dist-info")):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        found.append((name, version))
    return tuple(found)


def _run_pip(command: list[str], requirements: Requirements, target: InstallTarget, *, cwd: Path) -> None:
    environment = {**os.environ, "PIP_USER": "0", "PIP_REQUIRE_VIRTUALENV": "0"}
    try:
        result = subprocess.run(
            command,
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=INSTALL_TIMEOUT_SECONDS,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise LocalInstallError(f"pip could not run ({command[0]} -m pip): {error}") from None
    if result.returncode != 0:
        raise explain_failure(result.stderr, requirements, target)


_FAILED_PACKAGE = [
    re.compile(r"No matching distribution found for ([^\s;]+)"),
    re.compile(r"Could not find a version that satisfies the requirement ([^\s;]+)"),
    re.compile(r"Failed to build ([^\n]+?)\s*$", re.MULTILINE),
    re.compile(r"Failed building wheel for (\S+)"),
    re.compile(r"Building wheel for (\S+) \(.*\) did not run successfully"),
    re.compile(r"Getting requirements to build wheel did not run successfully.*?for (\S+)", re.DOTALL),
]


def explain_failure(stderr: str, requirements: Requirements, target: InstallTarget) -> LocalInstallError:
    """What went wrong, naming the packages pip could not install and what can be done about it."""
    packages: list[str] = []
    for pattern in _FAILED_PACKAGE:
        for match in pattern.findall(stderr):
            packages += [name.strip(",") for name in match.split()]
    names = tuple(dict.fromkeys(re.split(r"[\s\[<>=!~;(@]", name, maxsplit=1)[0] for name in packages))
    pip_said = "\n".join(f"    {line}" for line in stderr.strip().splitlines()[-8:])
    source = requirements.source
    if not names:
        return LocalInstallError(
            f"pip could not install the dependencies in {source} for {target.description}:\n{pip_said}"
        )
    listed = ", ".join(names)
    return LocalInstallError(
        f"{listed} (from {source}) cannot be installed for {target.description}: pip found no wheel "
        "for this interpreter and machine, or could not build one. The deployed asset is not affected. "
        "To serve it here: pin a version that publishes a wheel for this Python and machine, install "
        "what building it needs, or run it in Lambda's interpreter (--platform lambda).\n"
        f"  pip said:\n{pip_said}",
        names,
    )
