"""What this machine must offer to build roots and run runtimes in them, and how to tell what is missing.

- bubblewrap (`bwrap`, Debian package `bubblewrap`) to run a command with a root as `/`; it needs
  root or unprivileged user namespaces (`kernel.unprivileged_userns_clone`, on by default in Debian).
- For a foreign architecture (arm64 on x86_64): qemu-user (Debian package `qemu-user-static`) and its
  binfmt_misc entry, so the kernel runs the root's arm64 binaries through qemu. The entry must carry
  the `F` flag (the interpreter is opened when registered), so that it works inside a root where qemu
  is not. Debian's package ships the entry in `/usr/lib/binfmt.d/qemu-aarch64.conf` (for
  systemd-binfmt, with flags `POCF`); where nothing registered it, `enable_emulation` does, as root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .platforms import Platform

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
BINFMT_CONFIG_DIRS = (Path("/usr/lib/binfmt.d"), Path("/etc/binfmt.d"))
QEMU_ENTRIES = {"arm64": "qemu-aarch64", "x86_64": "qemu-x86_64"}


class HostError(RuntimeError):
    """This machine cannot build or run a root; the message says what is missing and how to add it."""


def bwrap() -> str | None:
    """The bubblewrap executable, if installed."""
    return shutil.which("bwrap")


def problems(platform: Platform, *, emulation: bool = True) -> list[str]:
    """Everything that stops a runtime from running in a `platform` root here, each with its fix
    (without `emulation`: only what building one needs, which never runs a foreign binary)."""
    found = []
    executable = bwrap()
    if executable is None:
        found.append("bubblewrap is not installed (apt-get install bubblewrap)")
    else:
        probe = subprocess.run(
            [executable, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--unshare-pid", "true"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0:
            found.append(
                "bubblewrap cannot create namespaces here (run as root, or enable unprivileged user "
                f"namespaces: sysctl kernel.unprivileged_userns_clone=1): {probe.stderr.strip()}"
            )
    if emulation and platform.emulated:
        problem = emulation_problem(platform)
        if problem is not None:
            found.append(problem)
    return found


def emulation_problem(platform: Platform) -> str | None:
    """Why the kernel cannot run `platform`'s binaries through qemu here, or None when it can."""
    name = QEMU_ENTRIES.get(platform.architecture)
    if name is None:
        return f"no qemu-user emulation is known for {platform.architecture}"
    entry = BINFMT_DIR / name
    if entry.is_file():
        text = entry.read_text()
        flags = next(
            (line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("flags:")), ""
        )
        if not text.startswith("enabled"):
            return f"the binfmt_misc entry {entry} is disabled (echo 1 > {entry})"
        if "F" not in flags:
            return (
                f"the binfmt_misc entry {entry} lacks the F flag, so qemu is not found inside a root "
                "(re-register it from qemu-user-static's /usr/lib/binfmt.d entry)"
            )
        return None
    if _binfmt_config(name) is None:
        return f"{platform.architecture} binaries need qemu-user-static (apt-get install qemu-user-static)"
    return (
        f"{platform.architecture} binaries need qemu's binfmt_misc entry, which is not registered; as root run "
        "`cdk-stream-fn roots build ...` (it registers it) or "
        f"`mount -t binfmt_misc binfmt_misc {BINFMT_DIR}; cat {_binfmt_config(name)} > {BINFMT_DIR}/register`"
    )


def enable_emulation(platform: Platform) -> None:
    """Register qemu's binfmt_misc entry for `platform` (as root), mounting binfmt_misc first if needed."""
    if emulation_problem(platform) is None:
        return
    name = QEMU_ENTRIES.get(platform.architecture, "")
    config = _binfmt_config(name)
    if config is None:
        raise HostError(
            f"{platform.architecture} binaries need qemu-user-static (apt-get install qemu-user-static)"
        )
    if os.geteuid() != 0:
        raise HostError(str(emulation_problem(platform)))
    if not (BINFMT_DIR / "register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT_DIR)], check=True)
    entry = BINFMT_DIR / name
    if entry.exists():  # registered without F, or disabled: replace it
        entry.write_text("-1")
    line = next(line for line in config.read_text().splitlines() if line.startswith(":"))
    (BINFMT_DIR / "register").write_text(line)
    problem = emulation_problem(platform)
    if problem is not None:
        raise HostError(problem)


def _binfmt_config(name: str) -> Path | None:
    for directory in BINFMT_CONFIG_DIRS:
        path = directory / f"{name}.conf"
        if path.is_file():
            return path
    return None
