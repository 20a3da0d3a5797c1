"""The timers that run an event stream's heartbeat and deadline while its handler waits.

A timer is told two things by its stream: when the next thing is due (``next_due``, a
``time.monotonic()`` time or None when nothing ever will be) and what to call then (``fire``). It
never writes: ``fire`` does, under the stream's lock, after checking that the stream is still open.
Each stream has a timer of its own; nothing here is shared between streams, so invocations that run
at once (Lambda Managed Instances, on threads or asyncio tasks) never touch each other's.

* :class:`ThreadTimer` is for synchronous handlers, plain or generators. They block the
  invocation's thread between events (a sleep, a queue, a slow call), so the heartbeat needs a
  thread of its own: a daemon thread that sleeps until the next due time or until it is stopped.
* :class:`LoopTimer` is for ``async`` handlers and async generators, which give the event loop back
  while they wait: ``loop.call_later`` callbacks on that loop, no thread.

``stop()`` returns only once the timer can no longer call ``fire``, except when a thread timer is
stopped from its own ``fire``.
"""

from __future__ import annotations

import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable


class ThreadTimer:
    """Calls ``fire`` on a daemon thread whenever ``next_due`` comes, until stopped or nothing is due."""

    def __init__(self, next_due: Callable[[], float | None], fire: Callable[[], None], name: str) -> None:
        self._next_due = next_due
        self._fire = fire
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it (it may be finishing a ``fire`` that is writing)."""
        self._stopped.set()
        if self._thread.ident is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while True:
            due = self._next_due()
            if due is None or self._stopped.wait(max(0.0, due - time.monotonic())):
                return
            self._fire()


class LoopTimer:
    """Calls ``fire`` from ``loop`` whenever ``next_due`` comes, until stopped or nothing is due."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, next_due: Callable[[], float | None], fire: Callable[[], None]
    ) -> None:
        self._loop = loop
        self._next_due = next_due
        self._fire = fire
        self._handle: asyncio.Handle | None = None
        self._stopped = False

    def start(self) -> None:
        """Schedule the first call from the loop's next turn (the caller may hold the stream's lock)."""
        self._handle = self._loop.call_soon(self._schedule)

    def stop(self) -> None:
        self._stopped = True
        handle, self._handle = self._handle, None
        if handle is not None:
            if running_loop() is self._loop:
                handle.cancel()
            else:  # stopped from another thread: a timer handle belongs to its loop's thread
                self._loop.call_soon_threadsafe(handle.cancel)

    def _schedule(self) -> None:
        self._handle = None
        due = self._next_due()
        if due is not None and not self._stopped:
            self._handle = self._loop.call_later(max(0.0, due - time.monotonic()), self._run)

    def _run(self) -> None:
        self._handle = None
        if not self._stopped:
            self._fire()
            self._schedule()


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or None (without importing asyncio if nothing did)."""
    asyncio_module = sys.modules.get("asyncio")
    if asyncio_module is None:
        return None
    try:
        loop: asyncio.AbstractEventLoop = asyncio_module.get_running_loop()
    except RuntimeError:
        return None
    return loop
