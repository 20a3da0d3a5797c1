"""What a function runs on here: its code copied per version, the Python found for its runtime, and
what Lambda's runtime provides beside it. Real files, real interpreters."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from cdk_stream_fn.emulator.app.code_snapshots import CodeSnapshots
from cdk_stream_fn.emulator.app.interpreters import candidates, find_interpreter, probe
from cdk_stream_fn.emulator.app.lambda_provided import stage_provided
from cdk_stream_fn.emulator.app.runners import RunnerError, RunnerResolver, runtime_version

pytestmark = pytest.mark.timeout(60)

CURRENT_MINOR = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_each_version_is_a_copy_that_later_edits_leave_alone(tmp_path: Path) -> None:
    entry = tmp_path / "entry"
    (entry / "pkg").mkdir(parents=True)
    (entry / "main.py").write_text("v1")
    (entry / "pkg" / "util.py").write_text("util")
    for left_out in ("__pycache__", ".venv", "node_modules", "cdk.out"):
        (entry / left_out).mkdir()
        (entry / left_out / "x.py").write_text("")
    (entry / "main.pyc").write_text("")
    snapshots = CodeSnapshots(tmp_path / "code")

    first = snapshots.take("Stack/Chat", entry)
    (entry / "main.py").write_text("v2, longer")
    second = snapshots.take("Stack/Chat", entry)

    assert first == tmp_path / "code" / "Stack_Chat" / "v1" and second.name == "v2"
    assert sorted(p.relative_to(first).as_posix() for p in first.rglob("*")) == [
        "main.py",
        "pkg",
        "pkg/util.py",
    ]
    assert (first / "main.py").read_text() == "v1", "a version keeps its code"
    assert (second / "main.py").read_text() == "v2, longer"
    assert os.path.samefile(first / "pkg" / "util.py", second / "pkg" / "util.py"), "unchanged: linked"
    assert not os.path.samefile(entry / "pkg" / "util.py", first / "pkg" / "util.py"), "never the source"


def test_linked_files_and_directories_are_copied_and_a_link_loop_once(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "lib.py").write_text("shared")
    entry = tmp_path / "entry"
    entry.mkdir()
    (entry / "lib").symlink_to(shared, target_is_directory=True)
    (entry / "loop").symlink_to(entry, target_is_directory=True)

    copy = CodeSnapshots(tmp_path / "code").take("fn", entry)

    assert (copy / "lib" / "lib.py").read_text() == "shared" and not (copy / "lib").is_symlink()
    assert not (copy / "loop" / "loop").exists()


def test_interpreters_are_looked_for_on_path_then_in_pyenv_and_uv(tmp_path: Path) -> None:
    def executable(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\nexit 1\n")
        path.chmod(0o755)
        return path

    on_path = executable(tmp_path / "bin" / "python3.13")
    pyenv = executable(tmp_path / "pyenv" / "versions" / "3.13.1" / "bin" / "python3.13")
    uv = executable(
        tmp_path / "data" / "uv" / "python" / "cpython-3.13.2-linux-x86_64-gnu" / "bin" / "python3.13"
    )
    environment = {
        "PATH": str(tmp_path / "bin"),
        "HOME": str(tmp_path / "home"),
        "PYENV_ROOT": str(tmp_path / "pyenv"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }

    assert candidates("3.13", environment) == [str(on_path), str(pyenv), str(uv)]
    assert probe(str(on_path)) is None, "a candidate that does not answer (a pyenv shim, say) is passed over"


def test_an_interpreter_says_what_it_is() -> None:
    found = probe(sys.executable)
    assert found is not None
    assert (found.version, found.minor, found.has_pip) == (platform.python_version(), CURRENT_MINOR, True)
    assert find_interpreter(CURRENT_MINOR) is not None and find_interpreter(CURRENT_MINOR).is_current  # type: ignore[union-attr]
    assert find_interpreter("3.99") is None


def test_each_function_runs_on_its_runtimes_python_or_this_one_stands_in(tmp_path: Path) -> None:
    runners = RunnerResolver("auto", scratch=tmp_path)

    own = runners.runner_for(f"python{CURRENT_MINOR}", "arm64")
    unknown = runners.runner_for(None, "x86_64")
    missing = runners.runner_for("python3.99", "arm64")

    assert (own.interpreter.path, own.stands_in_for) == (sys.executable, None)  # type: ignore[union-attr]
    assert own.summary == platform.python_version()
    assert unknown.interpreter is not None and unknown.interpreter.is_current
    assert missing.stands_in_for == "python3.99" and missing.interpreter.is_current  # type: ignore[union-attr]
    assert missing.summary == f"{platform.python_version()} for python3.99"
    assert missing.install_target.description.startswith(f"Python {platform.python_version()} on ")


@pytest.mark.parametrize(
    ("choice", "runtime", "message"),
    [
        ("python3.12/arm64", "python3.14", "--platform python3.12/arm64: python3.12 has no Debian package"),
        ("python3.14/sparc", "python3.14", "architecture must be arm64 or x86_64"),
        ("lambda", "nodejs22.x", "--platform lambda: the runtime 'nodejs22.x' is not a Python runtime"),
        ("lambda", "python3.12", "--platform lambda: python3.12 has no Debian package"),
    ],
)
def test_a_platform_that_cannot_be_had_says_why(
    tmp_path: Path, choice: str, runtime: str, message: str
) -> None:
    with pytest.raises(RunnerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RunnerResolver(choice, scratch=tmp_path).runner_for(runtime, "arm64")


def test_runtime_versions_come_from_python_runtimes_only() -> None:
    assert [runtime_version(r) for r in ("python3.14", "python3.9", "nodejs22.x", None)] == [
        "3.14",
        "3.9",
        None,
        None,
    ]


def test_what_lambda_provides_imports_in_a_python_without_site_packages(tmp_path: Path) -> None:
    provided = stage_provided(tmp_path / "provided")
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import boto3, botocore, stream_fn, snapshot_restore_py\n"
        "try:\n    import aws_cdk\nexcept ImportError:\n    print('ok')\n"
    )

    result = subprocess.run(
        [sys.executable, "-S", "-c", script, str(provided)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")
    assert {"stream_fn", "boto3", "botocore", "s3transfer", "snapshot_restore_py.py"} <= {
        p.name for p in provided.iterdir()
    }
