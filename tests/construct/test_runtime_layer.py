"""The runtime layer: staged from the installed stream_fn with the bytecode it ships, one per stack, hashed
by every byte it holds, the same on every machine."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import aws_cdk as cdk
import pytest
import stream_fn
from platform_support import require_layer_bytecode

from cdk_stream_fn import StreamingFunction
from cdk_stream_fn.construct.runtime_layer import (
    BYTECODE_WARNING_ID,
    RuntimePackageError,
    installed_runtime_directory,
    read_runtime_package,
    stage_layer,
)
from cdk_stream_fn.layer_bytecode import (
    ARCHIVE_NAME,
    INTERPRETERS,
    BytecodeArchive,
    Interpreter,
    read_archive,
    read_package_sources,
    source_digests,
    write_archive,
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
    """A package's own files: no bytecode and no bytecode archive."""
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in directory.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix != ".pyc"
        and path.name != ARCHIVE_NAME
    }


def tree(directory: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every file and directory under `directory`: mode, and content for files."""
    return {
        path.relative_to(directory).as_posix(): (
            stat.S_IMODE(path.stat().st_mode),
            path.read_bytes() if path.is_file() else None,
        )
        for path in sorted(directory.rglob("*"))
    }


FAKE_INTERPRETERS = tuple(
    Interpreter(python, f"cpython-3{python[2:]}", magic, f"{python}.0")
    for python, magic in zip(INTERPRETERS, ("f30d0d0a", "2b0e0d0a"))
)


def fake_pyc(interpreter: Interpreter, body: bytes) -> bytes:
    """A checked-hash pyc's header (PEP 552) for `interpreter`, then `body` (never executed here)."""
    return bytes.fromhex(interpreter.magic) + (0b11).to_bytes(4, "little") + b"\0" * 8 + body


def add_fake_archive(package: Path) -> BytecodeArchive:
    """Give a fake runtime an archive as the build gives the real one (no interpreter needed to stage)."""
    sources = read_package_sources(package)
    archive = BytecodeArchive(
        FAKE_INTERPRETERS,
        source_digests(sources),
        {
            f"__pycache__/{Path(source).stem}.{interpreter.cache_tag}.pyc": fake_pyc(
                interpreter, source.encode()
            )
            for source in sources
            for interpreter in FAKE_INTERPRETERS
        },
    )
    write_archive(package / ARCHIVE_NAME, archive)
    return archive


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
    assert not (staged / "python" / "stream_fn" / ARCHIVE_NAME).exists()
    wrapper = staged / "stream-fn"
    assert wrapper.read_bytes() == (installed / "wrapper.sh").read_bytes()
    assert stat.S_IMODE(wrapper.stat().st_mode) == 0o755
    assert stat.S_IMODE((staged / "python" / "stream_fn" / "__init__.py").stat().st_mode) == 0o644
    assert sorted(path.name for path in staged.iterdir()) == ["python", "stream-fn"]


def test_layer_holds_the_shipped_bytecode_for_each_lambda_interpreter_and_no_other(
    scenarios: Scenarios,
) -> None:
    installed = require_layer_bytecode()
    staged = staged_layer_directory(scenarios.outdir, scenarios.templates[DEFAULTS]) / "python" / "stream_fn"
    archive = read_archive(installed / ARCHIVE_NAME)
    assert [interpreter.cache_tag for interpreter in archive.interpreters] == ["cpython-313", "cpython-314"]
    expected = {
        f"__pycache__/{Path(source).stem}.{tag}.pyc"
        for source in read_package_sources(installed)
        for tag in ("cpython-313", "cpython-314")
    }
    shipped = {path.relative_to(staged).as_posix(): path.read_bytes() for path in staged.rglob("*.pyc")}
    assert set(shipped) == expected
    assert shipped == {name: archive.pycs[name] for name in expected}
    for name in shipped:
        assert stat.S_IMODE((staged / name).stat().st_mode) == 0o644
    assert stat.S_IMODE((staged / "__pycache__").stat().st_mode) == 0o755
    assert scenarios.warnings[DEFAULTS] == [] or not any(
        BYTECODE_WARNING_ID in warning for warning in scenarios.warnings[DEFAULTS]
    )


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
    add_fake_archive(original)
    copy = fake_runtime(tmp_path / "b")
    add_fake_archive(copy)
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "loop.cpython-311.pyc").write_bytes(b"\x00bytecode")
    os.utime(copy / "loop.py", (0, 0))
    (copy / "loop.py").chmod(0o600)
    assert read_runtime_package(original).fingerprint == read_runtime_package(copy).fingerprint

    changed = fake_runtime(tmp_path / "c")
    (changed / "loop.py").write_text("LOOP = 2\n")
    add_fake_archive(changed)
    assert read_runtime_package(changed).fingerprint != read_runtime_package(original).fingerprint

    renamed = fake_runtime(tmp_path / "d")
    (renamed / "loop.py").rename(renamed / "loops.py")
    add_fake_archive(renamed)
    assert read_runtime_package(renamed).fingerprint != read_runtime_package(original).fingerprint


def test_fingerprint_covers_the_shipped_bytecode(tmp_path: Path) -> None:
    original = fake_runtime(tmp_path / "a")
    add_fake_archive(original)
    other_bytecode = fake_runtime(tmp_path / "b")
    archive = add_fake_archive(other_bytecode)
    name = "__pycache__/loop.cpython-314.pyc"
    pycs = {**archive.pycs, name: archive.pycs[name] + b"another compiler's bytes"}
    write_archive(other_bytecode / ARCHIVE_NAME, BytecodeArchive(archive.interpreters, archive.sources, pycs))
    without = fake_runtime(tmp_path / "c")

    fingerprints = {read_runtime_package(path).fingerprint for path in (original, other_bytecode, without)}
    assert len(fingerprints) == 3


def test_staging_writes_the_shipped_bytecode_where_python_looks_for_it(tmp_path: Path) -> None:
    runtime = fake_runtime(tmp_path / "runtime")
    archive = add_fake_archive(runtime)
    package = read_runtime_package(runtime)
    output = tmp_path / "layer"
    output.mkdir()
    stage_layer(package, output)
    assert package.bytecode_problem is None
    staged = output / "python" / "stream_fn"
    assert {path.relative_to(staged).as_posix() for path in staged.rglob("*.pyc")} == {
        "__pycache__/__init__.cpython-313.pyc",
        "__pycache__/__init__.cpython-314.pyc",
        "__pycache__/loop.cpython-313.pyc",
        "__pycache__/loop.cpython-314.pyc",
    }
    assert (staged / "__pycache__" / "loop.cpython-314.pyc").read_bytes() == archive.pycs[
        "__pycache__/loop.cpython-314.pyc"
    ]
    assert not (staged / ARCHIVE_NAME).exists()


def test_a_source_changed_after_the_bytecode_was_built_ships_without_its_bytecode(tmp_path: Path) -> None:
    runtime = fake_runtime(tmp_path / "runtime")
    add_fake_archive(runtime)
    (runtime / "loop.py").write_text("LOOP = 'edited'\n")
    package = read_runtime_package(runtime)
    names = {file.relative_path for file in package.files}
    assert "__pycache__/__init__.cpython-314.pyc" in names
    assert not {"__pycache__/loop.cpython-313.pyc", "__pycache__/loop.cpython-314.pyc"} & names
    assert package.bytecode_problem is not None
    assert "loop.py changed (or appeared) since layer-bytecode.zip was built" in package.bytecode_problem
    assert "./dev setup" in package.bytecode_problem


def test_a_package_without_its_bytecode_ships_sources_only_and_says_why(tmp_path: Path) -> None:
    package = read_runtime_package(fake_runtime(tmp_path / "runtime"))
    assert [file.relative_path for file in package.files] == ["__init__.py", "loop.py", "wrapper.sh"]
    assert package.bytecode_problem is not None
    assert "has no layer-bytecode.zip" in package.bytecode_problem

    broken = fake_runtime(tmp_path / "broken")
    (broken / ARCHIVE_NAME).write_bytes(b"not a zip")
    package = read_runtime_package(broken)
    assert not [file for file in package.files if file.relative_path.endswith(".pyc")]
    assert package.bytecode_problem is not None and "cannot be read" in package.bytecode_problem


def test_an_archive_holding_other_bytecode_than_it_names_is_not_shipped(tmp_path: Path) -> None:
    runtime = fake_runtime(tmp_path / "runtime")
    archive = add_fake_archive(runtime)
    name = "__pycache__/loop.cpython-314.pyc"
    unchecked = bytearray(archive.pycs[name])
    unchecked[4:8] = (0b01).to_bytes(4, "little")  # an unchecked-hash pyc: it would run even if stale
    write_archive(
        runtime / ARCHIVE_NAME,
        BytecodeArchive(archive.interpreters, archive.sources, {**archive.pycs, name: bytes(unchecked)}),
    )
    package = read_runtime_package(runtime)
    assert not [file for file in package.files if file.relative_path.endswith(".pyc")]
    assert package.bytecode_problem is not None and "is not a checked-hash pyc" in package.bytecode_problem


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


SYNTHESIZE_DEFAULTS = textwrap.dedent(
    """
    import json, shutil, sys
    import aws_cdk as cdk
    from cdk_stream_fn import StreamingFunction

    app = cdk.App(outdir=sys.argv[1])
    StreamingFunction(cdk.Stack(app, "Defaults"), "Stream", entry=sys.argv[2])
    app.synth()
    print(json.dumps({"bwrap": shutil.which("bwrap")}))
    """
)


def synthesize_elsewhere(
    outdir: Path, *, env: dict[str, str], cwd: Path, umask: int = 0o022
) -> tuple[dict, dict[str, object]]:
    """Synthesize the Defaults stack in a fresh process with `env`; its template and what it printed."""
    set_umask = f'umask {umask:03o} && exec "$0" "$@"'
    result = subprocess.run(
        ["/bin/sh", "-c", set_umask, sys.executable, "-c", SYNTHESIZE_DEFAULTS, str(outdir), str(HELLO)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    template = json.loads((outdir / "Defaults.template.json").read_text())
    return template, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_machine_without_platform_roots_synthesizes_the_same_layer_byte_for_byte(
    scenarios: Scenarios, tmp_path: Path
) -> None:
    """Synthesis never compiles: without bubblewrap, roots, a cache or this machine's HOME, with another
    hash seed, locale and umask, the layer has the same hash and the same bytes and modes."""
    require_layer_bytecode()
    node_only = tmp_path / "bin"
    node_only.mkdir()
    (node_only / "node").symlink_to(shutil.which("node") or "node")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        "PATH": str(node_only),
        "HOME": str(elsewhere),
        "XDG_CACHE_HOME": str(elsewhere / "cache"),
        "CDK_STREAM_FN_ROOTS_CACHE": str(elsewhere / "no-roots"),
        "PYTHONHASHSEED": "12345",
        "PYTHONDONTWRITEBYTECODE": "1",
        "LANG": "C",
        "TZ": "Pacific/Kiritimati",
    }
    template, printed = synthesize_elsewhere(tmp_path / "cdk.out", env=env, cwd=elsewhere, umask=0o077)

    assert printed["bwrap"] is None
    assert not (elsewhere / "no-roots").exists() and not (elsewhere / "cache").exists()
    assert layer_keys(template) == layer_keys(scenarios.templates[DEFAULTS])
    here = staged_layer_directory(scenarios.outdir, scenarios.templates[DEFAULTS])
    there = staged_layer_directory(tmp_path / "cdk.out", template)
    assert tree(there) == tree(here)
    assert any(name.endswith(".cpython-314.pyc") for name in tree(there))


@pytest.mark.slow
def test_an_installed_package_without_its_bytecode_warns_and_gets_another_hash(
    scenarios: Scenarios, tmp_path: Path
) -> None:
    require_layer_bytecode()
    copy = tmp_path / "site" / "stream_fn"
    shutil.copytree(
        installed_runtime_directory(), copy, ignore=shutil.ignore_patterns("__pycache__", ARCHIVE_NAME)
    )
    env = {**os.environ, "PYTHONPATH": str(copy.parent)}
    template, _ = synthesize_elsewhere(tmp_path / "cdk.out", env=env, cwd=tmp_path)

    assert layer_keys(template) != layer_keys(scenarios.templates[DEFAULTS])
    staged = staged_layer_directory(tmp_path / "cdk.out", template)
    assert not list(staged.rglob("*.pyc"))
    artifact = json.loads((tmp_path / "cdk.out" / "manifest.json").read_text())["artifacts"]["Defaults"]
    metadata = dict(artifact.get("metadata", {}))
    if "additionalMetadataFile" in artifact:
        metadata.update(json.loads((tmp_path / "cdk.out" / artifact["additionalMetadataFile"]).read_text()))
    messages = [
        str(entry["data"])
        for entries in metadata.values()
        for entry in entries
        if entry["type"] == "aws:cdk:warning"
    ]
    (warning,) = [message for message in messages if BYTECODE_WARNING_ID in message]
    assert "has no layer-bytecode.zip" in warning and "every cold start" in warning
