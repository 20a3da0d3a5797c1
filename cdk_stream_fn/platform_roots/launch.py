"""Starting a runtime inside a root, as Lambda starts it: the command, its mounts and its environment.

Under bubblewrap the root is `/`, read-only; the runtime layer is `/opt` and the code `/var/task`,
both read-only as on Lambda; `/tmp` is a fresh writable tmpfs (Lambda's only writable directory).
The network namespace is shared, so the runtime reaches the emulator's Runtime API on 127.0.0.1.
The runtime gets its own PID, IPC and UTS namespaces; it stays in the emulator's process group, so
stopping the group stops it, and `--die-with-parent` ends it with bubblewrap.

The environment is the one the emulator builds for any runtime, with the values the managed Python
runtime's image sets (aws/aws-lambda-base-images, `Dockerfile.python3.X`: `LANG`, `PATH`,
`LD_LIBRARY_PATH`, `LAMBDA_TASK_ROOT`, `LAMBDA_RUNTIME_DIR`) in place of the host's, and
`AWS_LAMBDA_EXEC_WRAPPER` kept: in a root, the bootstrap honours it as Lambda's does. A root holds no
locale data, so `en_US.UTF-8` falls back to C and Python switches to its UTF-8 mode (PEP 538/540): text
I/O is UTF-8, as on Lambda.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from cdk_stream_fn.contract import EXEC_WRAPPER_PATH

from . import layout
from .host import bwrap
from .platforms import Platform

#: The wrapper the StreamingFunction construct configures (the stream_fn layer's script).
DEFAULT_EXEC_WRAPPER = EXEC_WRAPPER_PATH
EXEC_WRAPPER_VARIABLE = "AWS_LAMBDA_EXEC_WRAPPER"
#: The CPU qemu-user emulates, by architecture. Lambda's arm64 is "for AWS Graviton processors"
#: (https://docs.aws.amazon.com/lambda/latest/dg/foundation-arch.html), launched on Graviton2, whose cores
#: are Arm Neoverse N1; no AWS page says which Graviton a function gets today. qemu's default, `max`,
#: also emulates pointer authentication, whose QARMA cipher made Python 20 times slower again here
#: (`sum(range(10**7))`: 28.8 s with `max`, 1.6 s with `neoverse-n1`, 0.1 s natively). qemu-user reads
#: it from QEMU_CPU, which the function therefore sees in its environment.
EMULATED_CPUS = {"arm64": "neoverse-n1"}
#: How much longer than Lambda's init limit a runtime gets under qemu-user (measured here: 10 to 30
#: times slower; importing FastAPI and pydantic takes about 20 s on python3.14/arm64).
EMULATED_INIT_TIMEOUT_FACTOR = 10.0

#: Values of the managed runtime's image (see the module's docstring).
IMAGE_ENVIRONMENT = {
    "LANG": "en_US.UTF-8",
    "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
    "LAMBDA_TASK_ROOT": layout.TASK_ROOT,
    "LAMBDA_RUNTIME_DIR": layout.RUNTIME_DIR,
}

#: Host variables that describe the host, not the sandbox: dropped inside a root.
HOST_ONLY_VARIABLES = frozenset(
    {"HOME", "USER", "TMPDIR", "LC_ALL", "SYSTEMROOT", "PYTHONPATH", "PYTHONHOME"}
)


class InRootCommand(NamedTuple):
    """What to execute on the host: argv, environment and working directory."""

    command: list[str]
    environment: dict[str, str]
    cwd: Path


@dataclass(frozen=True)
class PlatformRoot:
    """A built root, the runtime layer to mount on /opt, and the platform they are for.

    The value of `FunctionConfig.platform`: a sandbox with one runs its runtime in this root.
    """

    platform: Platform
    rootfs: Path
    layer: Path

    @property
    def init_timeout_factor(self) -> float:
        """What the emulator multiplies Lambda's init limit by for a runtime in this root."""
        return EMULATED_INIT_TIMEOUT_FACTOR if self.platform.emulated else 1.0

    def launch(
        self,
        environment: Mapping[str, str],
        *,
        code_dir: Path,
        function_environment: Mapping[str, str],
        command: Sequence[str] | None = None,
        dependencies: Path | None = None,
        provided: Path | None = None,
    ) -> InRootCommand:
        """Start `command` (default: Lambda's `/var/runtime/bootstrap`) in the root for one function.

        `environment` is what the emulator gives any runtime; `function_environment` the function's own
        variables, whose `AWS_LAMBDA_EXEC_WRAPPER` (default `/opt/stream-fn`) the bootstrap honours.
        `dependencies`, a directory laid out as a layer's `python/`, has its `lib/pythonX.Y/site-packages`
        mounted read-only where a layer's are, `/opt/python/lib/pythonX.Y/site-packages`, which Lambda's
        bootstrap puts on `sys.path` after `/var/task`. `provided`, a directory of links to packages that
        Lambda's runtime carries (boto3, snapshot_restore_py), has each one mounted in `/opt/python`
        (a root has none of them; the layer's own `stream_fn` stays).
        """
        code_dir = code_dir.resolve()
        inside = {
            name: value
            for name, value in environment.items()
            if name not in HOST_ONLY_VARIABLES or name in function_environment
        }
        inside.update(IMAGE_ENVIRONMENT)
        inside["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{self.platform.runtime}"
        inside[EXEC_WRAPPER_VARIABLE] = function_environment.get(EXEC_WRAPPER_VARIABLE, DEFAULT_EXEC_WRAPPER)
        inside.update(emulation_environment(self.platform))
        binds = [(self.layer, layout.LAYER_ROOT), (code_dir, layout.TASK_ROOT)]
        if dependencies is not None:
            site_packages = f"python/lib/python{self.platform.python_version}/site-packages"
            # The mount point, made in the staged layer on this side: the root and /opt are read-only.
            (self.layer / site_packages).mkdir(parents=True, exist_ok=True)
            binds.append(
                (dependencies / site_packages.removeprefix("python/"), f"{layout.LAYER_ROOT}/{site_packages}")
            )
        if provided is not None:
            binds += self._provided_binds(provided)
        argv = sandbox_command(
            self.rootfs,
            [*(command or [layout.BOOTSTRAP])],
            read_only_binds=binds,
            cwd=layout.TASK_ROOT,
        )
        return InRootCommand(argv, inside, code_dir)

    def _provided_binds(self, provided: Path) -> list[tuple[Path, str]]:
        """Each package linked from `provided`, mounted at `/opt/python/<name>` (its mount point made in
        the staged layer on this side)."""
        binds = []
        for link in sorted(provided.iterdir()):
            mount_point = self.layer / "python" / link.name
            if link.name == "stream_fn" or (mount_point.exists() and not _is_empty(mount_point)):
                continue
            target = link.resolve()
            if target.is_dir():
                mount_point.mkdir(exist_ok=True)
            else:
                mount_point.touch(exist_ok=True)
            binds.append((target, f"{layout.LAYER_ROOT}/python/{link.name}"))
        return binds


def _is_empty(path: Path) -> bool:
    """An empty directory or file: a mount point made before."""
    return not any(path.iterdir()) if path.is_dir() else path.stat().st_size == 0


def emulation_environment(platform: Platform) -> dict[str, str]:
    """The variables qemu-user needs to run `platform`'s binaries well (none when they run natively)."""
    if platform.emulated and platform.architecture in EMULATED_CPUS:
        return {"QEMU_CPU": EMULATED_CPUS[platform.architecture]}
    return {}


def sandbox_command(
    rootfs: Path,
    command: Sequence[str],
    *,
    read_only_binds: Sequence[tuple[Path, str]] = (),
    writable_binds: Sequence[tuple[Path, str]] = (),
    writable_root: bool = False,
    scratch_dirs: Sequence[str] = (),
    cwd: str = "/",
) -> list[str]:
    """The bubblewrap argv that runs `command` with `rootfs` as `/` (read-only unless `writable_root`).

    `scratch_dirs` get an empty tmpfs each, before the binds, so a bind may land in a directory the
    read-only root lacks (e.g. `/usr/local/lib/python3.14/dist-packages` under a `/usr/local` scratch).
    """
    # Where bubblewrap is missing, starting the command fails naming it (host.problems says how to fix it).
    argv = [bwrap() or "bwrap", "--bind" if writable_root else "--ro-bind", str(rootfs.resolve()), "/"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for directory in scratch_dirs:
        argv += ["--tmpfs", directory]
    for source, target in read_only_binds:
        argv += ["--ro-bind", str(source.resolve()), target]
    for source, target in writable_binds:
        argv += ["--bind", str(source.resolve()), target]
    argv += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--chdir", cwd, "--"]
    return [*argv, *command]
