"""What the runtime loads before it asks for the first invocation.

On Lambda the layer holds no byte code and /opt is read-only, so every module the runtime imports at
start-up is compiled from source at every cold start. What a successful invocation never needs (error
reporting, ``traceback``, the IDNA codec, the response stream for a buffered handler) must not be among
them, and must still load when it is needed.
"""

from __future__ import annotations

import json
import pathlib

import pytest

from .conftest import StartRuntime
from .fake_runtime_api import FakeRuntimeApi

pytestmark = pytest.mark.timeout(60)


HANDLER = """\
import sys

from stream_fn import streamify_response


@streamify_response
def handler(event, response_stream, context):
    if event.get("fail"):
        raise ValueError("failed on purpose")
    response_stream.write(" ".join(sorted(sys.modules)))


def buffered(event, context):
    return " ".join(sorted(sys.modules))


@streamify_response(compress=True)
def compressed(event, response_stream, context):
    from stream_fn import HttpResponseStream

    HttpResponseStream.from_(response_stream, headers={"content-type": "text/plain"})
    response_stream.write(" ".join(sorted(sys.modules)))
"""

NEVER_NEEDED_TO_SUCCEED = (
    "stream_fn.error_reports",
    "stream_fn.log_records",
    "traceback",
    "logging",
    "asyncio",
    "typing",
    "encodings.idna",  # what socket.getaddrinfo loads for a str host
    "stream_fn.asgi",
    "stream_fn.wsgi",
    "stream_fn.snap_start",  # SnapStart only (init type snap-start)
    "snapshot_restore_py",
    "stream_fn.content_encoding",  # compression loads for compress=True handlers only
    "stream_fn.encoders",
    "zlib",
    "stream_fn.stream_metrics",  # the per-invocation records load only with STREAM_FN_METRICS=emf
    "stream_fn.managed_instances",  # Lambda Managed Instances only
    "stream_fn.concurrency",
)


@pytest.fixture
def task_root(tmp_path: pathlib.Path) -> pathlib.Path:
    (tmp_path / "modules.py").write_text(HANDLER)
    return tmp_path


def loaded_modules(fake_api: FakeRuntimeApi) -> set[str]:
    body = fake_api.invoke({}).body.decode()
    return set(body.strip('"').split())


def test_a_successful_cold_start_loads_no_error_reporting(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, task_root: pathlib.Path
) -> None:
    start_runtime("modules.handler", LAMBDA_TASK_ROOT=str(task_root))
    modules = loaded_modules(fake_api)
    assert "stream_fn.loop" in modules
    assert modules.isdisjoint(NEVER_NEEDED_TO_SUCCEED), sorted(modules.intersection(NEVER_NEEDED_TO_SUCCEED))


def test_error_reporting_loads_with_the_first_error(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, task_root: pathlib.Path
) -> None:
    start_runtime("modules.handler", LAMBDA_TASK_ROOT=str(task_root))
    error = fake_api.invoke({"fail": True})
    assert error.target.endswith("/error")
    assert json.loads(error.body)["errorMessage"] == "failed on purpose"
    assert "stream_fn.error_reports" in loaded_modules(fake_api)


def test_a_buffered_handler_loads_no_response_stream(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, task_root: pathlib.Path
) -> None:
    start_runtime("modules.buffered", LAMBDA_TASK_ROOT=str(task_root))
    modules = loaded_modules(fake_api)
    assert "stream_fn.loop" in modules
    assert "stream_fn.streams" not in modules
    assert modules.isdisjoint(NEVER_NEEDED_TO_SUCCEED), sorted(modules.intersection(NEVER_NEEDED_TO_SUCCEED))


def test_a_compressing_handler_loads_an_encoder_only_for_a_request_that_accepts_one(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, task_root: pathlib.Path
) -> None:
    start_runtime("modules.compressed", LAMBDA_TASK_ROOT=str(task_root))
    event = {"version": "2.0", "rawPath": "/", "headers": {}, "requestContext": {"http": {"method": "GET"}}}
    response = fake_api.invoke(event)
    modules = set(response.chunks[2].decode().split())
    assert "stream_fn.content_encoding" in modules
    assert "stream_fn.encoders" not in modules and "zlib" not in modules
