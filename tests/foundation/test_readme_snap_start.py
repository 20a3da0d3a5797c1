"""The README's SnapStart example runs as it says: its after-restore hook makes each environment unique."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig
from cdk_stream_fn.emulator.sandboxes.pool import FunctionPool

from .test_readme import python_block_containing

pytestmark = pytest.mark.timeout(60)


def first_line(function: FunctionConfig) -> str:
    async def scenario() -> str:
        pool = FunctionPool(function, log_sink=None)
        try:
            invocation = await pool.submit(pool.request(b"{}"))
            await invocation.head()
            return (await invocation.read_all()).decode()
        finally:
            await pool.stop()

    return asyncio.run(scenario())


@pytest.mark.parametrize(("snap_start", "environment"), [(True, r"[0-9a-f]{16}"), (False, "None")])
def test_the_snap_start_example_runs_its_hooks_only_with_snap_start(
    tmp_path: Path, snap_start: bool, environment: str
) -> None:
    (tmp_path / "index.py").write_text(python_block_containing("# functions/quotes/index.py"))
    function = FunctionConfig("quotes", "index.handler", tmp_path, timeout_seconds=30, snap_start=snap_start)

    assert re.fullmatch(rf"{environment}: quote \d+\n", first_line(function))
