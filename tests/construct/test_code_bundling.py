"""The function's code asset: a plain copy without dependencies, pip for Lambda's platform with them.

Dependencies come from wheels built here and served with `--no-index --find-links`, so pip runs for
real without the network.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import zipfile
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from cdk_stream_fn import BundlingError, StreamingFunction
from cdk_stream_fn.construct.code_bundling import function_code
from cdk_stream_fn.dependencies import (
    DependencyInstallError,
    LambdaPlatform,
    find_requirements,
    pip_install_command,
)

from .support import HELLO, new_app, resources_of_type, templates_of

PURE_TAG = "py3-none-any"
X86_ONLY_TAG = "cp314-cp314-manylinux_2_17_x86_64.manylinux2014_x86_64"


def build_wheel(directory: Path, name: str, tag: str, version: str = "1.0") -> Path:
    """A minimal, valid wheel of a package whose module says where it came from."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"ORIGIN = {tag!r}\n".encode(),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: {str(tag == PURE_TAG).lower()}\nTag: {tag}\n".encode(),
    }
    record_lines = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b'=').decode()},{len(content)}"
        for path, content in files.items()
    ]
    files[f"{dist_info}/RECORD"] = ("\n".join([*record_lines, f"{dist_info}/RECORD,,"]) + "\n").encode()
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    return wheel


def function_with_requirements(tmp_path: Path, requirement: str) -> Path:
    """A copy of the hello function whose requirements.txt installs `requirement` from local wheels only."""
    entry = tmp_path / "function"
    shutil.copytree(HELLO, entry)
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "purelib_dep", PURE_TAG)
    build_wheel(wheels, "x86_only_dep", X86_ONLY_TAG)
    (entry / "requirements.txt").write_text(f"--no-index\n--find-links {wheels}\n{requirement}\n")
    return entry


def synthesize(outdir: Path, entry: Path, **props: object) -> tuple[dict, Path]:
    """The template and the staged code asset directory of one StreamingFunction."""
    app = new_app(outdir)
    StreamingFunction(cdk.Stack(app, "Stack"), "Stream", entry=str(entry), **props)
    template = templates_of(app.synth())["Stack"]
    (function,) = resources_of_type(template, "AWS::Lambda::Function").values()
    return template, outdir / function["Metadata"]["cdk-stream-fn"]["codeAssetPath"]


def staged_files(directory: Path) -> set[str]:
    return {path.relative_to(directory).as_posix() for path in directory.rglob("*") if path.is_file()}


def test_without_requirements_the_code_is_copied_without_clutter(tmp_path: Path) -> None:
    entry = tmp_path / "function"
    shutil.copytree(HELLO, entry)
    (entry / "data.json").write_text("{}")
    for clutter in (
        "__pycache__/index.cpython-314.pyc",
        ".venv/bin/python",
        "cdk.out/manifest.json",
        "lib/mod.pyc",
    ):
        (entry / clutter).parent.mkdir(parents=True, exist_ok=True)
        (entry / clutter).write_text("x")
    (entry / "lib" / "mod.py").write_text("X = 1\n")
    _, bundler = function_code(entry, LambdaPlatform("3.14", "arm64"))
    assert bundler is None  # CDK's own copy: no bundler, no subprocess
    _, staged = synthesize(tmp_path / "cdk.out", entry)
    assert staged_files(staged) == {"index.py", "data.json", "lib/mod.py"}


def test_requirements_are_installed_for_lambda_without_byte_code(tmp_path: Path) -> None:
    entry = function_with_requirements(tmp_path, "purelib_dep==1.0")
    _, staged = synthesize(tmp_path / "cdk.out", entry)
    files = staged_files(staged)
    assert {"index.py", "requirements.txt", "purelib_dep/__init__.py"} <= files
    assert any(name.startswith("purelib_dep-1.0.dist-info/") for name in files)
    assert not [name for name in files if name.endswith(".pyc")]


def test_pyproject_dependencies_are_installed_with_the_users_pip_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = tmp_path / "function"
    shutil.copytree(HELLO, entry)
    (entry / "pyproject.toml").write_text(
        '[project]\nname = "hello"\nversion = "0"\ndependencies = ["purelib_dep==1.0"]\n'
    )
    build_wheel(tmp_path / "wheels", "purelib_dep", PURE_TAG)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "wheels"))
    _, staged = synthesize(tmp_path / "cdk.out", entry)
    assert {"index.py", "pyproject.toml", "purelib_dep/__init__.py"} <= staged_files(staged)


def test_a_dependency_without_a_wheel_for_the_target_is_a_clear_error(tmp_path: Path) -> None:
    entry = function_with_requirements(tmp_path, "x86_only_dep==1.0")
    with pytest.raises(BundlingError) as caught:
        synthesize(tmp_path / "cdk.out", entry)  # arm64 by default
    message = str(caught.value)
    assert "x86_only_dep==1.0" in message
    assert "aarch64" in message and "Python 3.14" in message
    assert "without Docker" in message and "architecture" in message
    assert isinstance(caught.value.__cause__, DependencyInstallError)


def test_the_same_dependency_installs_for_x86_64_and_hashes_apart(tmp_path: Path) -> None:
    entry = function_with_requirements(tmp_path, "x86_only_dep==1.0")
    _, staged = synthesize(tmp_path / "x86", entry, architecture=lambda_.Architecture.X86_64)
    assert "x86_only_dep/__init__.py" in staged_files(staged)
    (entry / "requirements.txt").write_text(
        (entry / "requirements.txt").read_text().replace("x86_only_dep", "purelib_dep")
    )
    arm, _ = synthesize(tmp_path / "arm", entry)
    x86_again, _ = synthesize(tmp_path / "x86-again", entry, architecture=lambda_.Architecture.X86_64)
    keys = [
        next(iter(resources_of_type(t, "AWS::Lambda::Function").values()))["Properties"]["Code"]["S3Key"]
        for t in (arm, x86_again)
    ]
    assert keys[0] != keys[1]  # a bundle for one platform is never reused for another


def test_pip_targets_lambdas_platform_with_wheels_only(tmp_path: Path) -> None:
    requirements = find_requirements(function_with_requirements(tmp_path, "purelib_dep"))
    assert requirements is not None
    command = pip_install_command(requirements, tmp_path / "out", LambdaPlatform("3.13", "arm64"))
    assert command[1:4] == ["-m", "pip", "install"]
    platforms = [command[i + 1] for i, argument in enumerate(command) if argument == "--platform"]
    assert platforms[0] == "manylinux_2_34_aarch64" and platforms[-1] == "manylinux2014_aarch64"
    assert "manylinux_2_28_aarch64" in platforms and not [p for p in platforms if "x86_64" in p]
    for flag, value in (
        ("--python-version", "3.13"),
        ("--implementation", "cp"),
        ("--target", str(tmp_path / "out")),
    ):
        assert command[command.index(flag) + 1] == value
    assert "--only-binary=:all:" in command and "--no-compile" in command


def test_requirements_file_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("a\n")
    (tmp_path / "pyproject.toml").write_text('[project]\ndependencies = ["b"]\n')
    found = find_requirements(tmp_path)
    assert found is not None and found.source == tmp_path / "requirements.txt"


def test_pyproject_without_dependencies_needs_no_install(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.ruff]\nline-length = 100\n')
    assert find_requirements(tmp_path) is None
    assert find_requirements(tmp_path / "missing") is None


def test_malformed_pyproject_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(DependencyInstallError, match="pyproject.toml is not valid TOML"):
        find_requirements(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\ndependencies = "requests"\n')
    with pytest.raises(DependencyInstallError, match="must be a list of requirement strings"):
        find_requirements(tmp_path)


def test_platform_names_are_checked() -> None:
    with pytest.raises(ValueError, match="architecture must be one of"):
        LambdaPlatform("3.14", "aarch64")
    with pytest.raises(ValueError, match="python_version must look like"):
        LambdaPlatform("python3.14", "arm64")
