"""`cdk-stream-fn serve --platform` and `cdk-stream-fn roots`, run as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cli.serve_process import REPO, ServeProcess

from cdk_stream_fn.platform_roots.builder import RootSpec
from cdk_stream_fn.platform_roots.platforms import parse_platform

from .conftest import built_root

pytestmark = pytest.mark.timeout(180)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cdk_stream_fn.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_serve_platform_runs_a_function_in_lambdas_interpreter_and_architecture() -> None:
    built_root(
        RootSpec(parse_platform("python3.14/arm64"))
    )  # skips or fails with the reason if it cannot run here
    with ServeProcess(
        "--platform",
        "python3.14/arm64",
        "--handler",
        "styles.node_style",
        "--code",
        "tests/platforms/functions",
        timeout=120,
    ) as served:
        response = httpx.get(served.urls["function"], timeout=120)
        log = served.stderr()

    assert response.status_code == 200
    assert response.text.splitlines()[0].split()[1:] == ["aarch64", "/var/task", "AWS_Lambda_python3.14"]
    assert "preparing the python3.14/arm64 platform root" in log


def test_serve_platform_lambda_runs_each_function_in_its_own_runtime_and_architecture(tmp_path: Path) -> None:
    from emulator.test_assembly import function_resource, write_assembly

    built_root(RootSpec(parse_platform("python3.13/x86_64")))
    url = {
        "Type": "AWS::Lambda::Url",
        "Properties": {"AuthType": "NONE", "TargetFunctionArn": {"Fn::GetAtt": ["F", "Arn"]}},
    }
    function = function_resource(Runtime="python3.13", Architectures=["x86_64"], Handler="styles.node_style")
    assembly_dir = tmp_path / "cdk.out"
    entry = os.path.relpath(REPO / "tests" / "platforms" / "functions", assembly_dir)
    function["Metadata"]["cdk-stream-fn"].update(version=2, entry=entry)
    assembly = write_assembly(assembly_dir, {"F": function, "FUrl": url})

    with ServeProcess("--platform", "lambda", "--assembly", str(assembly), timeout=120) as served:
        response = httpx.get(served.urls["Stack-Api"], timeout=120)
        table = "\n".join(served.stdout_lines)

    assert response.status_code == 200
    assert response.text.splitlines()[0].split()[1:] == ["x86_64", "/var/task", "AWS_Lambda_python3.13"]
    assert "3.13 root" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["serve", "--platform", "python3.12/arm64", "--handler", "a.b"],
            "--platform python3.12/arm64: python3.12 has no Debian package",
        ),
        (["roots", "build", "python3.12"], "python3.12 has no Debian package"),
        (["roots", "build", "python3.14/sparc"], "architecture must be arm64 or x86_64"),
    ],
)
def test_a_platform_that_cannot_be_had_is_a_usage_error_that_says_why(args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_roots_list_shows_the_cache_and_its_roots() -> None:
    root = built_root(RootSpec(parse_platform("python3.14/x86_64")))
    result = cli("roots", "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("cache: ")
    assert str(root.rootfs.parent) in result.stdout


def test_roots_build_finds_a_cached_root_at_once() -> None:
    root = built_root(RootSpec(parse_platform("python3.13/x86_64")))
    result = cli("roots", "build", "python3.13/x86_64")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("python3.13/x86_64\tcached in ")
    assert result.stdout.rstrip().endswith(str(root.rootfs))


def test_roots_prune_keeps_the_newest_build_of_each_kind(tmp_path: Path) -> None:
    def root(name: str, key: str, platform: str, built_at: str) -> Path:
        directory = tmp_path / "roots" / f"{name}-{key[:16]}"
        (directory / "rootfs").mkdir(parents=True)
        manifest = {
            "key": key,
            "platform": platform,
            "suite": "testing",
            "extra_packages": [],
            "built_at": built_at,
        }
        (directory / "manifest.json").write_text(json.dumps({**manifest, "packages": []}))
        return directory

    old = root("python3.14-arm64-testing", "1" * 64, "python3.14/arm64", "2026-11-01T00:00:00Z")
    new = root("python3.14-arm64-testing", "2" * 64, "python3.14/arm64", "2026-12-01T00:00:00Z")
    other = root("python3.13-x86_64-testing", "3" * 64, "python3.13/x86_64", "2026-10-01T00:00:00Z")
    result = subprocess.run(
        [sys.executable, "-m", "cdk_stream_fn.cli", "roots", "prune"],
        env={**os.environ, "CDK_STREAM_FN_ROOTS_CACHE": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"removed {old}\n"
    assert new.is_dir() and other.is_dir()
