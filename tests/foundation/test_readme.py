"""The README stays true: its two commands are what CI runs, and its handler examples stream as shown."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from emulator.harness import ServedEmulator
from sse.event_stream_parser import read_stream

from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
README = (REPO_ROOT / "README.md").read_text()


def python_block_containing(marker: str) -> str:
    """The README's one ```python block that contains `marker`."""
    blocks = [block for block in re.findall(r"```python\n(.*?)```", README, re.DOTALL) if marker in block]
    assert len(blocks) == 1, f"expected one python block with {marker!r} in README.md, found {len(blocks)}"
    return blocks[0]


def test_the_readme_gives_exactly_the_two_commands_and_ci_runs_the_test_one() -> None:
    section = README.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    (commands,) = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)[:1]
    assert [line.split("#")[0].strip() for line in commands.strip().splitlines()] == [
        "./dev serve",
        "./dev test",
    ]
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "exec ./dev test\n" in ci


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedEmulator]:
    code = tmp_path_factory.mktemp("readme-examples")
    (code / "index.py").write_text(python_block_containing("# functions/report/index.py"))
    (code / "main.py").write_text(python_block_containing("handler = asgi_handler(app)"))
    (code / "live.py").write_text(python_block_containing("# functions/live/index.py"))
    (code / "export.py").write_text(python_block_containing("# functions/export/index.py"))
    emulator = ServedEmulator(
        [
            FunctionConfig("report", "index.handler", code, timeout_seconds=30),
            FunctionConfig("numbers", "main.handler", code, timeout_seconds=30),
            FunctionConfig("live", "live.handler", code, timeout_seconds=30),
            FunctionConfig("export", "export.handler", code, timeout_seconds=30),
        ]
    )
    try:
        yield emulator
    finally:
        emulator.close()


def test_the_streaming_handler_example_streams_its_csv_with_status_and_cookie(served: ServedEmulator) -> None:
    response = httpx.get(served.url("report"), timeout=30)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv"
    assert response.headers["set-cookie"] == "report=squares; Secure; HttpOnly"
    rows = response.text.splitlines()
    assert rows[:3] == ["n,square", "0,0", "1,1"]
    assert rows[-1] == "9999,99980001"


def test_the_fastapi_example_streams_its_lines(served: ServedEmulator) -> None:
    response = httpx.get(served.url("numbers") + "numbers", timeout=30)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "".join(f"{n}\n" for n in range(10))


def test_the_server_sent_events_example_streams_ticks_and_resumes(served: ServedEmulator) -> None:
    fresh = read_stream(served.url("live"))
    resumed = read_stream(served.url("live"), headers={"Last-Event-ID": "3"})

    assert fresh.complete and fresh.headers["content-type"] == "text/event-stream"
    assert [(event.type, event.data, event.last_event_id) for event in fresh.events] == [
        ("tick", '{"n":1}', "1"),
        ("tick", '{"n":2}', "2"),
        ("tick", '{"n":3}', "3"),
    ]
    assert [event.last_event_id for event in resumed.events] == ["4", "5", "6"]


def test_the_compression_example_compresses_for_a_client_that_accepts_gzip(served: ServedEmulator) -> None:
    response = httpx.get(served.url("export"), headers={"accept-encoding": "gzip"}, timeout=30)

    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    lines = response.text.splitlines()
    assert len(lines) == 10_000 and lines[3] == '{"n": 3, "square": 9}'
    assert "content-length" not in response.headers  # streamed: no length up front
