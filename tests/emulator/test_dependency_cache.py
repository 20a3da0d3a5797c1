"""Installing a function's dependencies for the Python that runs it here, once per key, with real pip.

pip installs from a directory of wheels made here (`PIP_NO_INDEX`, `PIP_FIND_LINKS`), so these tests
need no index and no network.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cdk_stream_fn.dependencies import LambdaPlatform, Requirements, find_requirements
from cdk_stream_fn.emulator.app.dependency_cache import (
    DependencyCache,
    InstallTarget,
    LocalInstallError,
    default_cache_dir,
)
from cdk_stream_fn.emulator.app.runners import current_runner

from .wheels import make_wheel

pytestmark = pytest.mark.timeout(120)

HERE = current_runner().install_target


@pytest.fixture
def wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "wheels"
    make_wheel(directory, "tinydep", "1.0")
    make_wheel(directory, "tinydep", "2.0")
    make_wheel(directory, "nativeonly", "1.0", tag="cp314-cp314-manylinux_2_17_aarch64.manylinux2014_aarch64")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(directory))
    return directory


def entry(tmp_path: Path, requirements: str, name: str = "fn") -> Path:
    directory = tmp_path / name
    directory.mkdir(exist_ok=True)
    (directory / "requirements.txt").write_text(requirements)
    return directory


def requirements_of(directory: Path) -> Requirements:
    found = find_requirements(directory)
    assert found is not None
    return found


def site_packages(layer: Path, version: str) -> Path:
    return layer / "lib" / f"python{version}" / "site-packages"


def test_requirements_are_installed_once_then_found_in_the_cache(tmp_path: Path, wheels: Path) -> None:
    cache = DependencyCache(tmp_path / "cache")
    function = entry(tmp_path, "tinydep==1.0\n")

    first = cache.ensure(requirements_of(function), HERE, cwd=function)
    again = cache.ensure(requirements_of(function), HERE, cwd=function)

    assert first.installed_now and not again.installed_now
    assert first.layer == again.layer and first.layer.is_relative_to(tmp_path / "cache")
    assert first.packages == again.packages == (("tinydep", "1.0"),)
    installed = site_packages(first.layer, f"{sys.version_info.major}.{sys.version_info.minor}")
    assert (installed / "tinydep.py").read_text() == 'VERSION = "1.0"\n'


def test_the_key_follows_the_requirements_what_they_include_the_interpreter_and_pip_settings(
    tmp_path: Path, wheels: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = DependencyCache(tmp_path / "cache")
    function = entry(tmp_path, "-r more.txt\n")
    (function / "more.txt").write_text("tinydep==1.0\n")
    keys = [cache.key(requirements_of(function), HERE)]
    (function / "more.txt").write_text("tinydep==2.0\n")
    keys.append(cache.key(requirements_of(function), HERE))
    other_python = InstallTarget("3.13", "Python 3.13.0 on x86_64", "cpython 3.13.0 x86_64 own pip")
    keys.append(cache.key(requirements_of(function), other_python))
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.example.test/simple")
    keys.append(cache.key(requirements_of(function), HERE))

    assert len(set(keys)) == 4
    assert cache.key(requirements_of(function), HERE) == keys[-1], "the same inputs give the same key"

    installed = cache.ensure(requirements_of(function), HERE, cwd=function)
    assert installed.packages == (("tinydep", "2.0"),), "pip reads the included file from the entry"


def test_a_dependency_without_a_wheel_for_this_machine_names_the_package_and_leaves_nothing(
    tmp_path: Path, wheels: Path
) -> None:
    cache = DependencyCache(tmp_path / "cache")
    function = entry(tmp_path, "tinydep==1.0\nnativeonly==1.0\n")

    with pytest.raises(LocalInstallError) as raised:
        cache.ensure(requirements_of(function), HERE, cwd=function)

    assert raised.value.packages == ("nativeonly",)
    message = str(raised.value)
    assert message.startswith(
        f"nativeonly (from {function / 'requirements.txt'}) cannot be installed for Python"
    )
    assert "The deployed asset is not affected" in message and "pip said:" in message
    assert cache.cached(requirements_of(function), HERE) is None
    assert [path.name for path in (tmp_path / "cache").iterdir() if not path.name.startswith(".lock")] == []


def test_a_platform_root_gets_the_wheels_lambda_gets(tmp_path: Path, wheels: Path) -> None:
    """The construct's pip command, for the root's interpreter and machine: an aarch64-only wheel
    installs for python3.14/arm64 though it could never load on this machine."""
    cache = DependencyCache(tmp_path / "cache")
    function = entry(tmp_path, "nativeonly==1.0\n")
    root = InstallTarget(
        "3.14",
        "Python 3.14 on arm64 (a platform root)",
        "lambda-wheels 3.14 arm64",
        lambda_platform=LambdaPlatform("3.14", "arm64"),
    )

    installed = cache.ensure(requirements_of(function), root, cwd=function)

    assert (site_packages(installed.layer, "3.14") / "nativeonly.py").is_file()


def test_the_cache_lives_where_the_variables_say(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDK_STREAM_FN_DEPENDENCIES_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("CDK_STREAM_FN_DEPENDENCIES_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "cdk-stream-fn" / "dependencies"
