"""Waiting for the first of several moments (a runtime's pick-up, its exit, an init error) with a limit."""

from __future__ import annotations

import asyncio
from typing import Any


async def first_done(waiters: dict[str, asyncio.Future[Any]], *, timeout: float) -> str:
    """Wait for several futures at once (leaving them as they are); return the name of the first that is
    done, in the order given when several are, or "timeout"."""
    for name, future in waiters.items():
        if future.done():
            return name
    done, _ = await asyncio.wait(
        waiters.values(), timeout=max(timeout, 0), return_when=asyncio.FIRST_COMPLETED
    )
    return next((name for name, future in waiters.items() if future in done), "timeout")
