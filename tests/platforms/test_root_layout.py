"""A root as Lambda lays out a sandbox: its bootstrap, read-only code and layer, a writable /tmp, a whole
standard library compiled to byte code. Commands run in the root directly, as the emulator runs them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cdk_stream_fn.platform_roots.builder import RootSpec
from cdk_stream_fn.platform_roots.launch import emulation_environment, sandbox_command
from cdk_stream_fn.platform_roots.platforms import parse_platform

from .conftest import NATIVE, PLATFORMS, built_root

pytestmark = pytest.mark.timeout(120)


def run_in_root(
    platform_name: str, command: list[str], *, opt: Path | None = None, **environment: str
) -> subprocess.CompletedProcess[str]:
    platform = parse_platform(platform_name)
    root = built_root(RootSpec(platform))
    binds = [(opt, "/opt")] if opt is not None else []
    argv = sandbox_command(root.rootfs, command, read_only_binds=binds, cwd="/var/task")
    env = {"PATH": "/usr/bin:/bin", **emulation_environment(platform), **environment}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=100, check=False)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_interpreter_has_its_whole_standard_library_compiled(platform: str) -> None:
    runtime = parse_platform(platform).runtime
    script = (
        "import ssl, sqlite3, ctypes, decimal, lzma, bz2, zlib, uuid, json, asyncio, zoneinfo, importlib.util, sys, os;"
        "print(sys.version_info[:2], os.path.exists(importlib.util.cache_from_source(os.__file__)))"
    )
    result = run_in_root(platform, [f"/usr/bin/{runtime}", "-c", script])
    assert result.returncode == 0, result.stderr
    version = tuple(int(part) for part in runtime.removeprefix("python").split("."))
    assert result.stdout.strip() == f"{version} True"


@pytest.mark.parametrize("platform", NATIVE)
def test_the_bootstrap_runs_the_stock_client_without_a_wrapper_and_says_it_is_not_here(platform: str) -> None:
    result = run_in_root(platform, ["/var/runtime/bootstrap"])
    assert result.returncode == 1
    assert "the stock runtime client is not installed here" in result.stderr


@pytest.mark.parametrize(
    ("wrapper", "code", "message"),
    [
        ("/opt/missing", 127, "/opt/missing: does not exist"),
        ("/opt/not-executable", 126, "/opt/not-executable: is not an executable"),
    ],
)
def test_the_bootstrap_checks_the_wrapper_as_lambdas_does(
    tmp_path: Path, wrapper: str, code: int, message: str
) -> None:
    (tmp_path / "not-executable").write_text("#!/bin/sh\n")
    (tmp_path / "not-executable").chmod(0o644)
    result = run_in_root(NATIVE[1], ["/var/runtime/bootstrap"], opt=tmp_path, AWS_LAMBDA_EXEC_WRAPPER=wrapper)
    assert (result.returncode, result.stdout.strip()) == (code, message)


def test_the_wrapper_gets_the_interpreter_and_the_stock_bootstrap(tmp_path: Path) -> None:
    (tmp_path / "wrapper").write_text('#!/bin/sh\necho "$AWS_EXECUTION_ENV $*"\n')
    (tmp_path / "wrapper").chmod(0o755)
    result = run_in_root(
        NATIVE[1], ["/var/runtime/bootstrap"], opt=tmp_path, AWS_LAMBDA_EXEC_WRAPPER="/opt/wrapper"
    )
    assert result.stdout.strip() == "AWS_Lambda_python3.14 /usr/bin/python3.14 /var/runtime/bootstrap.py"


def test_only_tmp_is_writable_and_sh_is_bash(tmp_path: Path) -> None:
    script = (  # the shell's builtins only: a root holds no coreutils
        "for dir in / /var/task /opt /var/runtime /tmp; do"
        " (echo probe > $dir/probe) 2>/dev/null && echo $dir writable || echo $dir read-only; done;"
        'echo "bash ${BASH_VERSION%%.*}"'
    )
    result = run_in_root(NATIVE[0], ["/bin/sh", "-c", script], opt=tmp_path)
    assert result.stdout.splitlines() == [
        "/ read-only",
        "/var/task read-only",
        "/opt read-only",
        "/var/runtime read-only",
        "/tmp writable",
        "bash 5",
    ]
