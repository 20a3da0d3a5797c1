"""The runtime layer: staged from the installed stream_fn, one per stack, hashed by the runtime's bytes."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import aws_cdk as cdk
import pytest
import stream_fn

from cdk_stream_fn import StreamingFunction
from cdk_stream_fn.construct.runtime_layer import (
    RuntimePackageError,
    installed_runtime_directory,
    read_runtime_package,
    stage_layer,
)

from .conftest import DEFAULTS, TWO_FUNCTIONS, Scenarios, Variants
from .support import HELLO, new_app, resources_of_type, templates_of


def layer_keys(template_json: dict) -> list[str]:
    return [
        layer["Properties"]["Content"]["S3Key"]
        for layer in resources_of_type(template_json, "AWS::Lambda::LayerVersion").values()
    ]


def function_keys(template_json: dict) -> list[str]:
    return [
        function["Properties"]["Code"]["S3Key"]
        for function in resources_of_type(template_json, "AWS::Lambda::Function").values()
    ]


def staged_layer_directory(outdir: Path, template_json: dict) -> Path:
    (key,) = layer_keys(template_json)
    return outdir / f"asset.{key.removesuffix('.zip')}"


def package_files(directory: Path) -> dict[str, bytes]:
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in directory.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def fake_runtime(directory: Path, *, wrapper: bool = True) -> Path:
    package = directory / "stream_fn"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""fake runtime"""\n')
    (package / "loop.py").write_text("LOOP = 1\n")
    if wrapper:
        (package / "wrapper.sh").write_text('#!/bin/sh\nexec "$1" -m stream_fn "$@"\n')
    return package


def test_layer_holds_the_installed_package_and_an_executable_wrapper(scenarios: Scenarios) -> None:
    staged = staged_layer_directory(scenarios.outdir, scenarios.templates[DEFAULTS])
    installed = Path(stream_fn.__file__).resolve().parent
    assert installed_runtime_directory() == installed
    assert package_files(staged / "python" / "stream_fn") == package_files(installed)
    assert "__init__.py" in package_files(staged / "python" / "stream_fn")
    assert not list(staged.rglob("__pycache__")) and not list(staged.rglob("*.pyc"))
    wrapper = staged / "stream-fn"
    assert wrapper.read_bytes() == (installed / "wrapper.sh").read_bytes()
    assert stat.S_IMODE(wrapper.stat().st_mode) == 0o755
    assert stat.S_IMODE((staged / "python" / "stream_fn" / "__init__.py").stat().st_mode) == 0o644
    assert sorted(path.name for path in staged.iterdir()) == ["python", "stream-fn"]


def test_one_layer_per_stack_shared_by_its_functions(variants: Variants) -> None:
    two = variants.templates[TWO_FUNCTIONS]
    (layer_id,) = resources_of_type(two, "AWS::Lambda::LayerVersion")
    functions = resources_of_type(two, "AWS::Lambda::Function").values()
    assert [function["Properties"]["Layers"] for function in functions] == [[{"Ref": layer_id}]] * 2


def test_every_stack_gets_the_same_layer_asset(scenarios: Scenarios, variants: Variants) -> None:
    keys = {
        key
        for templates in (scenarios.templates, variants.templates)
        for t in templates.values()
        for key in layer_keys(t)
    }
    assert len(keys) == 1


def test_layer_hash_ignores_unrelated_changes(tmp_path: Path) -> None:
    """Editing the function's code changes its own asset, never the layer's."""
    entry = tmp_path / "function"
    shutil.copytree(HELLO, entry)

    def synthesize(outdir: Path) -> dict:
        app = new_app(outdir)
        StreamingFunction(cdk.Stack(app, "Stack"), "Stream", entry=str(entry))
        return templates_of(app.synth())["Stack"]

    before = synthesize(tmp_path / "before")
    (entry / "index.py").write_text((entry / "index.py").read_text() + "\n# a change\n")
    after = synthesize(tmp_path / "after")
    assert layer_keys(before) == layer_keys(after)
    assert function_keys(before) != function_keys(after)


def test_fingerprint_follows_the_runtime_bytes_only(tmp_path: Path) -> None:
    original = fake_runtime(tmp_path / "a")
    copy = fake_runtime(tmp_path / "b")
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "loop.cpython-311.pyc").write_bytes(b"\x00bytecode")
    os.utime(copy / "loop.py", (0, 0))
    (copy / "loop.py").chmod(0o600)
    assert read_runtime_package(original).fingerprint == read_runtime_package(copy).fingerprint

    changed = fake_runtime(tmp_path / "c")
    (changed / "loop.py").write_text("LOOP = 2\n")
    assert read_runtime_package(changed).fingerprint != read_runtime_package(original).fingerprint

    renamed = fake_runtime(tmp_path / "d")
    (renamed / "loop.py").rename(renamed / "loops.py")
    assert read_runtime_package(renamed).fingerprint != read_runtime_package(original).fingerprint


def test_staging_writes_the_documented_layout(tmp_path: Path) -> None:
    package = read_runtime_package(fake_runtime(tmp_path / "runtime"))
    output = tmp_path / "layer"
    output.mkdir(mode=0o777)
    stage_layer(package, output)
    assert sorted(path.relative_to(output).as_posix() for path in output.rglob("*") if path.is_file()) == [
        "python/stream_fn/__init__.py",
        "python/stream_fn/loop.py",
        "python/stream_fn/wrapper.sh",
        "stream-fn",
    ]
    assert stat.S_IMODE((output / "stream-fn").stat().st_mode) == 0o755
    assert stat.S_IMODE(output.stat().st_mode) == 0o755


def test_a_runtime_without_the_wrapper_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimePackageError, match="has no wrapper.sh.*reinstall cdk-stream-fn"):
        read_runtime_package(fake_runtime(tmp_path / "runtime", wrapper=False))


def test_a_directory_that_is_not_the_package_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimePackageError, match="is not the stream_fn package"):
        read_runtime_package(tmp_path)
