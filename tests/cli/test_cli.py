"""The CLI's start-up and the `invoke` command, run as real processes against a real emulator."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from cdk_stream_fn.cli.client import ProgressLine, StreamStats, _signed_headers, format_size, is_local
from cdk_stream_fn.cli.serve import print_endpoints
from cdk_stream_fn.emulator.app.service import Endpoint
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

from .serve_process import REPO, ServeProcess

pytestmark = pytest.mark.timeout(60)

FUNCTIONS = REPO / "tests" / "emulator" / "functions"


def cli(*args: str, stdin: bytes | None = None, timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "cdk_stream_fn.cli", *args],
        check=False,
        cwd=REPO,
        capture_output=True,
        input=stdin,
        timeout=timeout,
    )


def test_help_answers_without_importing_cdk_boto3_or_the_emulator() -> None:
    probe = (
        "import sys, contextlib, io\n"
        "import cdk_stream_fn.cli as cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    cli.main(['--help'])\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'jsii', 'boto3', 'botocore')"
        " or m.startswith('cdk_stream_fn.emulator') or m == 'asyncio']\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=30
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_help_lists_both_commands() -> None:
    result = cli("--help")

    assert result.returncode == 0
    assert b"serve" in result.stdout and b"invoke" in result.stdout


@pytest.fixture(scope="module")
def served() -> Iterator[ServeProcess]:
    with ServeProcess(
        "--handler", "handlers.echo_event", "--code", str(FUNCTIONS), "--name", "echo"
    ) as process:
        yield process


@pytest.fixture(scope="module")
def failing() -> Iterator[ServeProcess]:
    with ServeProcess(
        "--handler", "handlers.fail_mid_stream", "--code", str(FUNCTIONS), "--name", "broken"
    ) as process:
        yield process


def test_invoke_a_url_prints_the_body_and_statistics(served: ServeProcess) -> None:
    result = cli("invoke", served.urls["echo"] + "hello?q=1", "--data", '{"a": 1}')

    assert result.returncode == 0, result.stderr
    event = json.loads(result.stdout)
    assert event["rawPath"] == "/hello"
    assert event["body"] == '{"a": 1}'
    assert event["requestContext"]["http"]["method"] == "POST"
    assert b"HTTP 200 OK" in result.stderr
    assert b"first byte" in result.stderr


def test_invoke_a_function_by_name_through_the_lambda_api(served: ServeProcess) -> None:
    result = cli("invoke", "echo", "--endpoint-url", served.api or "", "--data-file", "-", stdin=b'{"n": 5}')

    assert result.returncode == 0, result.stderr
    assert b'"n": 5' in result.stdout
    assert b"HTTP 200" in result.stderr


def test_invoke_reports_a_mid_stream_error_and_fails(failing: ServeProcess) -> None:
    by_name = cli("invoke", "broken", "--endpoint-url", failing.api or "")
    by_url = cli("invoke", failing.urls["broken"])

    assert by_name.returncode == 1
    assert by_name.stdout == b"partial output\n"
    assert b"error: Function.ValueError: broke after the first chunk" in by_name.stderr
    assert by_url.returncode == 1
    assert by_url.stdout == b"partial output\n"
    assert b"cut short" in by_url.stderr


def test_invoke_an_unknown_function_is_one_clear_line(served: ServeProcess) -> None:
    result = cli("invoke", "nope", "--endpoint-url", served.api or "")

    assert result.returncode == 2
    assert result.stderr.startswith(b"cdk-stream-fn: ResourceNotFoundException: Function not found")
    assert b"Traceback" not in result.stderr


def test_invoke_rejects_a_payload_that_is_not_json_for_a_function(served: ServeProcess) -> None:
    result = cli("invoke", "echo", "--endpoint-url", served.api or "", "--data", "{nope")

    assert result.returncode == 2
    assert b"the payload for a function must be JSON" in result.stderr


def test_invoke_quiet_prints_only_the_stream(served: ServeProcess) -> None:
    result = cli("invoke", served.urls["echo"], "--quiet")

    assert result.returncode == 0
    assert result.stderr == b""
    assert result.stdout.startswith(b'{"version": "2.0"')


def test_function_urls_are_signed_with_sigv4_when_credentials_exist(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))

    headers = _signed_headers(
        "GET", "https://abc123.lambda-url.eu-west-2.on.aws/x", None, {"accept": "*/*"}, None
    )

    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-2/lambda/aws4_request" in headers["Authorization"]
    assert "X-Amz-Date" in headers


def test_loopback_endpoints_are_local_and_others_are_not() -> None:
    assert all(is_local(h) for h in ("127.0.0.1", "localhost", "::1", "127.1.2.3", "0.0.0.0"))
    assert not any(is_local(h) for h in ("abc.lambda-url.us-east-1.on.aws", "10.0.0.1", None))


def test_statistics_read_as_a_person_would_say_them() -> None:
    stats = StreamStats(started=0.0, first_byte_at=0.05, ended_at=2.05, bytes=4_000_000, status="HTTP 200 OK")

    assert stats.summary() == "HTTP 200 OK · first byte 50 ms · 4.0 MB in 2.05 s · 2.0 MB/s"
    assert format_size(999) == "999 B"


def test_the_progress_line_redraws_in_place_and_clears() -> None:
    screen = io.StringIO()
    progress = ProgressLine(screen, enabled=True, after=0.0)
    stats = StreamStats(
        started=time.perf_counter() - 2.0, first_byte_at=time.perf_counter() - 1.0, bytes=3_000_000
    )

    progress.update(stats)
    progress.clear()

    drawn = screen.getvalue()
    assert drawn.startswith("\r\x1b[K  3.0 MB · ")
    assert drawn.endswith("\r\x1b[K")


def test_the_progress_line_stays_silent_when_disabled() -> None:
    screen = io.StringIO()
    progress = ProgressLine(screen, enabled=False)
    progress.update(StreamStats(started=0.0, bytes=10))
    progress.clear()

    assert screen.getvalue() == ""


def test_serve_prints_a_curl_line_for_every_function_url() -> None:
    def endpoint(name: str, url: str | None) -> Endpoint:
        return Endpoint(FunctionConfig(name, "index.handler", FUNCTIONS, has_url=url is not None), url)

    emulator: Any = SimpleNamespace(
        endpoints=[
            endpoint("Clock", "http://127.0.0.1:9000/"),
            endpoint("Worker", None),
            endpoint("Events", "http://127.0.0.1:19001/"),
        ],
        api_endpoint="http://127.0.0.1:3001",
        host="127.0.0.1",
        allowed_hosts=(),
        signing_credentials=None,
    )
    screen = io.StringIO()

    print_endpoints(emulator, screen)

    watch = screen.getvalue().split("Watch a stream:\n", 1)[1].strip("\n").splitlines()
    assert watch == [
        "  curl -N http://127.0.0.1:9000/   # Clock",
        "  curl -N http://127.0.0.1:19001/  # Events",
        "  cdk-stream-fn invoke Clock --endpoint-url http://127.0.0.1:3001",
    ]


def test_serves_table_says_how_each_function_takes_invocations() -> None:
    functions = [
        FunctionConfig("Chat", "index.handler", FUNCTIONS, per_environment_concurrency=64),
        FunctionConfig("Clock", "index.handler", FUNCTIONS),
    ]
    emulator: Any = SimpleNamespace(
        endpoints=[
            Endpoint(function, f"http://127.0.0.1:900{index}/") for index, function in enumerate(functions)
        ],
        api_endpoint="http://127.0.0.1:3001",
        host="127.0.0.1",
        allowed_hosts=(),
        signing_credentials=None,
    )
    screen = io.StringIO()

    print_endpoints(emulator, screen)

    table = screen.getvalue().split("\n\n")[1].splitlines()
    assert table[0].split() == ["FUNCTION", "URL", "HANDLER", "TIMEOUT", "MODE"]
    assert table[1].endswith("managed instances, 64 per environment")
    assert table[2].endswith("on-demand")
    assert "Managed Instances (Chat): one runtime process per environment" in screen.getvalue()
