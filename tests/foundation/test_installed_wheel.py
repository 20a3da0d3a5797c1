"""The wheel installs into a fresh environment outside the repo and synthesizes from there.

The runtime layer must come from the installed `stream_fn`, never from the checkout: the test marks
the installed copy and looks for the mark in the staged layer. The wheel carries the runtime's bytecode
for Lambda's interpreters, so a user who installs it stages the same layer, byte for byte and under the
same hash, as the checkout it was built from.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import uuid
import zipfile
from pathlib import Path

import pytest
from platform_support import require_layer_bytecode

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

REPO_ROOT = Path(__file__).resolve().parents[2]
UV = REPO_ROOT / ".tools" / "bin" / "uv"
NODE_BIN = REPO_ROOT / ".tools" / "node-bin"


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def clean_environment(**extra: str) -> dict[str, str]:
    """No AWS credentials, no PYTHONPATH, no virtualenv of the repo: only Node 24 first on PATH."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "CDK_", "PYTHON", "VIRTUAL_ENV", "UV_"))
    }
    env["PATH"] = os.pathsep.join([str(NODE_BIN), "/usr/bin", "/bin"])
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert UV.exists(), f"{UV} is missing: run ./dev setup"
    require_layer_bytecode()  # the build needs it, or platform roots to compile it
    out = tmp_path_factory.mktemp("dist")
    run(
        [str(UV), "build", "--wheel", "--out-dir", str(out), str(REPO_ROOT)], cwd=out, env=clean_environment()
    )
    (built,) = out.glob("cdk_stream_fn-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh virtual environment with the wheel, its dependencies pinned by uv.lock."""
    root = tmp_path_factory.mktemp("fresh")
    constraints = root / "constraints.txt"
    constraints.write_text(
        run(
            [
                str(UV),
                "export",
                "--frozen",
                "--no-dev",
                "--no-emit-project",
                "--no-hashes",
                "--format",
                "requirements-txt",
            ],
            cwd=REPO_ROOT,
            env=clean_environment(),
        )
    )
    venv = root / "venv"
    env = clean_environment()
    run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=root, env=env)
    run(
        [
            str(UV),
            "pip",
            "install",
            "--quiet",
            "--compile-bytecode",  # as pip does: this interpreter's own pycs must never reach the layer
            "--python",
            str(venv / "bin" / "python"),
            "--constraint",
            str(constraints),
            str(wheel),
        ],
        cwd=root,
        env=env,
    )
    return venv


def test_wheel_carries_both_packages_the_wrapper_and_the_console_script(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(
            next(name for name in names if name.endswith(".dist-info/entry_points.txt"))
        ).decode()
    for expected in (
        "cdk_stream_fn/__init__.py",
        "cdk_stream_fn/construct/streaming_function.py",
        "cdk_stream_fn/emulator/sandboxes/runtime_api.py",
        "cdk_stream_fn/cli/__main__.py",
        "cdk_stream_fn/py.typed",
        "stream_fn/__init__.py",
        "stream_fn/__main__.py",
        "stream_fn/py.typed",
        "stream_fn/wrapper.sh",
        "stream_fn/layer-bytecode.zip",
    ):
        assert expected in names
    assert "cdk-stream-fn = cdk_stream_fn.cli:main" in entry_points
    assert not [name for name in names if name.startswith(("tests/", "runtime/")) or "__pycache__" in name]
    assert not [name for name in names if name.endswith((".pyc", ".pyo"))]
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("stream_fn/layer-bytecode.zip")
    assert shipped == (REPO_ROOT / "runtime" / "stream_fn" / "layer-bytecode.zip").read_bytes()


SYNTHESIZE = textwrap.dedent(
    """
    import aws_cdk as cdk
    from cdk_stream_fn import StreamingFunction

    app = cdk.App(outdir="cdk.out")
    StreamingFunction(cdk.Stack(app, "FromWheel"), "Hello", entry="functions/hello")
    app.synth()
    """
)


def synthesize(python: Path, directory: Path) -> Path:
    """Synthesize one StreamingFunction with `python` in `directory`; the staged layer's directory."""
    function = directory / "functions" / "hello"
    function.mkdir(parents=True)
    (function / "index.py").write_text(
        "from stream_fn import streamify_response\n\n\n@streamify_response\ndef handler(event, stream, context):\n"
        "    stream.write(b'hello')\n"
    )
    (directory / "app.py").write_text(SYNTHESIZE)
    run([str(python), "app.py"], cwd=directory, env=clean_environment())
    template = json.loads((directory / "cdk.out" / "FromWheel.template.json").read_text())
    (layer,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::LayerVersion"]
    return directory / "cdk.out" / f"asset.{layer['Properties']['Content']['S3Key'].removesuffix('.zip')}"


def test_the_installed_wheel_stages_the_checkouts_layer_byte_for_byte(
    installed: Path, tmp_path: Path
) -> None:
    from_wheel = synthesize(installed / "bin" / "python", tmp_path / "wheel")
    from_checkout = synthesize(Path(sys.executable), tmp_path / "checkout")
    assert from_wheel.name == from_checkout.name  # the asset hash

    def files(layer: Path) -> dict[str, tuple[int, bytes]]:
        return {
            path.relative_to(layer).as_posix(): (stat.S_IMODE(path.stat().st_mode), path.read_bytes())
            for path in layer.rglob("*")
            if path.is_file()
        }

    assert files(from_wheel) == files(from_checkout)
    assert "python/stream_fn/__pycache__/loop.cpython-314.pyc" in files(from_wheel)
    assert "python/stream_fn/__pycache__/loop.cpython-313.pyc" in files(from_wheel)


def test_installed_package_synthesizes_with_the_installed_runtime(installed: Path, tmp_path: Path) -> None:
    python = installed / "bin" / "python"
    assert (installed / "bin" / "cdk-stream-fn").is_file()
    site = Path(
        run(
            [str(python), "-c", "import stream_fn, os; print(os.path.dirname(stream_fn.__file__))"],
            cwd=tmp_path,
        ).strip()
    )
    assert site.is_relative_to(installed) and not site.is_relative_to(REPO_ROOT)
    marker = f"# installed copy {uuid.uuid4()}\n"
    original = (site / "__init__.py").read_bytes()
    with (site / "__init__.py").open("a") as init:
        init.write(marker)
    try:
        synthesize_marked(python, installed, tmp_path, marker)
    finally:
        (site / "__init__.py").write_bytes(original)


def synthesize_marked(python: Path, installed: Path, tmp_path: Path, marker: str) -> None:
    """Synthesize with the installed copy carrying `marker` and check that its layer holds the copy."""
    function = tmp_path / "functions" / "hello"
    function.mkdir(parents=True)
    (function / "index.py").write_text(
        "from stream_fn import streamify_response\n\n\n@streamify_response\ndef handler(event, stream, context):\n"
        "    stream.write(b'hello')\n"
    )
    (tmp_path / "app.py").write_text(
        textwrap.dedent(
            """
            import sys
            import aws_cdk as cdk
            import cdk_stream_fn, stream_fn
            from cdk_stream_fn import StreamingFunction

            app = cdk.App(outdir="cdk.out")
            StreamingFunction(cdk.Stack(app, "FromWheel"), "Hello", entry="functions/hello")
            app.synth()
            print(cdk_stream_fn.__file__)
            print(stream_fn.__file__)
            """
        )
    )
    output = run([str(python), "app.py"], cwd=tmp_path, env=clean_environment())
    assert str(REPO_ROOT) not in output, "the synth imported code from the checkout"
    assert all(str(installed) in line for line in output.strip().splitlines()[-2:])

    template = json.loads((tmp_path / "cdk.out" / "FromWheel.template.json").read_text())
    (layer,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::LayerVersion"]
    staged = tmp_path / "cdk.out" / f"asset.{layer['Properties']['Content']['S3Key'].removesuffix('.zip')}"
    assert (staged / "python" / "stream_fn" / "__init__.py").read_text().endswith(marker)
    assert stat.S_IMODE((staged / "stream-fn").stat().st_mode) == 0o755
    # The edited module's shipped bytecode no longer matches it: left out, the others kept.
    assert not list((staged / "python" / "stream_fn" / "__pycache__").glob("__init__.*.pyc"))
    assert (staged / "python" / "stream_fn" / "__pycache__" / "loop.cpython-314.pyc").is_file()
    (function_resource,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert (
        function_resource["Properties"]["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"]
        == "/opt/stream-fn"
    )
