"""Keeping what `serve` serves in step with the source: new code at the next invocation, a new synthesis
on the same ports, and a broken edit that changes nothing but a message.

Changes are taken one at a time, in a single task, so two reloads never race; changes that arrive
meanwhile are gathered, a pending synthesis first.

* **Code** (a file in a function's entry changed): the code is copied as a new version, its requirements
  installed if they changed, and a sandbox of the new version started; once its init is done (the runtime
  asks for its first invocation) it replaces the old version (`Emulator.replace_function`): new
  invocations run the new code, streams in flight finish on the old. If the init fails (a syntax error,
  an import that fails), or the new requirements cannot be installed, the message says so and the last
  good version keeps serving.
* **The app** (a file `cdk watch` would act on changed): the app is synthesized again; functions whose
  configuration changed are reloaded as above, new ones added with a URL on the next free port, removed
  ones stopped; the others keep their sandboxes. A failed synthesis leaves everything as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from cdk_stream_fn.emulator.app.assembly import AppFunction, AssemblyError
from cdk_stream_fn.emulator.app.local_functions import LocalFunction, LocalFunctions
from cdk_stream_fn.emulator.app.service import Emulator
from cdk_stream_fn.emulator.app.sources import AppSource
from cdk_stream_fn.emulator.app.synth import SynthError
from cdk_stream_fn.emulator.app.watch_rules import Change, WatchRules, rules_from_cdk_json
from cdk_stream_fn.emulator.platform_errors import FunctionError

log = logging.getLogger("cdk_stream_fn.emulator")

Report = Callable[[str], None]


class Reloader:
    """Applies changes to the `emulator` serving `functions`, as `local` prepares them from `source`.

    `report` gets one line per outcome (reloaded, kept, added, removed, failed). `on_entries_changed`
    is called when the set of entry directories changed (a new synthesis added or moved one), so the
    file watcher can watch them.
    """

    def __init__(
        self,
        emulator: Emulator,
        local: LocalFunctions,
        source: AppSource,
        functions: Iterable[LocalFunction],
        *,
        report: Report,
    ) -> None:
        self.emulator = emulator
        self.local = local
        self.source = source
        self.report = report
        self.current = {function.config.name: function for function in functions}
        #: Whether the version served is known to start (False: its last init failed, or it cannot run).
        self._good = {name: function.config.unavailable is None for name, function in self.current.items()}
        self.on_entries_changed: Callable[[], None] = lambda: None
        self._pending_app = False
        self._pending: set[str] = set()
        self._wake = asyncio.Event()

    # -- what the watcher calls ------------------------------------------------------------------

    def watch_rules(self) -> WatchRules:
        """What to watch now, and how to read a change."""
        entries: dict[Path, tuple[str, ...]] = {}
        for name, function in self.current.items():
            if function.source.entry is not None:
                entries[function.source.entry] = (*entries.get(function.source.entry, ()), name)
        if self.source.app_dir is None:
            return WatchRules(entries=entries)
        return rules_from_cdk_json(self.source.app_dir, entries)

    def changed(self, change: Change) -> None:
        """Queue what a set of file changes asks for."""
        if change.app:
            self._pending_app = True
        self._pending.update(change.functions)
        if change:
            self._wake.set()

    async def run(self) -> None:
        """Apply changes as they come, one at a time, until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending_app or self._pending:
                try:
                    if self._pending_app:
                        self._pending_app = False
                        await self.reload_app()  # code changes pending meanwhile are applied after it
                    else:
                        name = self._pending.pop()
                        if name in self.current:
                            await self.reload_function(name)
                except Exception:
                    log.exception("reloading failed in the emulator")
                    self.report("reloading failed in the emulator (see the traceback above); still serving")

    # -- reloads ---------------------------------------------------------------------------------

    async def reload_function(self, name: str) -> None:
        """Its code changed: serve a new version of it once that version starts."""
        started = time.perf_counter()
        old = self.current[name]
        new = await asyncio.to_thread(self.local.prepare, old.source)
        await self._switch(old, new, started, "its code changed")

    async def reload_app(self) -> None:
        """The CDK app changed: synthesize it and serve what it holds now."""
        started = time.perf_counter()
        try:
            functions = await asyncio.to_thread(self.source.load)
        except (SynthError, AssemblyError) as error:
            self.report(f"{error}\n  The last good version of the app keeps serving.")
            return
        if not functions:
            self.report(
                "the app holds no StreamingFunction now; the last good version of the app keeps serving"
            )
            return
        entries_before = self.watch_rules().entries
        by_name = {function.config.name: function for function in functions}
        for name in [name for name in self.current if name not in by_name]:
            await self.emulator.remove_function(name)
            del self.current[name]
            self._good.pop(name, None)
            self.report(f"{name}: removed from the app, no longer served")
        changed = []
        for name, function in by_name.items():
            old = self.current.get(name)
            if old is None:
                await self._add(function)
            elif _same(old.source, function):
                self.current[name] = replace(old, source=function)
            else:
                changed.append(name)
                new = await asyncio.to_thread(self.local.prepare, function)
                await self._switch(old, new, started, "the app changed it")
        if not changed and all(name in self.current for name in by_name):
            self.report(f"synthesized again in {time.perf_counter() - started:.1f} s: no function changed")
        self.source.prune([function.config for function in self.current.values()])
        if self.watch_rules().entries != entries_before:
            self.on_entries_changed()

    async def _add(self, function: AppFunction) -> None:
        new = await asyncio.to_thread(self.local.prepare, function)
        await self.emulator.add_function(new.config)
        self.current[new.config.name] = new
        self._good[new.config.name] = new.config.unavailable is None
        server = self.emulator.url_servers.get(new.config.name)
        where = f" at {server.url}" if server is not None else " (no function URL)"
        self.report(f"{new.config.name}: new in the app, served{where}")

    async def _switch(self, old: LocalFunction, new: LocalFunction, started: float, why: str) -> None:
        """Serve `new` in place of `old` if it starts; otherwise say why, and keep `old` if it is good."""
        name = new.config.name
        if new.config.unavailable is not None:
            problem = new.problem or new.config.unavailable
            if self._good.get(name):
                self.report(f"{name}: {why}, but {problem}\n  The last good version keeps serving.")
                return
            await self.emulator.replace_function(new.config)
            self.current[name] = new
            self.report(
                f"{name}: {why}, and {problem}\n  It answers every request with an error that says so."
            )
            return
        if new.config.reserved_concurrency == 0:  # throttled: nothing would start it
            await self.emulator.replace_function(new.config)
            self.current[name] = new
            return
        pool = self.emulator.pools[name]
        output: list[tuple[str, str]] = []  # what the new version prints while it starts, held back
        candidate = pool.new_sandbox(
            new.config, log_sink=lambda function, line: output.append((function, line))
        )
        with _quiet(candidate.name):
            error = await candidate.initialize()
        if error is not None:
            await candidate.stop()
            failure = f"{error.error_type}: {_first_line(error.message)}{_traceback(error)}"
            if new.source.entry is not None:  # name the file the developer edits, not its copy
                failure = failure.replace(f"{new.config.code_dir}{os.sep}", f"{new.source.entry}{os.sep}")
            if self._good.get(name):
                self.report(
                    f"{name}: {why}, but the new version fails at init, so the last good version keeps "
                    f"serving: {failure}"
                )
                return
            await self.emulator.replace_function(new.config)
            self.current[name] = new
            self.report(f"{name}: {why}; the new version fails at init too: {failure}")
            return
        candidate.log_sink = pool.log_sink
        if pool.log_sink is not None:
            for function, line in output:
                pool.log_sink(function, line)
        await self.emulator.replace_function(new.config, warm=candidate)
        self.current[name] = new
        self._good[name] = True
        self.report(
            f"{name}: reloaded in {time.perf_counter() - started:.2f} s ({why}); new invocations run it"
        )


def _same(old: AppFunction, new: AppFunction) -> bool:
    """Whether a new synthesis left a function as it was (its asset's place aside)."""
    return replace(old, config=replace(old.config, code_dir=Path())) == replace(
        new, config=replace(new.config, code_dir=Path())
    )


def _traceback(error: FunctionError) -> str:
    """Where the init failed, from the error document's `stackTrace` (the runtime's own frames and
    importlib's left out), indented under the report."""
    try:
        frames = json.loads(error.payload).get("stackTrace") or []
    except (ValueError, AttributeError):
        return ""
    lines = [
        line.rstrip()
        for frame in frames
        if isinstance(frame, str) and "importlib" not in frame and "/stream_fn/" not in frame
        for line in frame.splitlines()
    ]
    return "".join(f"\n    {line}" for line in lines[-6:] if line.strip())


@contextlib.contextmanager
def _quiet(sandbox_name: str) -> Iterator[None]:
    """Leave out the emulator's own log lines about a sandbox being tried (its Runtime API's warning
    that the init failed): the reload's report says it once, with the traceback."""

    def keep(record: logging.LogRecord) -> bool:
        first = record.args[0] if isinstance(record.args, tuple) and record.args else None
        return not (
            isinstance(first, str) and (first == sandbox_name or first.startswith(f"{sandbox_name} "))
        )

    log.addFilter(keep)
    try:
        yield
    finally:
        log.removeFilter(keep)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
