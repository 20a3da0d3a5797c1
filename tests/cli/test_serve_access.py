"""What `cdk-stream-fn serve` exposes and to whom, and `invoke` decoding a function's HTTP response,
run as the real CLI processes against the real emulator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .serve_process import REPO, ServeProcess

pytestmark = pytest.mark.timeout(90)

FUNCTIONS = REPO / "tests" / "emulator" / "functions"
#: Credentials that exist only in these tests (nothing here may reach AWS).
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIDSERVETESTS000001",
    "AWS_SECRET_ACCESS_KEY": "serve-tests-secret",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "cdk_stream_fn.cli", *args],
        check=False,
        cwd=REPO,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def isolated_credentials(tmp_path: Path) -> dict[str, str]:
    """The test credentials, and no AWS configuration files of the machine's."""
    return {
        **CREDENTIALS,
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    }


def test_a_host_beyond_loopback_needs_expose_and_says_what_it_would_open(tmp_path: Path) -> None:
    result = cli(
        "serve",
        "--handler",
        "handlers.hello",
        "--code",
        str(FUNCTIONS),
        "--host",
        "0.0.0.0",
        env=isolated_credentials(tmp_path),
    )

    assert result.returncode == 2
    message = result.stderr.decode()
    assert "--host 0.0.0.0 is not a loopback address" in message
    assert "access key AKID...0001" in message
    assert "Add --expose" in message


def test_expose_announces_the_functions_and_credentials_and_still_checks_the_host(tmp_path: Path) -> None:
    with ServeProcess(
        "--handler",
        "handlers.hello",
        "--code",
        str(FUNCTIONS),
        "--name",
        "greeter",
        "--host",
        "0.0.0.0",
        "--expose",
        env=isolated_credentials(tmp_path),
    ) as serve:
        table = "\n".join(serve.stdout_lines)
        port = next(line for line in serve.stdout_lines if "greeter" in line).split(":")[2].split("/")[0]
        served = httpx.get(f"http://127.0.0.1:{port}/", timeout=20)
        rebound = httpx.get(f"http://127.0.0.1:{port}/", headers={"host": "attacker.example"}, timeout=20)
        warning = serve.stderr()

    assert "WARNING: listening on 0.0.0.0, beyond this machine (--expose)" in warning
    assert "can run greeter with the AWS credentials in your environment (access key AKID...0001)" in warning
    assert "Listening on 0.0.0.0 (other machines too)" in table
    assert (served.status_code, served.text) == (200, "hello world")
    assert rebound.status_code == 421


def test_the_table_says_who_may_call_the_functions() -> None:
    with ServeProcess(
        "--handler", "handlers.hello", "--code", str(FUNCTIONS), "--allow-host", "dev.example.test"
    ) as serve:
        table = "\n".join(serve.stdout_lines)
        added = httpx.get(serve.urls["function"], headers={"host": "dev.example.test"}, timeout=20)

    assert "Who may call them:" in table
    assert "requests must name it 127.0.0.1, localhost, [::1], dev.example.test" in table
    assert "The Lambda API refuses browser pages (Origin, Sec-Fetch-Site) with 403" in table
    assert "requests past --max-concurrency wait their turn" in table
    assert added.status_code == 200


# -- An AWS_IAM URL with --verify-sigv4, from a cloud assembly ---------------------------------------


@pytest.fixture
def iam_assembly(tmp_path: Path) -> Iterator[Path]:
    """A cloud assembly with one StreamingFunction behind an AWS_IAM URL, reserved concurrency 1."""
    assembly = tmp_path / "cdk.out"
    shutil.copytree(FUNCTIONS, assembly / "asset.code")
    template = {
        "Resources": {
            "Echo1234": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Handler": "handlers.echo_event",
                    "FunctionName": "echo",
                    "ReservedConcurrentExecutions": 1,
                },
                "Metadata": {
                    "cdk-stream-fn": {
                        "version": 1,
                        "codeAssetPath": "asset.code",
                        "constructPath": "Stack/Echo",
                    }
                },
            },
            "EchoUrl": {
                "Type": "AWS::Lambda::Url",
                "Properties": {
                    "AuthType": "AWS_IAM",
                    "InvokeMode": "RESPONSE_STREAM",
                    "TargetFunctionArn": {"Fn::GetAtt": ["Echo1234", "Arn"]},
                },
            },
        }
    }
    (assembly / "Stack.template.json").write_text(json.dumps(template))
    manifest = {
        "version": "55.0.0",
        "artifacts": {
            "Stack": {
                "type": "aws:cloudformation:stack",
                "properties": {"templateFile": "Stack.template.json"},
            }
        },
    }
    (assembly / "manifest.json").write_text(json.dumps(manifest))
    yield assembly


def test_verify_sigv4_serves_signed_requests_and_forbids_the_rest(iam_assembly: Path, tmp_path: Path) -> None:
    env = {**isolated_credentials(tmp_path), "AWS_REGION": "eu-west-1"}
    with ServeProcess("--assembly", str(iam_assembly), "--verify-sigv4", env=env) as serve:
        url = serve.urls["echo"]
        table = "\n".join(serve.stdout_lines)
        signed = cli("invoke", url + "orders", "--sign", "--region", "eu-west-1", env=env)
        unsigned = cli("invoke", url + "orders", env=env)
        wrong_region = cli("invoke", url + "orders", "--sign", "--region", "us-east-1", env=env)

    assert "AWS_IAM URLs (echo) need SigV4 signatures by your credentials (--verify-sigv4)" in table
    assert "Reserved concurrency: echo 1 (more at once get 429)" in table
    assert signed.returncode == 0, signed.stderr
    event = json.loads(signed.stdout)
    assert event["rawPath"] == "/orders"
    assert event["requestContext"]["authorizer"]["iam"]["accessKey"] == CREDENTIALS["AWS_ACCESS_KEY_ID"]
    assert b"< HTTP 403 Forbidden" in unsigned.stderr
    assert json.loads(unsigned.stdout)["Message"] == "Forbidden"
    assert json.loads(wrong_region.stdout)["Message"].startswith(
        "Credential should be scoped to correct service"
    )


def test_verify_sigv4_without_credentials_is_a_clear_error(iam_assembly: Path, tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cdk_stream_fn.cli",
            "serve",
            "--assembly",
            str(iam_assembly),
            "--verify-sigv4",
            "--port",
            "0",
            "--api-port",
            "0",
        ],
        check=False,
        cwd=REPO,
        capture_output=True,
        timeout=60,
        env=env,
    )

    assert result.returncode == 2
    assert (
        b"--verify-sigv4 checks signatures against your AWS credentials, and none were found" in result.stderr
    )


# -- invoke decodes a function's HTTP integration response -------------------------------------------


@pytest.fixture(scope="module")
def http_function() -> Iterator[ServeProcess]:
    with ServeProcess(
        "--handler", "handlers.http_response", "--code", str(FUNCTIONS), "--name", "page"
    ) as serve:
        yield serve


def test_invoke_by_name_prints_the_body_and_puts_status_and_headers_on_stderr(
    http_function: ServeProcess,
) -> None:
    event = json.dumps({"rawPath": "/report", "requestContext": {"http": {"method": "GET"}}})

    result = cli("invoke", "page", "--endpoint-url", http_function.api or "", "--data", event)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"path": "/report", "method": "GET"}
    assert b"\0" not in result.stdout
    head = result.stderr.decode().splitlines()
    assert head[:5] == [
        "< HTTP 201",
        "< content-type: application/json",
        "< x-custom: yes",
        "< set-cookie: session=abc; Path=/; HttpOnly",
        "< set-cookie: theme=dark",
    ]
    assert head[-1].startswith("--- HTTP 201 · first byte ")


def test_invoke_by_url_puts_the_response_head_on_stderr_too(http_function: ServeProcess) -> None:
    result = cli("invoke", http_function.urls["page"] + "report")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"path": "/report", "method": "GET"}
    head = result.stderr.decode().splitlines()
    assert head[:3] == ["< HTTP 201 Created", "< content-type: application/json", "< x-custom: yes"]
