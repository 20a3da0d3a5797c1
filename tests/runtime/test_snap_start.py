"""The runtime's SnapStart protocol, request by request, against the fake Runtime API.

The end-to-end flow through the emulator (and against awslambdaric) is in tests/emulator/test_snap_start.py;
these tests look at what only the requests show: which connection each goes on, what is posted when.
"""

from __future__ import annotations

import json
import pathlib
import sys
import textwrap

import pytest

from .conftest import StartRuntime
from .fake_runtime_api import API, FakeRuntimeApi, RecordedRequest

pytestmark = pytest.mark.timeout(60)

HOOKS = textwrap.dedent(
    """\
    import asyncio, os
    from snapshot_restore_py import register_after_restore, register_before_snapshot

    EVENTS = []
    register_before_snapshot(EVENTS.append, "before:first")
    register_before_snapshot(EVENTS.append, "before:second")
    register_after_restore(EVENTS.append, "after:first")

    @register_after_restore
    async def reconnect_pool():
        await asyncio.sleep(0)
        EVENTS.append("after:async")

    if os.environ.get("FAIL") == "after":
        register_after_restore(lambda: 1 / 0)

    def handler(event, context):
        return EVENTS
    """
)

NO_HOOKS = textwrap.dedent(
    """\
    import importlib.util, sys

    def handler(event, context):
        return {
            "hooks_module_loaded": "snapshot_restore_py" in sys.modules,
            "hooks_module_importable": importlib.util.find_spec("snapshot_restore_py") is not None,
        }
    """
)


def answer_restore(fake_api: FakeRuntimeApi, status: int = 200) -> None:
    """Let the fake Runtime API answer `/restore/next` (at once: the snapshot is restored)."""

    def respond(request: RecordedRequest) -> tuple[int, bytes]:
        if request.target == f"{API}/restore/next":
            return status, b"" if status == 200 else b'{"errorType":"NotFound","errorMessage":"no route"}'
        return 202, b'{"status":"OK"}'

    fake_api.response_status = respond


def targets(fake_api: FakeRuntimeApi) -> list[tuple[str, int]]:
    return [(request.target.removeprefix(API), request.connection_id) for request in fake_api.requests]


@pytest.fixture
def task_root(tmp_path: pathlib.Path) -> pathlib.Path:
    (tmp_path / "hooks.py").write_text(HOOKS)
    (tmp_path / "plain.py").write_text(NO_HOOKS)
    return tmp_path


def test_the_hooks_run_around_restore_next_and_next_goes_on_a_new_connection(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, task_root: pathlib.Path
) -> None:
    answer_restore(fake_api)
    start_runtime(
        "hooks.handler", LAMBDA_TASK_ROOT=str(task_root), AWS_LAMBDA_INITIALIZATION_TYPE="snap-start"
    )

    result = fake_api.invoke({})

    # Before-snapshot hooks last registered first; after-restore hooks in order, an async one awaited.
    assert json.loads(result.body) == ["before:second", "before:first", "after:first", "after:async"]
    (restore, restore_connection), (next_, next_connection) = targets(fake_api)[:2]
    assert (restore, next_) == ("/restore/next", "/invocation/next")
    assert next_connection != restore_connection, "no connection from before the snapshot is used after it"


def test_without_the_hooks_library_the_restore_protocol_is_still_followed(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, task_root: pathlib.Path
) -> None:
    """`python -S`: no site-packages, so `snapshot_restore_py` cannot be imported (as off Lambda)."""
    answer_restore(fake_api)
    start_runtime(
        "plain.handler",
        args=[sys.executable, "-S", "-m", "stream_fn"],
        LAMBDA_TASK_ROOT=str(task_root),
        AWS_LAMBDA_INITIALIZATION_TYPE="snap-start",
    )

    result = fake_api.invoke({})

    assert json.loads(result.body) == {"hooks_module_loaded": False, "hooks_module_importable": False}
    assert [target for target, _ in targets(fake_api)][:2] == ["/restore/next", "/invocation/next"]


def test_an_on_demand_start_neither_restores_nor_loads_the_hooks_library(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, task_root: pathlib.Path
) -> None:
    start_runtime(
        "plain.handler", LAMBDA_TASK_ROOT=str(task_root), AWS_LAMBDA_INITIALIZATION_TYPE="on-demand"
    )

    result = fake_api.invoke({})

    assert json.loads(result.body) == {"hooks_module_loaded": False, "hooks_module_importable": True}
    assert targets(fake_api)[0][0] == "/invocation/next"


def test_a_failing_after_hook_posts_restore_error_and_exits_65(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, task_root: pathlib.Path
) -> None:
    answer_restore(fake_api)
    runtime = start_runtime(
        "hooks.handler",
        LAMBDA_TASK_ROOT=str(task_root),
        AWS_LAMBDA_INITIALIZATION_TYPE="snap-start",
        FAIL="after",
    )

    assert runtime.wait() == 65
    (report,) = [request for request in fake_api.requests if request.method == "POST"]
    assert report.target == f"{API}/restore/error"
    assert report.header("Lambda-Runtime-Function-Error-Type") == "Runtime.AfterRestoreError"
    document = report.json()
    assert (document["errorType"], document["errorMessage"]) == ("ZeroDivisionError", "division by zero")
    assert not any(request.target.endswith("/invocation/next") for request in fake_api.requests)
    stdout, stderr = runtime.stop()
    assert "[ERROR] ZeroDivisionError: division by zero" in stdout + stderr  # logged as the stock client does


def test_a_refused_restore_next_is_a_before_snapshot_error(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, task_root: pathlib.Path
) -> None:
    """The stock client reports any failure of the before-snapshot hooks or of `/restore/next` alike."""
    answer_restore(fake_api, status=404)
    runtime = start_runtime(
        "hooks.handler", LAMBDA_TASK_ROOT=str(task_root), AWS_LAMBDA_INITIALIZATION_TYPE="snap-start"
    )

    assert runtime.wait() == 64
    (report,) = [request for request in fake_api.requests if request.method == "POST"]
    assert report.target == f"{API}/init/error"
    assert report.header("Lambda-Runtime-Function-Error-Type") == "Runtime.BeforeSnapshotError"
    assert "GET /runtime/restore/next with HTTP 404" in report.json()["errorMessage"]
