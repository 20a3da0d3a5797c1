"""Where `serve` gets its functions from, again at every reload: a CDK app, a cloud assembly, one handler."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from cdk_stream_fn.emulator.app.assembly import AppFunction, Warn, read_app_functions
from cdk_stream_fn.emulator.app.synth import synthesize
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig
from cdk_stream_fn.platform_roots.platforms import host_architecture

Progress = Callable[[str], None]


class AppSource(Protocol):
    """Lists the functions to serve (raising `SynthError` or `AssemblyError` when it cannot)."""

    @property
    def app_dir(self) -> Path | None:
        """The CDK app's directory when the functions come from synthesizing it (an edit there reloads)."""

    def load(self) -> list[AppFunction]: ...

    def prune(self, in_use: list[FunctionConfig]) -> None:
        """Let go of what earlier loads made that no function in `in_use` needs any more."""


@dataclass
class CdkApp:
    """Synthesizes the app in `app_dir` into a new assembly under `scratch` at each load."""

    app_dir: Path
    scratch: Path
    region: str = "us-east-1"
    warn: Warn = lambda _: None
    progress: Progress = lambda _: None
    _assemblies: list[Path] = field(default_factory=list)

    def load(self) -> list[AppFunction]:
        self.progress(f"synthesizing the CDK app in {self.app_dir} ...")
        output = self.scratch / f"cdk.out.{len(self._assemblies) + 1}"
        functions = read_app_functions(synthesize(self.app_dir, output), region=self.region, warn=self.warn)
        self._assemblies.append(output)
        return functions

    def prune(self, in_use: list[FunctionConfig]) -> None:
        """Remove the assemblies before the newest that no function served runs its code asset from."""
        for assembly in self._assemblies[:-1]:
            if assembly.exists() and not any(config.code_dir.is_relative_to(assembly) for config in in_use):
                shutil.rmtree(assembly, ignore_errors=True)


@dataclass
class Assembly:
    """Reads a cloud assembly synthesized before (`serve --assembly`); nothing re-synthesizes it."""

    directory: Path
    region: str = "us-east-1"
    warn: Warn = lambda _: None
    app_dir: Path | None = None

    def load(self) -> list[AppFunction]:
        return read_app_functions(self.directory, region=self.region, warn=self.warn)

    def prune(self, in_use: list[FunctionConfig]) -> None:
        pass


@dataclass
class OneFunction:
    """One handler in a code directory (`serve --handler --code`), run from that directory as an entry."""

    config: FunctionConfig
    app_dir: Path | None = None

    def load(self) -> list[AppFunction]:
        return [
            AppFunction(self.config, entry=self.config.code_dir.resolve(), architecture=host_architecture())
        ]

    def prune(self, in_use: list[FunctionConfig]) -> None:
        pass


@dataclass
class Customized:
    """Another source, with the command line's settings (`--env`, `--timeout`, ...) applied to each
    function it lists."""

    source: AppSource
    customize: Callable[[FunctionConfig], FunctionConfig]

    @property
    def app_dir(self) -> Path | None:
        return self.source.app_dir

    def load(self) -> list[AppFunction]:
        return [replace(function, config=self.customize(function.config)) for function in self.source.load()]

    def prune(self, in_use: list[FunctionConfig]) -> None:
        self.source.prune(in_use)
