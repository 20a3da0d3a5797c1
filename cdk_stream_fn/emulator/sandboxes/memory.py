"""The function's memory limit (`MemorySize`), enforced by watching the runtime's resident memory.

On Lambda a runtime that uses more than its memory is killed by the kernel and the invocation fails
with `Runtime.OutOfMemory` (RAPID, aws/aws-lambda-runtime-interface-emulator
`internal/lambda-managed-instances/rapid/shutdown.go`: an OOM-killed runtime gives
`ErrorRuntimeOutOfMemory = "Runtime.OutOfMemory"` and "runtime exited with error: signal: killed").
Locally the emulator plays the kernel's part: it reads the resident set size of every process in the
runtime's process group from /proc (the runtime runs in a session of its own) and, once their sum passes
the limit, SIGKILLs the whole group and reports `Runtime.OutOfMemory`.

Why a watcher rather than a cgroup or an rlimit:
- a cgroup `memory.max` is what Lambda uses and would be exact, but creating one needs root or a
  delegated cgroup subtree, which a developer's shell and most containers do not have;
- `RLIMIT_AS` caps virtual address space, not memory: Python's allocator arenas and Node's heap
  reservation take far more address space than memory, so a 128 MiB cap stops healthy runtimes from
  starting, and an allocation over it raises `MemoryError` instead of ending the runtime;
- `RLIMIT_RSS` is not enforced by Linux.

What the watcher does not catch (README, "Running locally"): memory held for less than one polling
interval (`POLL_SECONDS`); processes that leave the runtime's process group (`setsid`, a daemon);
memory Lambda counts that is not resident in a process (page cache, files in /dev/shm); it counts pages
shared between the group's processes once per process, so forking runtimes look bigger than on Lambda.
Without /proc (macOS) nothing is enforced, and `serve` says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

from cdk_stream_fn.contract import MB

log = logging.getLogger("cdk_stream_fn.emulator")

#: How often the runtime's resident memory is read.
POLL_SECONDS = 0.05
#: How often (in polls) the process group's members are looked up again (a full scan of /proc).
RESCAN_POLLS = 20
PROC = Path("/proc")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def supported(proc: Path = PROC) -> bool:
    """Whether this system has the /proc files the watcher reads."""
    return (proc / "self" / "statm").is_file()


def resident_bytes(pid: int, proc: Path = PROC) -> int:
    """The resident set size of one process (0 if it is gone)."""
    try:
        with open(proc / str(pid) / "statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def group_members(pgid: int, proc: Path = PROC) -> list[int]:
    """The processes whose process group is `pgid` (the group leader first, if alive)."""
    members = []
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"{entry.path}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After the command name: state, ppid, pgrp (proc(5)).
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            members.append(int(entry.name))
    members.sort(key=lambda pid: pid != pgid)
    return members


class MemoryWatcher:
    """Watches the process group led by `pgid`; kills it when its resident memory passes `limit_bytes`."""

    def __init__(
        self,
        pgid: int,
        limit_bytes: int,
        *,
        name: str,
        on_exceeded: Callable[[int], None] | None = None,
        proc: Path = PROC,
    ) -> None:
        self.pgid = pgid
        self.limit_bytes = limit_bytes
        self.name = name
        self.proc = proc
        self.on_exceeded = on_exceeded
        #: The most the group held at once, as far as the polls saw.
        self.peak_bytes = 0
        #: The group's resident memory when it was killed; None while it was not.
        self.exceeded_at: int | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def exceeded(self) -> bool:
        return self.exceeded_at is not None

    def start(self) -> MemoryWatcher:
        self._task = asyncio.get_running_loop().create_task(self._watch(), name=f"{self.name} memory")
        return self

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def check(self, members: list[int]) -> bool:
        """Read the members' memory once; kill the group if it is over the limit. Return whether it was."""
        used = sum(resident_bytes(pid, self.proc) for pid in members)
        self.peak_bytes = max(self.peak_bytes, used)
        if used <= self.limit_bytes:
            return False
        self.exceeded_at = used
        log.warning(
            "%s: the runtime's processes hold %d MiB, over the function's %d MiB (MemorySize): "
            "killing them (Runtime.OutOfMemory)",
            self.name,
            used // MB,
            self.limit_bytes // MB,
        )
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)
        if self.on_exceeded is not None:
            self.on_exceeded(used)
        return True

    async def _watch(self) -> None:
        members = [self.pgid]
        polls = 0
        while True:
            if polls % RESCAN_POLLS == 0:
                members = group_members(self.pgid, self.proc)
                if not members:
                    return
            polls += 1
            if self.check(members):
                return
            await asyncio.sleep(POLL_SECONDS)
