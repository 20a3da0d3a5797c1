"""Fixtures for the server-sent events tests: the fake Runtime API (in process) and the emulator (end to end)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from emulator.harness import ServedEmulator
from runtime.conftest import client, fake_api  # noqa: F401 - the runtime tests' fixtures, shared

from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

FUNCTIONS = Path(__file__).parent / "functions"
#: name -> (handler, timeout in seconds). The deadline tests run with a short timeout (2.5 s) and a
#: margin of 1 s, so their streams end after about 1.5 s.
SSE_FUNCTIONS = {
    "ticks": ("sse_handlers.ticks", 20.0),
    "async-ticks": ("sse_handlers.async_ticks", 20.0),
    "plain-ticks": ("sse_handlers.plain_ticks", 20.0),
    "async-plain-ticks": ("sse_handlers.async_plain_ticks", 20.0),
    "site": ("sse_handlers.site", 20.0),
    "endless": ("sse_handlers.endless", 2.5),
    "async-endless": ("sse_handlers.async_endless", 2.5),
    "stuck": ("sse_handlers.stuck", 2.5),
}


@pytest.fixture(scope="package")
def served() -> Iterator[ServedEmulator]:
    """Every handler behind its own function URL in real runtime processes, warmed up front."""
    emulator = ServedEmulator(
        [
            FunctionConfig(name, handler, FUNCTIONS, timeout_seconds=timeout, auth_type="NONE")
            for name, (handler, timeout) in SSE_FUNCTIONS.items()
        ]
    )
    try:
        emulator.warm_all()
        yield emulator
    finally:
        emulator.close()


def function_log(served: ServedEmulator, name: str, text: str, timeout: float = 10) -> list[str]:
    """The function's log lines once one contains ``text`` (or after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for function, line in served.log_lines if function == name]
        if any(text in line for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)
