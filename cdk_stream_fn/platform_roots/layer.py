"""The stream_fn runtime layer as Lambda holds it, for `/opt` of a root.

Staged by the construct's own code (`cdk_stream_fn.construct.runtime_layer.stage_layer`), so a root runs
exactly the bytes a deployment ships: the package with its pycs for python3.13 and python3.14
(cdk_stream_fn.layer_bytecode), the wrapper `stream-fn` at the layer's root. That
module imports aws_cdk, whose import starts a jsii kernel (a Node.js process), so the staging runs in
a child process: `python -m cdk_stream_fn.platform_roots.layer OUTDIR`. The layer is mounted read-only,
as Lambda's /opt is.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cdk_stream_fn.contract import WRAPPER_NAME

STAGE_TIMEOUT_SECONDS = 120.0


class LayerError(RuntimeError):
    """The layer could not be staged; the message says why."""


def stage_runtime_layer(
    parent: Path, *, prefix: str = "stream-fn-layer-", environment: Mapping[str, str] | None = None
) -> Path:
    """Stage the layer into a new directory under `parent` (in a child process, with `environment` if
    given) and return it; nothing is left behind when it fails."""
    parent.mkdir(parents=True, exist_ok=True)
    layer = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "cdk_stream_fn.platform_roots.layer", str(layer)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=STAGE_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        shutil.rmtree(layer, ignore_errors=True)
        raise LayerError(f"staging the runtime layer took over {STAGE_TIMEOUT_SECONDS:.0f} s") from None
    if result.returncode != 0 or not (layer / WRAPPER_NAME).is_file():
        shutil.rmtree(layer, ignore_errors=True)
        output = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise LayerError(f"staging the runtime layer failed (exit {result.returncode}): {' | '.join(output)}")
    return layer


def main(argv: list[str]) -> int:
    """Stage the installed stream_fn package into OUTDIR with the construct's own staging code."""
    if len(argv) != 2:
        print("usage: python -m cdk_stream_fn.platform_roots.layer OUTDIR", file=sys.stderr)
        return 2
    from cdk_stream_fn.construct.runtime_layer import (
        installed_runtime_directory,
        read_runtime_package,
        stage_layer,
    )

    stage_layer(read_runtime_package(installed_runtime_directory()), Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
