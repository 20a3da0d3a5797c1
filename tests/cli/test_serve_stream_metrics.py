"""`cdk-stream-fn serve` with the runtime's stream metrics on: each streamed invocation's figures in its log."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest

from .serve_process import REPO, ServeProcess

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
]

APPS = REPO / "tests" / "webapps" / "apps"


def test_serve_prints_the_figures_of_each_streamed_invocation() -> None:
    with ServeProcess(
        "--handler",
        "compressed.lines",
        "--code",
        str(APPS),
        "--name",
        "lines",
        "--env",
        "STREAM_FN_METRICS=emf",
    ) as serve:
        completed = subprocess.run(
            [
                "curl",
                "--compressed",
                "-sS",
                "-D",
                "-",
                "--max-time",
                "20",
                serve.urls["lines"] + "?count=2000",
            ],
            capture_output=True,
            check=True,
            timeout=30,
        )
        request_id = re.search(rb"x-amzn-requestid: (\S+)", completed.stdout, re.IGNORECASE)
        assert request_id is not None
        wanted = f"[lines] stream {request_id[1].decode()}: first byte "
        deadline = time.monotonic() + 10
        while wanted not in serve.stderr() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = serve.stderr()

    line = next(line for line in log.splitlines() if line.startswith(wanted))
    assert re.fullmatch(
        r".*: first byte \d+ ms · streamed for \d+\.\d\d s · [\d.]+ KB body, [\d.]+ KB sent \((br|gzip|zstd), "
        r"\d+\.\dx\) · ok",
        line,
    ), line
    assert '"_aws"' not in log  # the raw record is said in words, not dumped
