"""The layer's bytecode in Lambda's interpreters: every shipped pyc is used as it is, a stale one never.

The layer is the construct's (the session's `runtime_layer`), mounted read-only on /opt as on Lambda.
`python -v` reports how the import system got each module's code: "<pyc> matches <source>" when it
accepted the pyc (for a checked-hash pyc, after comparing the source's hash), "code object from
<source>" when it compiled the source instead. Each test runs in each interpreter's own root, and in
the arm64 root through qemu (the same bytecode: it does not depend on the machine).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from platform_support import require_layer_bytecode

from cdk_stream_fn.layer_bytecode import ARCHIVE_NAME, read_archive, read_package_sources
from cdk_stream_fn.platform_roots.builder import RootSpec
from cdk_stream_fn.platform_roots.bytecode import compile_sources
from cdk_stream_fn.platform_roots.launch import emulation_environment, sandbox_command
from cdk_stream_fn.platform_roots.platforms import parse_platform

from .conftest import FUNCTIONS, NATIVE, PLATFORMS, built_root, platform_root

pytestmark = pytest.mark.timeout(180)

LAYER_PACKAGE = "/opt/python/stream_fn"
IMPORT_EVERY_MODULE = (
    "import importlib, pkgutil, stream_fn\n"
    "for module in pkgutil.iter_modules(stream_fn.__path__):\n"
    "    importlib.import_module('stream_fn.' + module.name)\n"
    "print('imported', stream_fn.__file__)\n"
)


@pytest.fixture(autouse=True)
def fresh_layer_bytecode() -> None:
    """The layer these tests stage must carry the installed package's bytecode as it is now."""
    require_layer_bytecode()


def cache_tag(platform: str) -> str:
    runtime = platform.split("/")[0]
    return "cpython-" + runtime.removeprefix("python").replace(".", "")


def run_in_root(platform: str, layer: Path, command: list[str], **environment: str) -> str:
    """Run `command` by the root's interpreter with `layer` read-only on /opt; its stderr and stdout."""
    parsed = parse_platform(platform)
    rootfs = built_root(RootSpec(parsed)).rootfs
    argv = sandbox_command(rootfs, [parsed.interpreter, *command], read_only_binds=[(layer, "/opt")])
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONPATH": "/opt/python", **environment}
    env.update(emulation_environment(parsed))
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=150, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr + result.stdout


def loaded_from_pyc(verbose: str, tag: str) -> set[str]:
    """The stream_fn modules (source names) whose shipped pyc the import system accepted."""
    pattern = re.compile(
        rf"^# {re.escape(LAYER_PACKAGE)}/__pycache__/(\S+)\.{tag}\.pyc matches {re.escape(LAYER_PACKAGE)}/(\S+)$",
        re.MULTILINE,
    )
    return {source for stem, source in pattern.findall(verbose) if source == f"{stem}.py"}


def compiled_from_source(verbose: str) -> list[str]:
    return re.findall(rf"^# code object from {re.escape(LAYER_PACKAGE)}/(\S+\.py)$", verbose, re.MULTILINE)


def sources_in(layer: Path) -> set[str]:
    return {path.name for path in (layer / "python" / "stream_fn").glob("*.py")}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_shipped_pyc_is_accepted_by_its_interpreter_without_compiling(
    runtime_layer: Path, platform: str
) -> None:
    verbose = run_in_root(platform, runtime_layer, ["-v", "-c", IMPORT_EVERY_MODULE])

    assert f"imported {LAYER_PACKAGE}/__init__.py" in verbose
    assert compiled_from_source(verbose) == []
    assert loaded_from_pyc(verbose, cache_tag(platform)) == sources_in(runtime_layer)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_cold_start_as_lambda_starts_it_loads_the_runtime_from_its_pycs(
    runtime_layer: Path, platform: str
) -> None:
    """`/var/runtime/bootstrap` -> `/opt/stream-fn` -> `python3.X -m stream_fn`, until the runtime has
    imported itself and the handler and finds no Runtime API to ask for an event."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"  # nothing listens once the probe is closed
    launch = platform_root(platform, runtime_layer).launch(
        {"AWS_LAMBDA_RUNTIME_API": closed, "_HANDLER": "styles.node_style", "PYTHONVERBOSE": "1"},
        code_dir=FUNCTIONS,
        function_environment={},
    )
    result = subprocess.run(
        launch.command,
        env=launch.environment,
        cwd=launch.cwd,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )

    assert "cannot connect to the Runtime API" in result.stderr, result.stderr[-3000:]
    assert compiled_from_source(result.stderr) == []
    started = loaded_from_pyc(result.stderr, cache_tag(platform))
    assert {"__init__.py", "__main__.py", "loop.py", "runtime_api.py", "framing.py"} <= started


@pytest.mark.parametrize("platform", NATIVE)
def test_a_stale_pyc_costs_a_compile_never_the_new_source(
    runtime_layer: Path, platform: str, tmp_path: Path
) -> None:
    """Checked-hash pycs: a source that no longer matches its pyc (another layer overwrote it, say) is
    compiled and run; the read-only /opt keeps the stale pyc where it is."""
    layer = tmp_path / "layer"
    shutil.copytree(runtime_layer, layer, symlinks=True)
    framing = layer / "python" / "stream_fn" / "framing.py"
    framing.write_text(framing.read_text() + "\nEDITED_AFTER_COMPILING = True\n")

    verbose = run_in_root(
        platform,
        layer,
        ["-v", "-c", "import stream_fn.framing as f; print('edited', f.EDITED_AFTER_COMPILING)"],
    )

    assert "edited True" in verbose
    assert compiled_from_source(verbose) == ["framing.py"]
    assert "framing.py" not in loaded_from_pyc(verbose, cache_tag(platform))
    assert "loop.py" not in compiled_from_source(verbose)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_compiling_twice_gives_the_same_bytes_and_those_the_package_ships(platform: str) -> None:
    """Marshal's output must not depend on the compiling process: another hash seed, and the package's
    own modules (its names and constants) already loaded, give the same bytes; nor on the machine: an
    arm64 build machine compiles what this x86_64 one ships."""
    import stream_fn

    package = Path(stream_fn.__file__).resolve().parent
    parsed = parse_platform(platform)
    rootfs = built_root(RootSpec(parsed)).rootfs
    sources = read_package_sources(package)

    interpreter, first = compile_sources(rootfs, parsed, sources, hash_seed="0")
    _, second = compile_sources(rootfs, parsed, sources, hash_seed="987654", preload=True)

    assert set(first) == {f"__pycache__/{Path(s).stem}.{interpreter.cache_tag}.pyc" for s in sources}
    assert first == second
    shipped = read_archive(package / ARCHIVE_NAME)
    (built_with,) = [i for i in shipped.interpreters if i.cache_tag == interpreter.cache_tag]
    if built_with.version != interpreter.version:
        pytest.skip(f"the archive was compiled by {built_with.version}, this root has {interpreter.version}")
    assert {name: shipped.pycs[name] for name in first} == first


REPO = Path(__file__).resolve().parents[2]
UV = REPO / ".tools" / "bin" / "uv"


def source_tree_without_bytecode(destination: Path) -> Path:
    """The checkout's tracked files as they are in the work tree (so a clone, but with any edits not yet
    committed, which the checkout's archive was compiled from): no layer-bytecode.zip."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    assert not (destination / "runtime" / "stream_fn" / ARCHIVE_NAME).exists()
    return destination


def build_wheel(source: Path, out_dir: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    """`uv build --wheel` of `source` with this interpreter (never one uv downloads), `environment` added."""
    return subprocess.run(
        [str(UV), "build", "--wheel", "--python", sys.executable, "--out-dir", str(out_dir), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **environment, "UV_PYTHON_DOWNLOADS": "never"},
    )


@pytest.mark.slow
def test_a_wheel_built_from_a_fresh_clone_compiles_the_same_bytecode(tmp_path: Path) -> None:
    """The build hook compiles the archive where a clone has none, and gets the checkout's bytes: the
    wheel a release machine builds carries what every checkout's ./dev setup compiles."""
    import zipfile

    clone = source_tree_without_bytecode(tmp_path / "clone")
    result = build_wheel(clone, tmp_path / "dist")
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("cdk_stream_fn-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        built = archive.read(f"stream_fn/{ARCHIVE_NAME}")
    assert built == (REPO / "runtime" / "stream_fn" / ARCHIVE_NAME).read_bytes()


@pytest.mark.slow
def test_a_wheel_cannot_be_built_without_its_bytecode(tmp_path: Path) -> None:
    """Where the bytecode cannot be compiled (no bubblewrap here), the build stops and says why, rather
    than publish a wheel whose layer differs from the others of its version."""
    clone = source_tree_without_bytecode(tmp_path / "clone")
    tools = tmp_path / "bin"  # a PATH without bubblewrap
    tools.mkdir()
    result = build_wheel(clone, tmp_path / "dist", PATH=str(tools))
    assert result.returncode != 0
    assert "must carry the runtime layer's bytecode" in result.stderr
    assert "bubblewrap is not installed" in result.stderr
    assert not list((tmp_path / "dist").glob("*.whl"))
