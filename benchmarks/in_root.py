"""Runtimes started inside a platform root, as Lambda starts them, and the process each one's figures read.

A root (cdk_stream_fn.platform_roots) holds one of Lambda's interpreters laid out as a Lambda sandbox;
bubblewrap runs a command in it with the root as `/` (read-only), a layer on /opt and the code on
/var/task (both read-only), the network shared, so the runtime reaches the benchmark's Runtime API on
127.0.0.1. The environment is the one `PlatformRoot.launch` gives a function (the managed image's PATH,
LAMBDA_TASK_ROOT=/var/task, AWS_EXECUTION_ENV, ...). Besides /opt and /var/task, a runtime may bring its
own /var/runtime (the managed runtime's directory, where the stock client lives on Lambda) and files
under /usr/local (an empty tmpfs first).

bubblewrap stays the parent of what it runs (its pid is the process group's leader, which the benchmark
stops), so the readings the figures take from /proc (CPU time, resident memory) come from the runtime's
own process, bubblewrap's deepest descendant, found once the runtime is up.
"""

from __future__ import annotations

import dataclasses
import pathlib

from benchmarks.processes import RuntimeProcess, parents_in_group
from benchmarks.runtimes import Runtime
from cdk_stream_fn.contract import EXEC_WRAPPER_PATH
from cdk_stream_fn.platform_roots import layout
from cdk_stream_fn.platform_roots.launch import EXEC_WRAPPER_VARIABLE, PlatformRoot, sandbox_command

USR_LOCAL = "/usr/local"


@dataclasses.dataclass(frozen=True)
class InRootRuntime(Runtime):
    """A runtime started in `root`: `/var/runtime/bootstrap` by default, with `exec_wrapper` (None: the
    managed runtime's own client), the root's layer on /opt, `runtime_dir` (if any) on /var/runtime and
    each of `usr_local_files` at its path under /usr/local."""

    root: PlatformRoot | None = None
    command: tuple[str, ...] = (layout.BOOTSTRAP,)
    exec_wrapper: str | None = EXEC_WRAPPER_PATH
    runtime_dir: pathlib.Path | None = None
    usr_local_files: tuple[tuple[pathlib.Path, str], ...] = ()

    def launch(self, work: str, runtime_api: str) -> tuple[list[str], dict[str, str]]:
        if self.root is None:
            raise ValueError(f"{self.name} has no platform root to start in")
        _, host_environment = super().launch(work, runtime_api)
        wrapper = {} if self.exec_wrapper is None else {EXEC_WRAPPER_VARIABLE: self.exec_wrapper}
        inside = self.root.launch(
            host_environment, code_dir=self.task_root, function_environment=wrapper, command=self.command
        )
        environment = dict(inside.environment)
        if self.exec_wrapper is None:
            environment.pop(EXEC_WRAPPER_VARIABLE, None)  # unset, as on a function without the layer
        binds = [(self.root.layer, layout.LAYER_ROOT), (self.task_root, layout.TASK_ROOT)]
        if self.runtime_dir is not None:
            binds.append((self.runtime_dir, layout.RUNTIME_DIR))
        binds += [(source, f"{USR_LOCAL}/{target}") for source, target in self.usr_local_files]
        argv = sandbox_command(
            self.root.rootfs,
            list(self.command),
            read_only_binds=binds,
            scratch_dirs=[USR_LOCAL] if self.usr_local_files else [],
            cwd=layout.TASK_ROOT,
        )
        return argv, environment

    def start_process(self, argv: list[str], env: dict[str, str], *, log: pathlib.Path) -> RuntimeProcess:
        return InRootProcess(argv, env, cwd=self.task_root, log=log)


class InRootProcess(RuntimeProcess):
    """bubblewrap running a runtime: stopped as a group through bubblewrap, measured on the runtime."""

    _runtime: RuntimeProcess | None = None

    def runtime_pid(self) -> int:
        """The runtime's own process: the end of bubblewrap's chain of children (bubblewrap, the PID
        namespace's init, the runtime, which `exec`s from bootstrap to wrapper to interpreter)."""
        parents = parents_in_group(self.pid)
        current = self.pid
        while True:
            children = sorted(pid for pid, parent in parents.items() if parent == current)
            if not children:
                return current
            current = children[0]

    def _measured(self) -> RuntimeProcess:
        if self._runtime is None:
            self._runtime = _ProcessReadings(self.runtime_pid())
        return self._runtime

    def rss_bytes(self) -> int:
        return self._measured().rss_bytes()

    def peak_rss_bytes(self) -> int:
        return self._measured().peak_rss_bytes()

    def reset_peak_rss(self) -> bool:
        return self._measured().reset_peak_rss()

    def cpu_seconds(self) -> float:
        return self._measured().cpu_seconds()


class _ProcessReadings(RuntimeProcess):
    """RuntimeProcess's /proc readings of a process the benchmark did not spawn (nothing to stop)."""

    def __init__(self, pid: int) -> None:  # deliberately not RuntimeProcess.__init__, which spawns
        self.pid = pid
