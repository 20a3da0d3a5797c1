"""Run a runtime under test as a child process and read what Linux knows about it.

Memory comes from /proc/<pid>/status (VmRSS now, VmHWM the peak), and the peak is reset before the work
being measured by writing 5 to /proc/<pid>/clear_refs, so "peak while streaming" excludes start-up. CPU
time is the on-CPU nanoseconds of all the process' threads from /proc/<pid>/task/*/schedstat (what rusage
counts, at nanosecond resolution and readable while the process lives), falling back to the tick-based
utime+stime of /proc/<pid>/stat where schedstat is off.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import Self

STOP_GRACE_SECONDS = 3.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class RuntimeProcess:
    """A runtime process started at `started_at` (time.perf_counter), always stopped on exit."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], *, cwd: pathlib.Path, log: pathlib.Path
    ) -> None:
        self._log = log.open("ab")
        self.started_at = time.perf_counter()
        self._popen = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self._popen.pid

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def alive(self) -> bool:
        return self._popen.poll() is None

    def _status_kib(self, field: str) -> int:
        for line in pathlib.Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"/proc/{self.pid}/status has no {field} line")

    def rss_bytes(self) -> int:
        """Resident memory now."""
        return self._status_kib("VmRSS") * 1024

    def peak_rss_bytes(self) -> int:
        """The high-water mark of resident memory since start or the last `reset_peak_rss`."""
        return self._status_kib("VmHWM") * 1024

    def reset_peak_rss(self) -> bool:
        """Reset VmHWM to the current RSS; False when the kernel refuses (then the peak includes start-up)."""
        try:
            pathlib.Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return self.peak_rss_bytes() <= self.rss_bytes() + 64 * 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time of all live threads so far."""
        return process_cpu_seconds(self.pid)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if it lingers, and reap it."""
        if self._popen.returncode is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.pid, sig)
                except ProcessLookupError:
                    pass
                try:
                    self._popen.wait(timeout=STOP_GRACE_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._log.close()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of all live threads of process `pid` so far (any process, not only ours)."""
    total_ns = 0
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            total_ns += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue
    if total_ns:
        return total_ns / 1e9
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def process_group(leader: int) -> list[int]:
    """The processes in the process group `leader` leads (a runtime started in a session of its own, and the
    worker processes it forked)."""
    return sorted(parents_in_group(leader))


def parents_in_group(group: int) -> dict[int, int]:
    """pid -> parent pid of every process in process group `group`, from /proc/<pid>/stat."""
    parents = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group:  # the fields after the name: state, ppid, pgrp, ...
            parents[int(entry.name)] = int(fields[1])
    return parents


def memory_of(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of process `pid` in bytes, from /proc/<pid>/smaps_rollup (0, 0 once it is gone).

    PSS (proportional set size) counts a page shared by n processes as 1/n in each, so the PSS of a process
    group sums to what the group really holds, where the RSS sum counts every shared page again per process.
    """
    pss = rss = 0
    try:
        lines = pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return 0, 0
    for line in lines:
        if line.startswith("Pss:"):
            pss = int(line.split()[1]) * 1024
        elif line.startswith("Rss:"):
            rss = int(line.split()[1]) * 1024
    return pss, rss
