"""One emulator for the web app tests: real FastAPI, Starlette and Flask apps in real runtime processes."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emulator import harness
from emulator.harness import ServedEmulator, read_blocks

from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

APPS = Path(__file__).parent / "apps"
EXAMPLE = Path(__file__).resolve().parents[2] / "functions" / "events"

FUNCTIONS = {
    "fastapi": ("fastapi_app.handler", APPS),
    "raw-asgi": ("raw_asgi.handler", APPS),
    "failing-startup": ("failing_startup.handler", APPS),
    "flask": ("flask_app.handler", APPS),
    "raw-wsgi": ("flask_app.raw_handler", APPS),
    "example": ("app.handler", EXAMPLE),
}


def function_configs() -> list[FunctionConfig]:
    return [
        FunctionConfig(name, handler, code_dir, timeout_seconds=20)
        for name, (handler, code_dir) in FUNCTIONS.items()
    ]


@pytest.fixture(scope="package")
def served() -> Iterator[ServedEmulator]:
    """Every app behind its own function URL, warmed up front (in parallel) so no test pays a cold start."""
    emulator = ServedEmulator(function_configs())
    try:
        emulator.warm_all()
        yield emulator
    finally:
        emulator.close()


@pytest.fixture(scope="package")
def lambda_client(served: ServedEmulator) -> Any:
    """boto3's Lambda client against the emulator's Lambda API (unsigned: nothing may reach AWS)."""
    return harness.lambda_client(served.endpoint, read_timeout=30)


def logs_of(served: ServedEmulator, function: str) -> list[str]:
    return [line for name, line in served.log_lines if name == function]


def logged(served: ServedEmulator, function: str, text: str, timeout: float = 10) -> bool:
    """Whether the function logs a line containing `text` (within `timeout`)."""
    return any(text in line for line in wait_for_log(served, function, text, timeout))


def wait_for_log(served: ServedEmulator, function: str, text: str, timeout: float = 10) -> list[str]:
    """The function's log lines once one contains `text` (output arrives a moment after the response)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = logs_of(served, function)
        if any(text in line for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def read_event_stream(port: int, path: str) -> tuple[http.client.HTTPResponse, list[tuple[float, str]]]:
    """GET ``path`` and read its server-sent events as they arrive, each with the seconds to its arrival."""
    return read_blocks(port, path, timeout=20)
