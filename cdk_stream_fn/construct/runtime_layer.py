"""The stream_fn runtime as a Lambda layer: one per stack, staged from the installed package.

Layout (docs/architecture.md): `python/stream_fn/**` (the package's files, without any bytecode this
machine's interpreters cached), `python/stream_fn/**/__pycache__/*.cpython-31[34].pyc` (the bytecode
the package ships for Lambda's interpreters, cdk_stream_fn.layer_bytecode), and the exec wrapper as
`stream-fn` (mode 0755) at the layer root, so on Lambda the wrapper is `/opt/stream-fn`. The layer is
staged by a local bundler straight into the cloud assembly, and its asset hash is a fingerprint of
every byte it holds, all of which come from the installed package: the same installed version gives
the same layer and hash on every machine, and the hash changes only when the runtime does. The CDK
CLI zips assets keeping each file's mode (cdk-assets `writeZipFile`: `mode: stat.mode`), which keeps
the wrapper executable on Lambda.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_stream_fn.contract import EXEC_WRAPPER_PATH, WRAPPER_NAME
from cdk_stream_fn.layer_bytecode import ARCHIVE_NAME, python_sources, shipped_bytecode

WRAPPER_SOURCE = "wrapper.sh"
PACKAGE_NAME = "stream_fn"
LAYER_CONSTRUCT_ID = "StreamFnRuntimeLayer"

_LAYOUT_VERSION = b"cdk-stream-fn layer layout 2\n"
BYTECODE_WARNING_ID = "cdk-stream-fn:layerWithoutBytecode"
_SKIPPED_DIRECTORIES = frozenset({"__pycache__"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
_FILE_MODE = 0o644
_DIRECTORY_MODE = 0o755
_EXECUTABLE_MODE = 0o755
# Docker is never used: the local bundlers always stage their asset or raise. CDK requires an image in
# BundlingOptions, so this name exists only to satisfy the type and is never pulled or run.
NEVER_RUN_IMAGE = "cdk-stream-fn/local-bundling-only:never-run"


class RuntimePackageError(RuntimeError):
    """The installed stream_fn package cannot be staged as a layer."""


@dataclass(frozen=True)
class RuntimeFile:
    """One file of the runtime package, as the layer will hold it."""

    relative_path: str
    content: bytes


@dataclass(frozen=True)
class RuntimePackage:
    """The runtime's files as the layer holds them under `python/stream_fn` (the package's own files and
    the bytecode it ships), read once, and the fingerprint that names the layer asset.

    `bytecode_problem` says why some or all of the bytecode is missing (None when none is).
    """

    directory: Path
    files: tuple[RuntimeFile, ...]
    wrapper: bytes
    fingerprint: str
    bytecode_problem: str | None = None


def installed_runtime_directory() -> Path:
    """The directory of the installed `stream_fn` package (a wheel install or an editable checkout)."""
    import stream_fn

    return Path(stream_fn.__file__).resolve().parent


@functools.cache
def read_runtime_package(directory: Path) -> RuntimePackage:
    """Read the runtime package in `directory` (cached per process: it is staged once, by content)."""
    if not (directory / "__init__.py").is_file():
        raise RuntimePackageError(f"{directory} is not the stream_fn package (it has no __init__.py)")
    contents: dict[str, bytes] = {}
    for root, directories, names in os.walk(directory):
        directories[:] = sorted(d for d in directories if d not in _SKIPPED_DIRECTORIES)
        for name in sorted(names):
            if name.endswith(_SKIPPED_SUFFIXES):
                continue
            path = Path(root) / name
            relative = path.relative_to(directory).as_posix()
            if relative != ARCHIVE_NAME:
                contents[relative] = path.read_bytes()
    bytecode = shipped_bytecode(directory, python_sources(contents))
    contents.update(bytecode.pycs)
    files = [RuntimeFile(relative, content) for relative, content in sorted(contents.items())]
    wrapper = directory / WRAPPER_SOURCE
    if not wrapper.is_file():
        raise RuntimePackageError(
            f"the installed stream_fn package at {directory} has no {WRAPPER_SOURCE}, the script that "
            "Lambda's AWS_LAMBDA_EXEC_WRAPPER runs; reinstall cdk-stream-fn (the wheel ships it)"
        )
    return RuntimePackage(
        directory=directory,
        files=tuple(files),
        wrapper=wrapper.read_bytes(),
        fingerprint=_fingerprint(files),
        bytecode_problem=bytecode.problem,
    )


def _fingerprint(files: list[RuntimeFile]) -> str:
    digest = hashlib.sha256(_LAYOUT_VERSION)
    for file in files:
        path = file.relative_path.encode()
        digest.update(len(path).to_bytes(8, "big") + path)
        digest.update(len(file.content).to_bytes(8, "big") + file.content)
    return digest.hexdigest()


def stage_layer(package: RuntimePackage, output_dir: Path) -> None:
    """Write the layer's files into `output_dir` with fixed modes (mode 0755 only for the wrapper)."""
    output_dir.chmod(_DIRECTORY_MODE)  # CDK creates it world-writable for Docker, which is not used
    package_root = output_dir / "python" / PACKAGE_NAME
    for file in package.files:
        target = package_root / file.relative_path
        _make_directories(target.parent, stop_at=output_dir)
        target.write_bytes(file.content)
        target.chmod(_FILE_MODE)
    wrapper = output_dir / WRAPPER_NAME
    wrapper.write_bytes(package.wrapper)
    wrapper.chmod(_EXECUTABLE_MODE)


def _make_directories(directory: Path, *, stop_at: Path) -> None:
    missing: list[Path] = []
    while directory != stop_at and not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        path.mkdir()
        path.chmod(_DIRECTORY_MODE)


def local_bundling(bundler: object, *, environment: Mapping[str, str] | None = None) -> cdk.BundlingOptions:
    """Bundling options that stage an asset with `bundler` on this machine, never in Docker.

    `bundler` is a `@jsii.implements(cdk.ILocalBundling)` class. jsii turns the BundlingOptions struct
    into the keyword-only arguments its `try_bundle` names and drops the rest, so it implements
    ILocalBundling's signature only in part, hence the cast. `environment` reaches `try_bundle`, and CDK
    hashes it into the asset hash.
    """
    return cdk.BundlingOptions(
        image=cdk.DockerImage.from_registry(NEVER_RUN_IMAGE),
        local=cast(cdk.ILocalBundling, bundler),
        environment=environment,
    )


@jsii.implements(cdk.ILocalBundling)
class _LayerBundler:
    """Stages the layer on this machine (CDK calls it only when the asset is not staged yet)."""

    def __init__(self, package: RuntimePackage) -> None:
        self._package = package

    # Only the keyword arguments used here: see local_bundling.
    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage) -> bool:
        stage_layer(self._package, Path(output_dir))
        return True


def runtime_layer_code(package: RuntimePackage) -> lambda_.Code:
    """The layer's code asset: staged by `_LayerBundler`, hashed by the runtime's bytes only."""
    return lambda_.Code.from_asset(
        str(package.directory),
        asset_hash=package.fingerprint,
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=local_bundling(_LayerBundler(package)),
    )


def runtime_layer(scope: Construct, *, compatible_runtimes: list[lambda_.Runtime]) -> lambda_.LayerVersion:
    """The stack's stream_fn runtime layer, created by the first StreamingFunction of the stack."""
    stack = cdk.Stack.of(scope)
    existing = stack.node.try_find_child(LAYER_CONSTRUCT_ID)
    if existing is not None:
        return existing  # type: ignore[return-value]
    package = read_runtime_package(installed_runtime_directory())
    layer = lambda_.LayerVersion(
        stack,
        LAYER_CONSTRUCT_ID,
        code=runtime_layer_code(package),
        compatible_runtimes=compatible_runtimes,
        compatible_architectures=[lambda_.Architecture.ARM_64, lambda_.Architecture.X86_64],
        description="stream_fn: the response-streaming Python runtime that cdk-stream-fn runs via "
        f"AWS_LAMBDA_EXEC_WRAPPER={EXEC_WRAPPER_PATH}",
        license="Apache-2.0",
    )
    if package.bytecode_problem is not None:
        cdk.Annotations.of(layer).add_warning_v2(
            BYTECODE_WARNING_ID,
            f"{package.bytecode_problem}. Without its bytecode, functions compile those modules at every "
            "cold start (/opt is read-only on Lambda).",
        )
    return layer
