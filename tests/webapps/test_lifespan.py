"""ASGI lifespan on the runtime's event loop: startup once at init, state for requests, shutdown on SIGTERM."""

from __future__ import annotations

import http.client

import httpx
import pytest
from emulator.harness import ServedEmulator

from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

from .conftest import APPS, logs_of, wait_for_log

pytestmark = pytest.mark.timeout(60)


def test_startup_runs_once_before_the_first_request_and_its_state_reaches_every_request(
    served: ServedEmulator,
) -> None:
    first = httpx.get(served.url("fastapi") + "state", timeout=20).json()
    second = httpx.get(served.url("fastapi") + "state", timeout=20).json()

    assert first["startups"] == 1
    assert second["startups"] == 1
    assert first["startup_id"] == second["startup_id"]
    # Requests run on the loop the startup ran on, so a pool opened at startup can serve them.
    assert first["same_loop"] is True


def test_a_failing_startup_is_an_init_error_that_says_why(served: ServedEmulator) -> None:
    response = httpx.get(served.url("failing-startup"), timeout=20)
    logs = "\n".join(wait_for_log(served, "failing-startup", "LifespanStartupError"))

    assert response.status_code == 502
    assert response.json() == {"Message": "Internal Server Error"}
    assert (
        "LifespanStartupError: the ASGI app's lifespan startup failed, so the function cannot start: "
        "ConnectionRefusedError: database at db.internal:5432 refused the connection"
    ) in logs
    assert 'raise ConnectionRefusedError("database at db.internal:5432' in logs  # the app's own traceback
    assert "never" not in response.text


def test_shutdown_runs_when_the_runtime_gets_sigterm() -> None:
    emulator = ServedEmulator([FunctionConfig("fastapi", "fastapi_app.handler", APPS, timeout_seconds=20)])
    try:
        response = httpx.get(emulator.url("fastapi") + "state", timeout=20)
        pid = emulator.emulator.pools["fastapi"].sandboxes[0].pid
    finally:
        emulator.close()  # the emulator stops its runtimes as Lambda does: SIGTERM, then SIGKILL after 2 s

    assert response.status_code == 200
    assert any(f"lifespan shutdown ran in pid {pid}" in line for line in logs_of(emulator, "fastapi"))


def test_shutdown_runs_even_when_sigterm_arrives_during_an_invocation() -> None:
    emulator = ServedEmulator([FunctionConfig("fastapi", "fastapi_app.handler", APPS, timeout_seconds=20)])
    try:
        connection = http.client.HTTPConnection("127.0.0.1", emulator.port("fastapi"), timeout=20)
        connection.request("GET", "/sse?events=3&gap=0.4")
        response = connection.getresponse()
        first = response.read1(65536)
        pid = emulator.emulator.pools["fastapi"].sandboxes[0].pid
    finally:
        emulator.close()  # SIGTERM while the app sleeps between two events
        connection.close()

    assert first.startswith(b"id: 0\nevent: tick\n")
    assert any(f"lifespan shutdown ran in pid {pid}" in line for line in logs_of(emulator, "fastapi"))


def test_on_managed_instances_shutdown_runs_on_sigterm_after_the_slots_stop() -> None:
    """With several invocations at once the event loop always runs: SIGTERM stops the slots first, then the
    app's shutdown runs on the same loop."""
    function = FunctionConfig(
        "fastapi", "fastapi_app.handler", APPS, timeout_seconds=20, per_environment_concurrency=4
    )
    emulator = ServedEmulator([function])
    try:
        response = httpx.get(emulator.url("fastapi") + "state", timeout=20)
        pid = emulator.emulator.pools["fastapi"].sandboxes[0].pid
    finally:
        emulator.close()

    assert response.status_code == 200 and response.json()["same_loop"] is True
    assert any(f"lifespan shutdown ran in pid {pid}" in line for line in logs_of(emulator, "fastapi"))
