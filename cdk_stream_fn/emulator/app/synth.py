"""Synthesizing a CDK app into a cloud assembly, the way the CDK CLI runs it, without the CLI.

`cdk synth` runs the `app` command of cdk.json with `CDK_OUTDIR` and `CDK_CONTEXT_JSON` (cdk.json's
`context` merged with cdk.context.json) set; so does this. Running the app directly skips the CLI's
Node.js start-up and its AWS account and region lookups (nothing here may call AWS), and needs
nothing but the app's own interpreter. `python` and `python3` on the app's PATH run the interpreter
cdk-stream-fn itself runs on (small exec scripts, not the interpreter's whole bin directory, which may
hold other tools such as a slower `node` shim), so `python3 app.py` finds aws_cdk even when the
environment is not activated.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

CDK_JSON = "cdk.json"
CDK_CONTEXT_JSON = "cdk.context.json"


class SynthError(Exception):
    """The app could not be synthesized."""


def is_cdk_app(directory: Path) -> bool:
    return (directory / CDK_JSON).is_file()


def app_command(directory: Path) -> str:
    """The `app` command from cdk.json."""
    settings = _read_json(directory / CDK_JSON)
    command = settings.get("app") if isinstance(settings, dict) else None
    if not isinstance(command, str) or not command.strip():
        raise SynthError(f'{directory / CDK_JSON} has no "app" command (e.g. "app": "python3 app.py")')
    return command


def context(directory: Path) -> dict[str, object]:
    """cdk.json's `context`, overridden by cdk.context.json, as the CLI merges them."""
    merged: dict[str, object] = {}
    merged.update(_read_json(directory / CDK_JSON).get("context") or {})
    saved = directory / CDK_CONTEXT_JSON
    if saved.is_file():
        merged.update(_read_json(saved))
    return merged


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise SynthError(f"{path} is not valid JSON: {error}") from None


def synthesize(directory: Path, output_dir: Path) -> Path:
    """Run the app in `directory`, writing its cloud assembly to `output_dir`; its output goes to stderr."""
    command = app_command(directory)
    output_dir.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ)
    environment["CDK_OUTDIR"] = str(output_dir)
    environment["CDK_CONTEXT_JSON"] = json.dumps(context(directory))
    output = _stderr_descriptor()
    with tempfile.TemporaryDirectory(prefix="cdk-stream-fn-python-") as shims:
        environment["PATH"] = os.pathsep.join([_python_shims(Path(shims)), environment.get("PATH", "")])
        try:
            completed = subprocess.run(
                command, shell=True, cwd=directory, env=environment, stdout=output, stderr=output, check=False
            )
        except OSError as error:
            raise SynthError(f"cannot run the app command {shlex.quote(command)}: {error}") from None
    if completed.returncode != 0:
        raise SynthError(
            f"the CDK app failed (exit {completed.returncode}) running {shlex.quote(command)} in {directory}; "
            "its output is above"
        )
    if not (output_dir / "manifest.json").is_file():
        raise SynthError(
            f"the app command {shlex.quote(command)} ran but wrote no cloud assembly to {output_dir}; "
            "does the app call app.synth()?"
        )
    return output_dir


def _python_shims(directory: Path) -> str:
    """`python` and `python3` scripts in `directory` that exec this interpreter."""
    for name in ("python", "python3"):
        shim = directory / name
        shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
        shim.chmod(0o755)
    return str(directory)


def _stderr_descriptor() -> int | None:
    """The app's output goes to our stderr, keeping stdout for what the CLI prints (None: inherit)."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None
