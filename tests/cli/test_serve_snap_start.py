"""`serve` honours SnapStart as the construct writes it: synthesized with `snap_start=True`, then served.

The URL in the template targets the alias `live` (a URL cannot target a version); `serve` finds it, reads
`SnapStart: {ApplyOn: PublishedVersions}`, and runs the real stream_fn runtime as snap-start: the hooks
of `snapshot_restore_py` run, before the snapshot at start-up and after the restore at the first request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .serve_process import REPO, ServeProcess

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

FUNCTIONS = REPO / "tests" / "emulator" / "functions"


@pytest.fixture(scope="module")
def snap_start_assembly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from cdk_stream_fn import StreamingFunction

    outdir = tmp_path_factory.mktemp("snap-start") / "cdk.out"
    app = cdk.App(outdir=str(outdir))
    StreamingFunction(
        cdk.Stack(app, "Snap"),
        "Hooks",
        entry=FUNCTIONS,
        handler="snap_start_hooks.streamed",
        snap_start=True,
        auth_type=lambda_.FunctionUrlAuthType.NONE,
        timeout=cdk.Duration.seconds(10),
    )
    app.synth()
    yield outdir


def test_serve_runs_the_hooks_of_a_snap_start_function_from_its_template(snap_start_assembly: Path) -> None:
    with ServeProcess("--assembly", str(snap_start_assembly)) as serve:
        response = httpx.get(serve.urls["Snap-Hooks"], timeout=30)
        output = "\n".join(serve.stdout_lines)
        log = serve.stderr()

    assert response.status_code == 200
    assert response.json()["initialization_type"] == "snap-start"
    assert response.json()["events"] == [
        "before:flush_cache:snapshot",
        "before:close_connections",
        "after:reconnect",
        "after:reseed",
    ]
    assert "SnapStart (Snap-Hooks): the runtime starts as snap-start" in output
    assert "No memory snapshot: the process that ran the init" in output
    assert "Credentials: the runtime gets your own credentials" in output
    assert "snapshot taken; restoring it for request" in log
