"""Flow control for one connection, both ways (uvicorn's `FlowControl` is the model).

Reading: once more than `READ_SIZE` of parsed input waits untaken, reading from the socket pauses, so a
slow consumer holds the peer back, whether it streams a body or piles up requests; it resumes once the
untaken input is down to half that. Writing: the transport calls `pause_writing` above its high-water
mark, and `drain` waits until it calls `resume_writing`.
"""

from __future__ import annotations

import asyncio

from cdk_stream_fn.emulator import limits

#: Reading pauses when more than this is parsed and not taken.
PAUSE_ABOVE = limits.READ_SIZE
#: Reading resumes once the untaken input is down to this.
RESUME_AT = limits.READ_SIZE // 2


class FlowControl:
    """Pauses and resumes one transport's reading, and lets writers wait while it is full."""

    __slots__ = ("_drain_waiter", "_loop", "_transport", "reading_paused", "writing_paused")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self.reading_paused = False
        self.writing_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None

    # -- reading ----------------------------------------------------------------------------------

    def input_queued(self, untaken: int) -> None:
        """Input was parsed: pause reading if `untaken` bytes now wait for the consumer."""
        if untaken > PAUSE_ABOVE and not self.reading_paused:
            self.reading_paused = True
            self._transport.pause_reading()

    def input_taken(self, untaken: int) -> None:
        """The consumer took input: resume reading once `untaken` is low enough."""
        if self.reading_paused and untaken <= RESUME_AT:
            self.resume_reading()

    def resume_reading(self) -> None:
        if self.reading_paused:
            self.reading_paused = False
            if not self._transport.is_closing():
                self._transport.resume_reading()

    # -- writing ----------------------------------------------------------------------------------

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake()

    def connection_lost(self) -> None:
        """Nothing will drain any more: let a waiting writer go on (to find the connection gone)."""
        self._wake()

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait while the transport is over its high-water mark; False if `timeout` seconds passed first."""
        if not self.writing_paused:
            return True
        waiter = self._drain_waiter = self._loop.create_future()
        timer = self._loop.call_later(timeout, _settle, waiter) if timeout is not None else None
        try:
            await waiter
        finally:
            self._drain_waiter = None
            if timer is not None:
                timer.cancel()
        return not self.writing_paused

    def _wake(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
