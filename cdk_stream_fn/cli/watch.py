"""`serve`'s file watcher: watchfiles (inotify on Linux, FSEvents on macOS) feeding the reloader.

What to watch and what a change means are `WatchRules` (sans IO, in the emulator's app layer); this
module only listens. The app directory is watched without its subdirectories (its own files: app.py,
cdk.json), and only the subdirectories that may hold app files or function code are watched whole, so
a large `.venv` or `node_modules` costs no watches. When a new synthesis changes the entry
directories, the watchers start again on the new set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from cdk_stream_fn.emulator.app.reloader import Reloader
from cdk_stream_fn.emulator.app.watch_rules import WatchRules

log = logging.getLogger("cdk_stream_fn.cli")

#: watchfiles yields once changes have been quiet this long (milliseconds), at most `DEBOUNCE_MS` after
#: the first: an editor's save (write, rename, chmod) is one change, not three.
QUIET_MS = 50
DEBOUNCE_MS = 1600


async def watch_and_reload(reloader: Reloader, *, report: Callable[[str], None]) -> None:
    """Watch what the reloader's rules name, hand it every change, until cancelled."""
    while True:
        rules = reloader.watch_rules()
        restart = asyncio.Event()
        reloader.on_entries_changed = restart.set
        flat, deep = rules.roots()
        log.debug("watching %s (flat) and %s (with subdirectories)", flat, deep)
        watchers = [
            asyncio.create_task(_watch(paths, recursive, rules, reloader, restart, report))
            for paths, recursive in ((flat, False), (deep, True))
            if paths
        ]
        try:
            await restart.wait()
        finally:
            restart.set()
            await asyncio.gather(*watchers, return_exceptions=True)


async def _watch(
    paths: list[Path],
    recursive: bool,
    rules: WatchRules,
    reloader: Reloader,
    stop: asyncio.Event,
    report: Callable[[str], None],
) -> None:
    import watchfiles

    existing = [path for path in paths if path.exists()]
    if not existing:
        return
    try:
        async for changes in watchfiles.awatch(
            *existing,
            watch_filter=None,  # the rules decide, with cdk watch's own excludes
            recursive=recursive,
            stop_event=stop,
            step=QUIET_MS,
            debounce=DEBOUNCE_MS,
        ):
            change = rules.classify([Path(path) for _, path in changes])
            if change:
                reloader.changed(change)
    except OSError as error:
        report(
            f"warning: cannot watch {', '.join(map(str, existing))} for changes ({error}); edits there are not picked up"
        )
