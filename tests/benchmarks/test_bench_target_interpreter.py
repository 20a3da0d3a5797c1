"""The runtimes on the target interpreter (python3.14 in its platform root): the layers they start from,
awslambdaric's /var/runtime, real cold starts and readings taken from the runtime's own process.

Needs what the platform tier needs (bubblewrap, the root); where this machine cannot run roots, the
tests skip with the reason, and fail when CDK_STREAM_FN_REQUIRE_PLATFORMS=1 (CI).
"""

from __future__ import annotations

import os
import pathlib
import re
import stat
import subprocess
from collections.abc import Iterator

import pytest
from platform_support import unavailable

from benchmarks import measure_runtime
from benchmarks.deployed_layer import PACKAGE_DIR, bytecode_in, bytecode_written, remove_layer
from benchmarks.in_root import InRootProcess, InRootRuntime
from benchmarks.references import awslambdaric_version
from benchmarks.runtimes import AWSLAMBDARIC, STREAM_FN, stream_fn_wrapper
from benchmarks.service import EmulatorBackend
from benchmarks.target_interpreter import (
    STREAM_FN_UNCHECKED,
    STREAM_FN_WITHOUT_BYTECODE,
    TargetInterpreter,
    TargetUnavailable,
    prepare_target_interpreter,
    remove_target_layers,
    target_runtimes,
)
from cdk_stream_fn.contract import WRAPPER_NAME
from cdk_stream_fn.platform_roots.launch import sandbox_command

# Staging the layer starts a jsii kernel in a child process; installing awslambdaric for cp314 runs pip.
pytestmark = pytest.mark.timeout(240)

PYC_FLAGS = {"checked-hash": 0b11, "unchecked-hash": 0b01}


@pytest.fixture(scope="module")
def target() -> Iterator[TargetInterpreter]:
    try:
        prepared = prepare_target_interpreter(awslambdaric_version(), log=lambda message: None)
    except TargetUnavailable as error:
        unavailable(f"no target interpreter here: {error}")
    try:
        yield prepared
    finally:
        remove_target_layers(prepared.layers())


@pytest.fixture(scope="module")
def runtimes(target: TargetInterpreter) -> dict[str, InRootRuntime]:
    return {
        runtime.name: runtime
        for runtime in target_runtimes(target, awslambdaric_version=awslambdaric_version(), node=None)
    }


def pyc_flags(layer: pathlib.Path, tag: str) -> set[int]:
    return {
        int.from_bytes(path.read_bytes()[4:8], "little")
        for path in (layer / PACKAGE_DIR / "__pycache__").glob(f"*.{tag}.pyc")
    }


def sources(layer: pathlib.Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (layer / PACKAGE_DIR).glob("*.py")}


def test_the_layers_differ_only_in_their_bytecode_and_are_read_only(target: TargetInterpreter) -> None:
    installed = stream_fn_wrapper().parent
    assert sources(target.layer) == {path.name: path.read_bytes() for path in installed.glob("*.py")}
    assert (target.layer / WRAPPER_NAME).read_bytes() == stream_fn_wrapper().read_bytes()
    assert pyc_flags(target.layer, "cpython-314") == {PYC_FLAGS["checked-hash"]}
    assert pyc_flags(target.layer, "cpython-313") == {PYC_FLAGS["checked-hash"]}

    assert sources(target.layer_unchecked) == sources(target.layer)
    assert pyc_flags(target.layer_unchecked, "cpython-314") == {PYC_FLAGS["unchecked-hash"]}
    assert sources(target.layer_without_bytecode) == sources(target.layer)
    assert bytecode_in(target.layer_without_bytecode) == []

    for layer in (target.layer, target.layer_unchecked, target.layer_without_bytecode):
        for path in [layer, *layer.rglob("*")]:
            assert stat.S_IMODE(path.lstat().st_mode) & 0o222 == 0, path
        assert os.access(layer / WRAPPER_NAME, os.X_OK)


def test_awslambdaric_is_installed_for_the_target_interpreter_and_compiled(target: TargetInterpreter) -> None:
    runtime_dir = target.managed_runtime
    assert runtime_dir is not None
    assert list(runtime_dir.glob("runtime_client.cpython-314-*-linux-gnu.so"))
    package = runtime_dir / "awslambdaric"
    compiled = {path.name.split(".")[0] for path in (package / "__pycache__").glob("*.cpython-314.pyc")}
    assert compiled == {path.stem for path in package.glob("*.py")}
    assert os.access(runtime_dir / "bootstrap", os.X_OK) and (runtime_dir / "bootstrap.py").is_file()

    # The interpreter takes those pycs as they are (their timestamps survive the read-only mount).
    command = sandbox_command(
        target.rootfs,
        [target.platform.interpreter, "-v", "-c", "import awslambdaric.__main__, awslambdaric.bootstrap"],
        read_only_binds=[(runtime_dir, "/var/runtime")],
        cwd="/var/runtime",
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    accepted = re.findall(
        r"^# /var/runtime/awslambdaric/__pycache__/(\w+)\.cpython-314\.pyc matches ",
        result.stderr,
        re.MULTILINE,
    )
    assert {"__main__", "bootstrap", "lambda_runtime_client"} <= set(accepted)
    assert not re.findall(r"^# code object from /var/runtime/\S+\.py$", result.stderr, re.MULTILINE)


def test_every_runtime_cold_starts_in_the_root_and_nothing_is_written_into_a_layer(
    target: TargetInterpreter,
    runtimes: dict[str, InRootRuntime],
    backend: EmulatorBackend,
    tmp_path: pathlib.Path,
) -> None:
    shipped = {layer: bytecode_in(layer) for layer in target.layers()}
    chosen = [
        runtimes[name] for name in (STREAM_FN, STREAM_FN_UNCHECKED, STREAM_FN_WITHOUT_BYTECODE, AWSLAMBDARIC)
    ]

    runs = measure_runtime.cold_start_ms(chosen, backend, 1, tmp_path)

    assert sorted(runs) == sorted(runtime.name for runtime in chosen)
    assert all(value > 0 for values in runs.values() for value in values)
    for layer, before in shipped.items():
        assert bytecode_written(layer, before) == []


def test_readings_come_from_the_runtimes_own_process_not_bubblewrap(
    runtimes: dict[str, InRootRuntime], backend: EmulatorBackend, tmp_path: pathlib.Path
) -> None:
    runtime = runtimes[STREAM_FN]
    with measure_runtime.running(runtime, "tiny", backend, tmp_path) as (session, first):
        session.result(first, measure_runtime.START_TIMEOUT)
        process = session.process
        assert isinstance(process, InRootProcess)
        inside = process.runtime_pid()
        assert inside != process.pid
        assert pathlib.Path(f"/proc/{inside}/comm").read_text().strip() == "python3.14"
        assert process.rss_bytes() > 5 * 1024 * 1024 and process.cpu_seconds() > 0

    runs = measure_runtime.invocation_overhead([runtime], backend, 1, 20, tmp_path, warmup=2)
    (run,) = runs[STREAM_FN]
    assert run.wall_us > 0 and run.runtime_cpu_us > 0


def test_bytecode_a_run_wrote_is_told_from_the_shipped_and_a_read_only_layer_is_removed(
    tmp_path: pathlib.Path,
) -> None:
    layer = tmp_path / "layer"
    cache = layer / PACKAGE_DIR / "__pycache__"
    cache.mkdir(parents=True)
    (cache / "loop.cpython-314.pyc").write_bytes(b"")
    shipped = bytecode_in(layer)
    (cache / "loop.cpython-311.pyc").write_bytes(b"")
    for path in (cache, cache.parent, cache.parent.parent, layer):
        path.chmod(0o555)

    assert bytecode_written(layer, shipped) == [cache / "loop.cpython-311.pyc"]
    remove_layer(layer)
    assert not layer.exists()
