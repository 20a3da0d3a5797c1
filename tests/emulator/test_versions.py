"""New versions of a function while it serves, and what a runtime started by `serve` can import.

Real runtime processes throughout: a pool replaces a function's version while a stream is in flight,
a sandbox tries a version's init, a function that cannot run here fails at once, the emulator replaces,
adds and removes functions on its ports, and a runtime's `sys.path` is Lambda's: the code, then its
dependencies, then what Lambda provides, and nothing else installed here.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from cdk_stream_fn.emulator.app.lambda_provided import stage_provided
from cdk_stream_fn.emulator.app.service import Emulator
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig, python_path_environment
from cdk_stream_fn.emulator.sandboxes.invocation import InvocationFailed
from cdk_stream_fn.emulator.sandboxes.pool import FunctionPool

from .harness import LoopThread
from .test_sandbox import alive, outcome

pytestmark = pytest.mark.timeout(60)

VERSION = """\
import json
import time

from stream_fn import streamify_response


@streamify_response(content_type="text/plain")
def handler(event, response_stream, context):
    response_stream.write("{name} begins\\n")
    time.sleep(float(event.get("pause", 0)))
    response_stream.write("{name} ends\\n")
"""


def code(directory: Path, source: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "index.py").write_text(source)
    return directory


def version(tmp_path: Path, name: str) -> Path:
    return code(tmp_path / name, VERSION.format(name=name))


def function(code_dir: Path, **settings: object) -> FunctionConfig:
    return FunctionConfig("fn", "index.handler", code_dir, timeout_seconds=20, **settings)  # type: ignore[arg-type]


def test_a_stream_in_flight_finishes_on_the_old_version_and_new_invocations_run_the_new(
    tmp_path: Path,
) -> None:
    old, new = function(version(tmp_path, "v1")), function(version(tmp_path, "v2"))

    async def scenario() -> tuple[bytes, bytes, bytes, bool]:
        pool = FunctionPool(old, log_sink=None)
        try:
            in_flight = await pool.submit(pool.request(b'{"pause": 1.5}'))
            await in_flight.head()
            old_pid = pool.sandboxes[0].pid
            idle_old = await pool.submit(pool.request(b"{}"))  # a second sandbox of v1, idle after this
            idle_body = await idle_old.read_all()
            candidate = pool.new_sandbox(new)
            assert await candidate.initialize() is None
            pool.replace(new, warm=candidate)
            fresh = await pool.submit(pool.request(b"{}"))
            fresh_body = (await outcome(fresh))[1]
            stream_body = await in_flight.read_all()
            await asyncio.sleep(0.2)
            return stream_body, fresh_body, idle_body, old_pid is not None and alive(old_pid, settle=5)
        finally:
            await pool.stop()

    stream_body, fresh_body, idle_body, old_alive = asyncio.run(scenario())

    assert stream_body == b"v1 begins\nv1 ends\n"  # started on v1, finished on v1
    assert idle_body == b"v1 begins\nv1 ends\n"
    assert fresh_body == b"v2 begins\nv2 ends\n"
    assert not old_alive, "the old version's sandbox stops once its stream is done"


@pytest.mark.parametrize(
    ("source", "error_type", "message"),
    [
        ("def handler(:\n", "Runtime.UserCodeSyntaxError", "Syntax error in module 'index'"),
        (
            "import not_installed_anywhere\n",
            "Runtime.ImportModuleError",
            "No module named 'not_installed_anywhere'",
        ),
        ("raise RuntimeError('no config')\n", "Function.RuntimeError", "no config"),
        ("import os\nos._exit(7)\n", "Runtime.ExitError", "Runtime exited with error: exit status 7"),
    ],
)
def test_trying_a_version_reports_what_ends_its_init(
    tmp_path: Path, source: str, error_type: str, message: str
) -> None:
    broken = function(code(tmp_path / "broken", source))

    async def scenario() -> object:
        pool = FunctionPool(broken, log_sink=None)
        sandbox = pool.new_sandbox()
        try:
            return await sandbox.initialize()
        finally:
            await sandbox.stop()

    error = asyncio.run(scenario())

    assert error is not None
    assert error.error_type == error_type  # type: ignore[attr-defined]
    assert message in error.message  # type: ignore[attr-defined]


def test_a_function_that_cannot_run_here_fails_every_invocation_at_once_saying_why(tmp_path: Path) -> None:
    reason = "fn cannot run here: nativeonly (from requirements.txt) cannot be installed for Python 3.11"
    unavailable = function(version(tmp_path, "v1"), unavailable=reason)

    async def scenario() -> tuple[object, int]:
        pool = FunctionPool(unavailable, log_sink=None)
        try:
            await pool.warm()
            return (await outcome(await pool.submit(pool.request(b"{}"))))[0], len(pool.sandboxes)
        finally:
            await pool.stop()

    failed, sandboxes = asyncio.run(scenario())

    assert isinstance(failed, InvocationFailed)
    assert (failed.error.error_type, failed.error.message) == ("Local.FunctionUnavailable", reason)
    assert sandboxes == 0, "nothing is started for it"


def test_the_emulator_replaces_adds_and_removes_functions_on_its_ports(tmp_path: Path) -> None:
    loop = LoopThread()
    first = replace(function(version(tmp_path, "v1")), name="first")
    second = replace(function(version(tmp_path, "v2")), name="second")
    emulator = Emulator([first, second], url_port=0, api_port=0, log_sink=None)
    try:
        loop.run(emulator.start())
        first_url, second_url = emulator.url_servers["first"].url, emulator.url_servers["second"].url
        before = httpx.get(first_url, timeout=20).text

        loop.run(emulator.replace_function(replace(first, code_dir=tmp_path / "v2")))
        after = httpx.get(first_url, timeout=20).text
        loop.run(emulator.add_function(replace(first, name="third", code_dir=tmp_path / "v1")))
        third_url = emulator.url_servers["third"].url
        third = httpx.get(third_url, timeout=20).text
        by_api = httpx.post(f"{emulator.api_endpoint}/2015-03-31/functions/third/invocations", content=b"{}")
        loop.run(emulator.remove_function("second"))
        with pytest.raises(httpx.ConnectError):
            httpx.get(second_url, timeout=5)
        gone = httpx.post(f"{emulator.api_endpoint}/2015-03-31/functions/second/invocations", content=b"{}")
    finally:
        loop.run(emulator.stop())
        loop.close()

    assert (before, after) == ("v1 begins\nv1 ends\n", "v2 begins\nv2 ends\n")
    assert emulator.url_servers["first"].url == first_url, "a new version keeps its port"
    assert third == "v1 begins\nv1 ends\n" and third_url not in (first_url, second_url)
    assert by_api.status_code == 200
    assert gone.status_code == 404
    assert [f.name for f in emulator.functions] == ["first", "third"]


def test_python_path_puts_the_dependencies_where_lambda_puts_a_layer(tmp_path: Path) -> None:
    deps, provided = tmp_path / "deps", tmp_path / "provided"
    plain = function(tmp_path)

    assert python_path_environment(plain) == {}
    assert python_path_environment(replace(plain, dependencies=deps, runtime_path=provided)) == {
        "PYTHONPATH": f"{deps}{os.pathsep}{provided}",
        "_STREAM_FN_LAYER_PYTHON": str(deps),
    }
    assert python_path_environment(replace(plain, runtime_path=provided)) == {
        "PYTHONPATH": str(provided),
        "_STREAM_FN_LAYER_PYTHON": str(provided),
    }
    # The function's own PYTHONPATH: Lambda then adds no layer directories, so neither does stream_fn.
    own = replace(plain, dependencies=deps, environment={"PYTHONPATH": "/mine"})
    assert python_path_environment(own) == {"PYTHONPATH": f"{deps}{os.pathsep}/mine"}
    # Another runtime client does not know the layer variable: the dependencies go on its path.
    other = replace(plain, dependencies=deps, runtime_command=[sys.executable, "-m", "awslambdaric"])
    assert python_path_environment(other) == {"PYTHONPATH": str(deps)}


PATH_REPORT = """\
import json
import sys

import shadowed
from stream_fn import streamify_response


@streamify_response(content_type="application/json")
def handler(event, response_stream, context):
    found = {}
    for name in ("only_in_dependencies", "from_a_pth_file", "boto3", "snapshot_restore_py", "aws_cdk", "httpx"):
        try:
            __import__(name)
            found[name] = True
        except ImportError:
            found[name] = False
    response_stream.write(json.dumps({"shadowed": shadowed.WHO, "found": found, "path": sys.path}))
"""


def test_a_runtime_sees_its_code_then_its_dependencies_then_what_lambda_provides_and_nothing_else(
    tmp_path: Path,
) -> None:
    code_dir = code(tmp_path / "code", PATH_REPORT)
    (code_dir / "shadowed.py").write_text("WHO = 'the function'\n")
    layer = tmp_path / "deps" / "python"
    site_packages = (
        layer / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    )
    site_packages.mkdir(parents=True)
    (site_packages / "shadowed.py").write_text("WHO = 'a dependency'\n")
    (site_packages / "only_in_dependencies.py").write_text("")
    (tmp_path / "pth_target").mkdir()
    (tmp_path / "pth_target" / "from_a_pth_file.py").write_text("")
    (site_packages / "extra.pth").write_text(str(tmp_path / "pth_target") + "\n")
    config = function(
        code_dir,
        interpreter=sys.executable,
        dependencies=layer,
        runtime_path=stage_provided(tmp_path / "provided"),
    )

    async def scenario() -> bytes:
        pool = FunctionPool(config, log_sink=None)
        try:
            return (await outcome(await pool.submit(pool.request(b"{}"))))[1]
        finally:
            await pool.stop()

    report = json.loads(asyncio.run(scenario()))

    assert report["shadowed"] == "the function", "the function's own modules win over a dependency's"
    assert report["found"] == {
        "only_in_dependencies": True,
        "from_a_pth_file": True,  # the dependencies' .pth files are read, as a layer's are on Lambda
        "boto3": True,  # Lambda's Python runtime includes it
        "snapshot_restore_py": True,
        "aws_cdk": False,  # installed beside cdk-stream-fn, not on Lambda
        "httpx": False,
    }
    path = report["path"]
    assert path[0] == str(code_dir)
    assert path.index(str(site_packages)) < path.index(str(tmp_path / "provided"))
    assert not any("site-packages" in entry and not entry.startswith(str(tmp_path)) for entry in path)
