"""`cdk-stream-fn serve` on a CDK app as developers write one, edited while it serves.

One app, in a temporary directory: the example's FastAPI chat (pydantic models, a `StreamingResponse` of
server-sent events, FastAPI in its requirements) and a plain function. `serve` runs as a subprocess and
is talked to with httpx and curl. A second app has a function whose dependency has a wheel for Lambda
(arm64) and none for this machine. pip installs into a cache of this module's own, so the install
itself is part of what is tested.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from .serve_process import REPO, ServeProcess

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

T = TypeVar("T")

APP = """\
from pathlib import Path

import aws_cdk as cdk

from cdk_stream_fn import StreamingFunction

HERE = Path(__file__).resolve().parent
app = cdk.App()
stack = cdk.Stack(app, "Live")
StreamingFunction(stack, "Chat", entry=str(HERE / "chat"), handler="main.handler", timeout=cdk.Duration.seconds(60))
StreamingFunction(
    stack, "Hello", entry=str(HERE / "hello"), handler="index.handler", environment={"GREETING": "hello"}
)
app.synth()
"""

HELLO = """\
import os

from stream_fn import streamify_response


@streamify_response(content_type="text/plain")
def handler(event, response_stream, context):
    response_stream.write(f"{os.environ['GREETING']} from {VERSION}\\n")


VERSION = "version 1"
"""

CONVERSATION = {"messages": [{"role": "user", "content": "Hi"}], "tokens_per_second": 5}
TOKENS = [
    "You",
    " said:",
    " Hi.",
    " This",
    " reply",
    " streams",
    " from",
    " Python",
    " on",
    " AWS",
    " Lambda,",
]


def wait_for(check: Callable[[], T | None], *, timeout: float = 90, what: str = "it") -> T:
    """Poll `check` until it returns something (a reload is asynchronous: the test waits for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout} s for {what}")


def write_app(directory: Path, app: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cdk.json").write_text(json.dumps({"app": f"{sys.executable} app.py"}))
    (directory / "app.py").write_text(app)
    return directory


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {"CDK_STREAM_FN_DEPENDENCIES_CACHE": str(tmp_path_factory.mktemp("dependencies"))}


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = write_app(tmp_path_factory.mktemp("live") / "app", APP)
    shutil.copytree(
        REPO / "functions" / "chat", directory / "chat", ignore=shutil.ignore_patterns("__pycache__")
    )
    (directory / "hello").mkdir()
    (directory / "hello" / "index.py").write_text(HELLO)
    return directory


@pytest.fixture(scope="module")
def served(app_dir: Path, cache: dict[str, str]) -> Iterator[ServeProcess]:
    with ServeProcess(cwd=app_dir, timeout=240, env=cache) as serve:
        yield serve


def hello(served: ServeProcess, name: str = "Live-Hello") -> str:
    return httpx.get(served.urls[name], timeout=60).text


def test_the_fastapi_chat_is_installed_for_this_machine_and_streams_token_by_token(
    served: ServeProcess,
) -> None:
    with httpx.stream("POST", served.urls["Live-Chat"], json=CONVERSATION, timeout=60) as response:
        chunks = [chunk.decode() for chunk in response.iter_raw()]
    events = [block for chunk in chunks for block in chunk.split("\n\n") if block]
    tokens = [
        json.loads(block.rsplit("data: ", 1)[1])["token"] for block in events if "event: token" in block
    ]
    log = served.stderr()

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert tokens[: len(TOKENS)] == TOKENS and len(tokens) == 16
    assert events[-1] == 'event: done\ndata: {"tokens":16}'
    # Five tokens a second: each token reached the client before the next was produced.
    # (the done event follows the last token at once: it may share its chunk or have its own)
    assert [count for chunk in chunks if (count := chunk.count("event: token"))] == [1] * 16
    assert "Live-Chat: installing chat/requirements.txt for Python " in log
    assert "packages installed in" in log


def test_curl_shows_the_tokens_as_they_come(served: ServeProcess) -> None:
    curl = subprocess.Popen(
        [
            "curl",
            "-sN",
            "-X",
            "POST",
            served.urls["Live-Chat"],
            "-H",
            "content-type: application/json",
            "-d",
            json.dumps(CONVERSATION),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert curl.stdout is not None
    first = [curl.stdout.readline() for _ in range(4)]
    still_streaming = curl.poll() is None
    rest = curl.stdout.read()
    curl.wait(30)

    assert first == ["id: 0\n", "event: token\n", 'data: {"index":0,"token":"You"}\n', "\n"]
    assert still_streaming, "the first token arrived while the rest were still being produced"
    assert rest.endswith('event: done\ndata: {"tokens":16}\n\n')


def test_a_validation_error_is_pydantics_422(served: ServeProcess) -> None:
    response = httpx.post(served.urls["Live-Chat"], json={"messages": []}, timeout=60)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "messages"]


def test_an_edit_takes_effect_at_the_next_invocation_without_restarting(
    served: ServeProcess, app_dir: Path
) -> None:
    url = served.urls["Live-Hello"]
    wait_for(lambda: hello(served) == "hello from version 1\n" or None, what="version 1")
    runtimes = set(served.children())

    source = app_dir / "hello" / "index.py"
    source.write_text(source.read_text().replace('VERSION = "version 1"', 'VERSION = "version 2"'))

    wait_for(lambda: hello(served) == "hello from version 2\n" or None, what="version 2")
    assert served.process.poll() is None and served.urls["Live-Hello"] == url
    assert "Live-Hello: reloaded in " in served.stderr()
    assert set(served.children()) - runtimes, "version 2 runs in a fresh sandbox"


@pytest.mark.parametrize(
    ("broken", "error"),
    [
        (
            'VERSION = "version 3"\ndef oops(:\n',
            "Runtime.UserCodeSyntaxError: Syntax error in module 'index'",
        ),
        (
            'VERSION = "version 3"\nimport not_installed_anywhere\n',
            "No module named 'not_installed_anywhere'",
        ),
    ],
)
def test_a_broken_edit_is_reported_once_and_the_last_good_version_keeps_answering(
    served: ServeProcess, app_dir: Path, broken: str, error: str
) -> None:
    source = app_dir / "hello" / "index.py"
    good = source.read_text()
    answer = wait_for(lambda: hello(served) if "from version" in hello(served) else None, what="an answer")
    reports_before = served.stderr().count("the last good version keeps serving")

    source.write_text(good.split("VERSION =")[0] + broken)
    report = wait_for(
        lambda: (
            (lines := [l for l in served.stderr().splitlines() if "the last good version keeps serving" in l])
            and len(lines) > reports_before
            and lines[-1]
            or None
        ),
        what="the report of the broken edit",
    )
    after = [hello(served) for _ in range(3)]
    source.write_text(good)

    assert report.startswith("cdk-stream-fn: Live-Hello: its code changed, but the new version fails at init")
    assert error in report
    assert after == [answer] * 3


def test_a_requirement_that_cannot_be_installed_keeps_the_last_good_version(
    served: ServeProcess, app_dir: Path
) -> None:
    requirements = app_dir / "hello" / "requirements.txt"
    answer = hello(served)

    requirements.write_text("./no-such-directory\n")  # pip fails at once, with no index involved
    report = wait_for(
        lambda: next(
            (l for l in served.stderr().splitlines() if "but Live-Hello cannot run here" in l), None
        ),
        what="the report of the failed install",
    )
    still = [hello(served) for _ in range(3)]
    requirements.unlink()

    assert report.startswith(
        "cdk-stream-fn: Live-Hello: its code changed, but Live-Hello cannot run here: pip"
    )
    assert "The last good version keeps serving." in served.stderr()
    assert still == [answer] * 3


def test_an_app_edit_is_synthesized_again_and_served_on_the_same_ports(
    served: ServeProcess, app_dir: Path
) -> None:
    urls = dict(served.urls)
    app = app_dir / "app.py"
    extra = (
        'StreamingFunction(stack, "Extra", entry=str(HERE / "hello"), environment={"GREETING": "extra"})\n'
    )
    app.write_text(
        app.read_text()
        .replace('{"GREETING": "hello"}', '{"GREETING": "bonjour"}')
        .replace("app.synth()\n", extra + "app.synth()\n")
    )

    answer = wait_for(
        lambda: hello(served) if hello(served).startswith("bonjour") else None, what="the new synthesis"
    )
    log = wait_for(lambda: served.stderr() if "Live-Extra: new in the app" in served.stderr() else None)
    extra_url = log.split("Live-Extra: new in the app, served at ", 1)[1].split()[0]
    extra = httpx.get(extra_url, timeout=60).text
    chat = httpx.post(urls["Live-Chat"], json={**CONVERSATION, "tokens_per_second": 500}, timeout=60)

    assert answer.startswith("bonjour from version")
    assert extra.startswith("extra from version")
    assert extra_url not in urls.values()
    assert chat.status_code == 200, "the chat keeps its port"
    assert "synthesizing the CDK app in" in log and "Live-Hello: reloaded in " in log


def test_a_failed_synthesis_leaves_the_app_as_it_was(served: ServeProcess, app_dir: Path) -> None:
    app = app_dir / "app.py"
    good = app.read_text()
    answer = hello(served)

    app.write_text(good.replace("app.synth()", "raise SystemExit('the app is broken')", 1))
    wait_for(lambda: "The last good version of the app keeps serving." in served.stderr() or None)
    still = hello(served)
    app.write_text(good)

    assert still == answer
    assert "the CDK app failed (exit 1)" in served.stderr()


NATIVE_APP = """\
from pathlib import Path

import aws_cdk as cdk

from cdk_stream_fn import StreamingFunction

HERE = Path(__file__).resolve().parent
app = cdk.App()
stack = cdk.Stack(app, "Deps")
StreamingFunction(stack, "Native", entry=str(HERE / "native"), handler="index.handler")
StreamingFunction(stack, "Hello", entry=str(HERE / "hello"), handler="index.handler", environment={"GREETING": "hi"})
app.synth()
"""


def test_a_function_whose_dependency_cannot_be_installed_here_says_so_and_the_others_serve(
    tmp_path: Path, cache: dict[str, str]
) -> None:
    from emulator.wheels import make_wheel

    wheels = tmp_path / "wheels"  # nativeonly has a wheel for Lambda (arm64, CPython 3.14) only
    make_wheel(wheels, "nativeonly", "1.0", tag="cp314-cp314-manylinux_2_17_aarch64.manylinux2014_aarch64")
    app_dir = write_app(tmp_path / "app", NATIVE_APP)
    (app_dir / "native").mkdir()
    (app_dir / "native" / "requirements.txt").write_text("nativeonly==1.0\n")
    (app_dir / "native" / "index.py").write_text("import nativeonly\n" + HELLO)
    (app_dir / "hello").mkdir()
    (app_dir / "hello" / "index.py").write_text(HELLO)
    pip = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}

    with ServeProcess(cwd=app_dir, timeout=240, env={**cache, **pip}) as serve:
        native = httpx.get(serve.urls["Deps-Native"], timeout=60)
        other = httpx.get(serve.urls["Deps-Hello"], timeout=60)
        table = "\n".join(serve.stdout_lines)
        log = serve.stderr()

    assert other.status_code == 200 and other.text == "hi from version 1\n"
    assert native.status_code == 502
    detail = native.json()["Detail"]
    assert detail.startswith("Deps-Native cannot run here: nativeonly (from ")
    assert "cannot be installed for Python" in detail
    # said once, when serve starts, naming the package and the function, with pip's own words
    (said,) = [line for line in log.splitlines() if line.startswith("cdk-stream-fn: Deps-Native cannot run")]
    assert said.startswith("cdk-stream-fn: Deps-Native cannot run here: nativeonly (from ")
    assert "No matching distribution found for nativeonly==1.0" in log
    assert "Deps-Native answers every request with an error that says why; the other functions serve." in log
    assert [line for line in table.splitlines() if "Deps-Native" in line and "cannot run here" in line]
