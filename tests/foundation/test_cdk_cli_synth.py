"""The pinned CDK CLI synthesizes the example app (app.py + cdk.json) with no AWS credentials."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

REPO_ROOT = Path(__file__).resolve().parents[2]
CDK = REPO_ROOT / "node_modules" / ".bin" / "cdk"
STACK = "CdkStreamFnExample"


@pytest.fixture(scope="module")
def cli_synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    assert CDK.exists(), f"{CDK} is missing: run ./dev setup"
    outdir = tmp_path_factory.mktemp("cli") / "cdk.out"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CDK_"))}
    # cdk.json runs `python3 app.py`: the project's interpreter, on the supported Node.
    env["PATH"] = os.pathsep.join(
        [str(REPO_ROOT / ".tools" / "node-bin"), str(REPO_ROOT / ".venv" / "bin"), env["PATH"]]
    )
    env["CDK_DISABLE_CLI_TELEMETRY"] = "true"
    result = subprocess.run(
        [str(CDK), "synth", "--output", str(outdir), "--quiet", "--no-notices"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return outdir, output


def test_cloud_assembly_has_the_stack_and_its_assets(cli_synth: tuple[Path, str]) -> None:
    outdir, _ = cli_synth
    manifest = json.loads((outdir / "manifest.json").read_text())
    assert manifest["artifacts"][STACK]["type"] == "aws:cloudformation:stack"
    assert manifest["artifacts"][STACK]["environment"] == "aws://unknown-account/unknown-region"

    template = json.loads((outdir / f"{STACK}.template.json").read_text())
    resources = template["Resources"].values()
    urls = [r["Properties"] for r in resources if r["Type"] == "AWS::Lambda::Url"]
    functions = {r["Properties"]["Handler"]: r for r in resources if r["Type"] == "AWS::Lambda::Function"}
    assert [(url["InvokeMode"], url["AuthType"]) for url in urls] == [("RESPONSE_STREAM", "AWS_IAM")] * 3
    # the clock, the Starlette app and the FastAPI chat
    assert sorted(functions) == ["app.handler", "index.handler", "main.handler"]
    assert [r["Type"] for r in resources].count("AWS::Lambda::LayerVersion") == 1  # shared by all

    assets = json.loads((outdir / f"{STACK}.assets.json").read_text())["files"]
    staged = {
        asset["source"]["path"] for asset in assets.values() if asset["source"].get("packaging") == "zip"
    }
    assert len(staged) == 4  # the runtime layer and each function's code
    for path in staged:
        assert (outdir / path).is_dir()
    clock = outdir / functions["index.handler"]["Metadata"]["cdk-stream-fn"]["codeAssetPath"]
    assert "@sse_response" in (clock / "index.py").read_text()
    web_app = outdir / functions["app.handler"]["Metadata"]["cdk-stream-fn"]["codeAssetPath"]
    assert "asgi_handler" in (web_app / "app.py").read_text()
    assert (web_app / "starlette" / "__init__.py").is_file()  # requirements.txt installed, without Docker
    chat = outdir / functions["main.handler"]["Metadata"]["cdk-stream-fn"]["codeAssetPath"]
    compiled = [path.name for path in (chat / "pydantic_core").glob("_pydantic_core.*.so")]
    assert len(compiled) == 1 and "cpython-314-aarch64" in compiled[0], (
        compiled
    )  # for Lambda, not this machine
    entry = functions["main.handler"]["Metadata"]["cdk-stream-fn"]["entry"]
    assert (outdir / entry).resolve() == REPO_ROOT / "functions" / "chat"
    (layer,) = [outdir / path for path in staged if (outdir / path / "stream-fn").exists()]
    assert stat.S_IMODE((layer / "stream-fn").stat().st_mode) == 0o755


def test_no_node_end_of_life_banner(cli_synth: tuple[Path, str]) -> None:
    _, output = cli_synth
    assert "end-of-life" not in output.lower()
    assert "node 20" not in output.lower()
