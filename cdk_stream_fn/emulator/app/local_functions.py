"""From a function of the app to what runs here: its Python, its code, its dependencies installed for it.

For each function (`assembly.AppFunction`) `LocalFunctions.prepare` decides where it runs (`runners`),
copies its code from the entry directory (`code_snapshots`), finds its requirements by the construct's
own rule (`dependencies.find_requirements`) and installs them for that Python (`dependency_cache`), and
returns the `FunctionConfig` the emulator serves. A function whose dependencies cannot be installed here
is still returned, marked `unavailable` with the reason, so the others serve. A function without an
entry (metadata version 1, or an entry that moved) runs its code asset as synthesized.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from cdk_stream_fn.dependencies import DependencyInstallError, find_requirements
from cdk_stream_fn.emulator.app.assembly import AppFunction
from cdk_stream_fn.emulator.app.code_snapshots import CodeSnapshots
from cdk_stream_fn.emulator.app.dependency_cache import DependencyCache, LocalInstallError
from cdk_stream_fn.emulator.app.lambda_provided import stage_provided
from cdk_stream_fn.emulator.app.runners import Runner, RunnerResolver
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LocalFunction:
    """A function as it runs here: the configuration to serve and where it runs."""

    config: FunctionConfig
    runner: Runner
    source: AppFunction
    """What it was prepared from (the function as synthesized)."""
    problem: str | None = None
    """Why it cannot run here, in full for the console (pip's own words included); `config.unavailable`
    is the short form its invocations answer with."""


class LocalFunctions:
    """Prepares the app's functions to run here; `scratch` holds the code copies and the provided path."""

    def __init__(
        self,
        runners: RunnerResolver,
        *,
        scratch: Path,
        dependencies: DependencyCache | None = None,
        progress: Progress = lambda _: None,
    ) -> None:
        self.runners = runners
        self.dependencies = dependencies or DependencyCache()
        self.snapshots = CodeSnapshots(scratch / "code")
        self.progress = progress
        self._scratch = scratch
        self._provided: Path | None = None
        self._lock = threading.Lock()

    def prepare(self, function: AppFunction) -> LocalFunction:
        """The function ready to serve (blocking: it may copy code and run pip)."""
        config = function.config
        runner = self.runners.runner_for(config.runtime, function.architecture)
        local = replace(config, platform=runner.root)
        if config.runtime_command is None:
            local = replace(local, runtime_path=self.provided())
            if runner.interpreter is not None:
                local = replace(local, interpreter=runner.interpreter.path)
        if function.entry is None:
            return LocalFunction(local, runner, function)
        local = replace(local, code_dir=self.snapshots.take(config.name, function.entry))
        try:
            requirements = find_requirements(function.entry)
        except DependencyInstallError as error:
            reason = f"{config.name} cannot run here: {error}"
            return LocalFunction(replace(local, unavailable=reason), runner, function, problem=reason)
        if requirements is None:
            return LocalFunction(local, runner, function)
        target = runner.install_target
        try:
            with self._lock:  # one pip at a time: the machine is shared, and so may the cache entry be
                installed = self.dependencies.cached(requirements, target)
                if installed is None:
                    self.progress(
                        f"{config.name}: installing {_shown(requirements.source)} for {target.description} ..."
                    )
                    installed = self.dependencies.ensure(requirements, target, cwd=function.entry)
                    self.progress(
                        f"{config.name}: {len(installed.packages)} packages installed in {installed.seconds:.1f} s "
                        f"into {installed.layer.parent}"
                    )
        except LocalInstallError as error:
            reason = f"{config.name} cannot run here: {error}"
            short = reason.split("\n  pip said:")[0]
            return LocalFunction(replace(local, unavailable=short), runner, function, problem=reason)
        return LocalFunction(replace(local, dependencies=installed.layer), runner, function)

    def provided(self) -> Path:
        """The directory of what Lambda's runtime provides (`lambda_provided`), staged once."""
        if self._provided is None:
            self._provided = stage_provided(self._scratch / "provided")
        return self._provided


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is below it, else as it is."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
