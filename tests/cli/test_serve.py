"""`cdk-stream-fn serve` as users run it: one function, the example CDK app, an existing assembly."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from .serve_process import REPO, ServeProcess

pytestmark = pytest.mark.timeout(120)

FUNCTIONS = REPO / "tests" / "emulator" / "functions"


def wait_dead(pids: list[int], timeout: float = 10) -> list[int]:
    """The pids still alive (zombies count as dead) after waiting up to `timeout`."""
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _alive(pid)]
        time.sleep(0.05)
    return alive


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def run_cli(*args: str, cwd: Path = REPO, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cdk_stream_fn.cli", *args],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_one_function_then_a_signal_stops_everything(signum: int) -> None:
    with ServeProcess("--handler", "handlers.hello", "--code", str(FUNCTIONS), "--name", "greeter") as serve:
        response = httpx.get(serve.urls["greeter"], timeout=20)
        runtimes = serve.children()

        code = serve.stop(signum)

    assert (response.status_code, response.text) == (200, "hello world")
    assert runtimes, "serve starts a runtime ahead of the first request"
    assert code == 0
    assert wait_dead(runtimes) == []
    assert "curl -N http://127.0.0.1:" in "\n".join(serve.stdout_lines)


def test_the_runtime_command_can_be_another_runtime_client() -> None:
    with ServeProcess(
        "--handler",
        "handlers.buffered_echo",
        "--code",
        str(FUNCTIONS),
        "--runtime-command",
        f"{sys.executable} -m awslambdaric",
    ) as serve:
        response = httpx.post(serve.urls["function"] + "path", content=b"{}", timeout=20)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["echo"]["rawPath"] == "/path"


@pytest.mark.slow
def test_serve_on_the_example_app_answers_a_real_request() -> None:
    with ServeProcess(cwd=REPO, timeout=110) as serve:
        assert sorted(serve.urls) == [
            "CdkStreamFnExample-Chat",
            "CdkStreamFnExample-Clock",
            "CdkStreamFnExample-Events",
        ]
        clock = urlsplit(serve.urls["CdkStreamFnExample-Clock"])
        connection = http.client.HTTPConnection(clock.hostname, clock.port, timeout=30)
        connection.request("GET", "/?ticks=2")
        response = connection.getresponse()
        first = response.read1(65536)
        rest = response.read()
        connection.close()
        web_app = httpx.get(serve.urls["CdkStreamFnExample-Events"] + "events?steps=2", timeout=30)
        conversation = {"messages": [{"role": "user", "content": "Hi"}], "tokens_per_second": 200}
        chat = httpx.post(serve.urls["CdkStreamFnExample-Chat"], json=conversation, timeout=60)

    assert response.status == 200
    assert response.getheader("content-type") == "text/event-stream"
    assert first.startswith(b"id: 1\nevent: tick\n")
    body = (first + rest).decode()
    assert body.count("event: tick") == 2
    assert body.endswith("event: done\ndata: {}\n\n")
    assert web_app.status_code == 200
    assert web_app.headers["content-type"].startswith("text/event-stream")
    assert web_app.text.count("event: step") == 2
    assert web_app.text.endswith("event: done\ndata: {}\n\n")
    assert chat.status_code == 200, chat.text  # FastAPI and pydantic-core, installed for this machine
    assert chat.text.startswith('id: 0\nevent: token\ndata: {"index":0,"token":"You"}\n\n')
    assert chat.text.endswith('event: done\ndata: {"tokens":16}\n\n')


def test_serve_outside_a_cdk_app_without_a_handler_explains_what_to_do(tmp_path: Path) -> None:
    result = run_cli("serve", "--port", "0", "--api-port", "0", cwd=tmp_path)

    assert result.returncode == 2
    assert "no cdk.json in" in result.stderr
    assert "--handler module.function --code DIR" in result.stderr


def test_a_broken_cdk_context_file_is_named_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text('{"app": "python3 app.py"}')
    (tmp_path / "cdk.context.json").write_text("{not json")

    result = run_cli("serve", "--port", "0", "--api-port", "0", cwd=tmp_path)

    assert result.returncode == 2
    assert f"{tmp_path / 'cdk.context.json'} is not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_names_every_configuration_problem(tmp_path: Path) -> None:
    result = run_cli("serve", "--handler", "nodot", "--code", str(tmp_path / "missing"), "--timeout", "0")

    assert result.returncode == 2
    assert "handler must look like module.function, got 'nodot'" in result.stderr
    assert "does not exist" in result.stderr
    assert "timeout must be between 1 and 900 seconds" in result.stderr


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "serve",
            "--handler",
            "handlers.hello",
            "--code",
            str(FUNCTIONS),
            "--port",
            "0",
            "--api-port",
            str(port),
        )

    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr


def test_env_values_must_be_key_value() -> None:
    result = run_cli("serve", "--handler", "handlers.hello", "--code", str(FUNCTIONS), "--env", "NOVALUE")

    assert result.returncode == 2
    assert "--env takes KEY=VALUE, got 'NOVALUE'" in result.stderr


@pytest.mark.slow
def test_serve_reads_an_existing_assembly_and_passes_env(example_assembly: Path) -> None:
    with ServeProcess("--assembly", str(example_assembly), "--env", "EXTRA=1", "--timeout", "5") as serve:
        url = serve.urls["CdkStreamFnExample-Clock"]
        response = httpx.get(url + "?ticks=1", timeout=30)
        table = "\n".join(serve.stdout_lines)

    assert response.status_code == 200
    assert "event: done" in response.text
    assert "index.handler" in table
    assert "5 s" in table
    assert "AWS_IAM auth is not checked locally" in table


@pytest.mark.slow
def test_the_example_assembly_reads_as_the_construct_wrote_it(example_assembly: Path) -> None:
    from cdk_stream_fn.emulator.app.assembly import read_assembly

    functions = {
        function.name: function for function in read_assembly(example_assembly, region="eu-central-1")
    }
    assert sorted(functions) == [
        "CdkStreamFnExample-Chat",
        "CdkStreamFnExample-Clock",
        "CdkStreamFnExample-Events",
    ]
    clock = functions["CdkStreamFnExample-Clock"]

    assert clock.name == "CdkStreamFnExample-Clock"
    assert clock.handler == "index.handler"
    assert (clock.code_dir / "index.py").is_file()
    assert clock.timeout_seconds == 60
    assert clock.has_url and clock.invoke_mode == "RESPONSE_STREAM"
    assert "Clock" in clock.aliases
    assert clock.environment.get("AWS_LAMBDA_EXEC_WRAPPER") == "/opt/stream-fn"
    assert clock.arn == "arn:aws:lambda:eu-central-1:123456789012:function:CdkStreamFnExample-Clock"
    assert os.path.commonpath([clock.code_dir, example_assembly]) == str(example_assembly)
    assert json.loads((example_assembly / "manifest.json").read_text())["artifacts"]


def test_stopping_mid_stream_ends_the_client_and_the_runtime() -> None:
    with ServeProcess(
        "--handler", "handlers.write_sleep_write", "--code", str(FUNCTIONS), "--timeout", "60"
    ) as serve:
        url = urlsplit(serve.urls["function"])
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        connection.request("GET", "/?pause=30")
        response = connection.getresponse()
        first = response.read1(65536)
        runtimes = serve.children()

        code = serve.stop(signal.SIGINT)
        with pytest.raises((http.client.IncompleteRead, ConnectionError)):
            response.read()
        connection.close()

    assert first == b"first\n"
    assert code == 0
    assert wait_dead(runtimes) == []


def test_a_python_this_machine_lacks_is_stood_in_for_and_the_table_says_so(tmp_path: Path) -> None:
    """A runtime whose Python cannot be found here (none is python3.99) runs on this Python, said once."""
    from emulator.test_assembly import function_resource, write_assembly

    code = tmp_path / "code"
    code.mkdir()
    (code / "index.py").write_text(
        "import sys\nfrom stream_fn import streamify_response\n\n\n@streamify_response\n"
        "def handler(event, response_stream, context):\n    response_stream.write(sys.version.split()[0])\n"
    )
    function = function_resource(Runtime="python3.99")
    function["Metadata"]["cdk-stream-fn"].update(version=2, entry="../code")
    url = {
        "Type": "AWS::Lambda::Url",
        "Properties": {"AuthType": "NONE", "TargetFunctionArn": {"Fn::GetAtt": ["F", "Arn"]}},
    }
    assembly = write_assembly(tmp_path / "cdk.out", {"F": function, "FUrl": url})

    with ServeProcess("--assembly", str(assembly)) as serve:
        response = httpx.get(serve.urls["Stack-Api"], timeout=30)
        table = "\n".join(serve.stdout_lines)
        log = serve.stderr()

    here = ".".join(map(str, sys.version_info[:3]))
    assert response.text == here
    assert f"Python {here} stands in for python3.99 (Stack-Api): this machine has no python3.99" in log
    (row,) = [line for line in table.splitlines() if line.startswith("  Stack-Api")]
    assert row.endswith(f"{here} for python3.99")
    assert "Watching for edits: a function's code takes effect at its next invocation (--no-watch" in table
