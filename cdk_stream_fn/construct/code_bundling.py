"""The function's own code as an asset: the entry directory, plus its dependencies when it has any.

Without a requirements file the directory is staged by CDK's own copy (fast, no subprocess). With
`requirements.txt` or `pyproject.toml` a local bundler installs the dependencies with pip for Lambda's
platform and copies the code over them. Docker is never used: the bundler stages the asset or raises,
and CDK only falls back to the (never-run) image when a local bundler returns False.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

from ..contract import CODE_EXCLUDED_PATTERNS
from ..dependencies import LambdaPlatform, Requirements, find_requirements, install_dependencies
from .runtime_layer import local_bundling

EXCLUDED_PATTERNS: tuple[str, ...] = CODE_EXCLUDED_PATTERNS
"""Left out of the code asset: byte code, virtual environments, cloud assemblies, tool caches."""

_PYTHON_VERSION_KEY = "STREAM_FN_TARGET_PYTHON_VERSION"
_ARCHITECTURE_KEY = "STREAM_FN_TARGET_ARCHITECTURE"


@jsii.implements(cdk.ILocalBundling)
class PythonDependencyBundler:
    """Installs a function's dependencies for Lambda with pip, then copies the function's code."""

    def __init__(self, entry: Path, requirements: Requirements) -> None:
        self.entry = entry
        self.requirements = requirements
        self.error: Exception | None = None
        """The failure of the last bundling, kept to re-raise it as is (jsii would flatten it)."""

    # Only the keyword arguments used here: see local_bundling.
    def try_bundle(
        self, output_dir: str, *, image: cdk.DockerImage, environment: Mapping[str, str] | None = None
    ) -> bool:
        try:
            platform = platform_from_environment(environment or {})
            bundle_function_code(self.entry, Path(output_dir), self.requirements, platform)
        except Exception as error:
            self.error = error
            shutil.rmtree(output_dir, ignore_errors=True)
            raise
        return True


def bundle_function_code(
    entry: Path, output_dir: Path, requirements: Requirements, platform: LambdaPlatform
) -> None:
    """Dependencies first, then the code, so the function's own modules win over a dependency's."""
    install_dependencies(requirements, output_dir, platform, cwd=entry)
    shutil.copytree(entry, output_dir, ignore=shutil.ignore_patterns(*EXCLUDED_PATTERNS), dirs_exist_ok=True)


def platform_environment(platform: LambdaPlatform) -> dict[str, str]:
    """The bundling environment that names the target platform."""
    return {_PYTHON_VERSION_KEY: platform.python_version, _ARCHITECTURE_KEY: platform.architecture}


def platform_from_environment(environment: Mapping[str, str]) -> LambdaPlatform:
    """The target platform named by `platform_environment`."""
    return LambdaPlatform(
        python_version=environment[_PYTHON_VERSION_KEY], architecture=environment[_ARCHITECTURE_KEY]
    )


def function_code(
    entry: Path, platform: LambdaPlatform
) -> tuple[lambda_.Code, PythonDependencyBundler | None]:
    """The code asset for `entry`, and the bundler that will build it (None when it is a plain copy)."""
    requirements = find_requirements(entry)
    if requirements is None:
        return lambda_.Code.from_asset(str(entry), exclude=list(EXCLUDED_PATTERNS)), None
    bundler = PythonDependencyBundler(entry, requirements)
    code = lambda_.Code.from_asset(
        str(entry),
        exclude=list(EXCLUDED_PATTERNS),
        # CDK hashes the bundling environment into the asset hash, so the target platform lives there:
        # an arm64 bundle is never reused for x86_64, nor one for Python 3.13 on 3.14.
        bundling=local_bundling(bundler, environment=platform_environment(platform)),
    )
    return code, bundler
