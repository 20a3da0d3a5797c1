"""How a sandbox's runtime is started in a root: argv, mounts and environment (no process is started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig, runtime_launch
from cdk_stream_fn.platform_roots.launch import PlatformRoot
from cdk_stream_fn.platform_roots.platforms import Platform

ROOTFS = Path("/cache/roots/python3.14-arm64/rootfs")
LAYER = Path("/scratch/layer")


def config(tmp_path: Path, platform: Platform | None, **settings: object) -> FunctionConfig:
    root = None if platform is None else PlatformRoot(platform, ROOTFS, LAYER)
    return FunctionConfig("fn", "app.handler", tmp_path, platform=root, **settings)  # type: ignore[arg-type]


def pairs(argv: list[str], option: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, part in enumerate(argv) if part == option]


def test_without_a_platform_the_runtime_starts_on_this_machine_as_before(tmp_path: Path) -> None:
    launch = runtime_launch(config(tmp_path, None), "127.0.0.1:9001")
    assert launch.command[1:] == ["-m", "stream_fn"]
    assert launch.cwd == tmp_path
    assert launch.environment["LAMBDA_TASK_ROOT"] == str(tmp_path.resolve())
    assert "AWS_LAMBDA_EXEC_WRAPPER" not in launch.environment


def test_in_a_root_lambdas_bootstrap_starts_with_the_layer_and_code_mounted_read_only(tmp_path: Path) -> None:
    launch = runtime_launch(config(tmp_path, Platform("3.14", "arm64")), "127.0.0.1:9001")
    argv = launch.command

    assert argv[argv.index("--") + 1 :] == ["/var/runtime/bootstrap"]
    assert pairs(argv, "--ro-bind") == [
        (str(ROOTFS), "/"),
        (str(LAYER), "/opt"),
        (str(tmp_path.resolve()), "/var/task"),
    ]
    assert pairs(argv, "--bind") == []
    assert {"--unshare-pid", "--die-with-parent"} <= set(argv)
    assert "--unshare-net" not in argv and "--unshare-all" not in argv  # the Runtime API is on 127.0.0.1
    assert argv[argv.index("--chdir") + 1] == "/var/task"


def test_in_a_root_the_environment_is_lambdas_not_this_machines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", "/home/developer")
    monkeypatch.setenv("AWS_PROFILE", "dev")
    launch = runtime_launch(
        config(tmp_path, Platform("3.14", "arm64"), environment={"GREETING": "hi"}), "127.0.0.1:9001"
    )
    environment = launch.environment

    assert environment["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert environment["LAMBDA_TASK_ROOT"] == "/var/task"
    assert environment["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert environment["PATH"] == "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
    assert environment["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.14"
    assert environment["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/stream-fn"
    assert environment["GREETING"] == "hi"
    assert environment["AWS_PROFILE"] == "dev"  # credentials pass, as for any runtime
    assert "HOME" not in environment


def test_the_functions_own_wrapper_is_honoured(tmp_path: Path) -> None:
    settings = {"environment": {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/other-wrapper"}}
    launch = runtime_launch(config(tmp_path, Platform("3.13", "x86_64"), **settings), "127.0.0.1:1")
    assert launch.environment["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/other-wrapper"


@pytest.mark.parametrize(("architecture", "cpu"), [("arm64", "neoverse-n1"), ("x86_64", None)])
def test_qemu_emulates_lambdas_graviton_core_only_where_it_runs(
    tmp_path: Path, architecture: str, cpu: str | None
) -> None:
    launch = runtime_launch(config(tmp_path, Platform("3.14", architecture)), "127.0.0.1:1")
    assert launch.environment.get("QEMU_CPU") == cpu


def test_a_runtime_command_runs_inside_the_root_with_the_handler(tmp_path: Path) -> None:
    settings = {"runtime_command": ["/usr/bin/python3.14", "-m", "awslambdaric"]}
    launch = runtime_launch(config(tmp_path, Platform("3.14", "x86_64"), **settings), "127.0.0.1:1")
    argv = launch.command
    assert argv[argv.index("--") + 1 :] == ["/usr/bin/python3.14", "-m", "awslambdaric", "app.handler"]


@pytest.mark.parametrize(("architecture", "seconds"), [("arm64", 100.0), ("x86_64", 10.0)])
def test_an_emulated_root_gets_longer_to_initialize(
    tmp_path: Path, architecture: str, seconds: float
) -> None:
    assert config(tmp_path, Platform("3.14", architecture)).init_timeout_seconds == seconds


def test_host_variables_stay_out_unless_the_function_sets_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", "/host/tmp")
    plain = runtime_launch(config(tmp_path, Platform("3.14", "x86_64")), "127.0.0.1:1")
    own = runtime_launch(
        config(tmp_path, Platform("3.14", "x86_64"), environment={"TMPDIR": "/tmp/mine"}), "127.0.0.1:1"
    )
    assert "TMPDIR" not in plain.environment
    assert own.environment["TMPDIR"] == "/tmp/mine"
