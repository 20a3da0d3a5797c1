"""Code assets as the construct synthesizes them, served in the platform they were built for.

- The example app (app.py) as `cdk synth` makes it: the clock and the Starlette events app, whose
  asset the construct bundled (pure Python) for python3.14 on arm64.
- A FastAPI + pydantic function synthesized once per platform (tests/platforms/fastapi_app): its asset
  holds pydantic-core compiled for that interpreter and machine, installed by the construct without
  Docker. That it imports and answers in the root proves the bundling makes assets that load.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from emulator.harness import ServedEmulator, event_data, read_blocks

from cdk_stream_fn.emulator.app.assembly import read_assembly
from cdk_stream_fn.emulator.app.synth import synthesize
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

from .conftest import PLATFORMS, TIMEOUT_SECONDS, platform_root

pytestmark = pytest.mark.timeout(300)

FASTAPI_APP = Path(__file__).parent / "fastapi_app"
#: The FastAPI app's construct ids, by the platform each was synthesized for.
FASTAPI_FUNCTIONS = {
    "python3.13/x86_64": "Py313X86",
    "python3.14/x86_64": "Py314X86",
    "python3.14/arm64": "Py314Arm",
}
MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}
WHEEL_TAGS = {
    "python3.13/x86_64": "cpython-313-x86_64",
    "python3.14/x86_64": "cpython-314-x86_64",
    "python3.14/arm64": "cpython-314-aarch64",
}


@pytest.fixture(scope="module")
def example_functions(example_assembly: Path) -> list[FunctionConfig]:
    """The example app's functions, synthesized as `cdk synth` runs app.py (once per session)."""
    return read_assembly(example_assembly)


@pytest.fixture(scope="module")
def fastapi_functions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FunctionConfig]:
    """The FastAPI function of each platform, by its construct id."""
    functions = read_assembly(synthesize(FASTAPI_APP, tmp_path_factory.mktemp("fastapi") / "cdk.out"))
    return {
        function.construct_path.rsplit("/", 1)[-1]: function
        for function in functions
        if function.construct_path
    }


@pytest.fixture(scope="module")
def served_example(
    example_functions: list[FunctionConfig], runtime_layer: Path
) -> Iterator[dict[str, ServedEmulator]]:
    started: dict[str, ServedEmulator] = {}

    class Emulators(dict):  # type: ignore[type-arg]
        def __missing__(self, platform: str) -> ServedEmulator:
            root = platform_root(platform, runtime_layer)
            functions = [
                replace(f, platform=root, timeout_seconds=TIMEOUT_SECONDS) for f in example_functions
            ]
            self[platform] = started[platform] = ServedEmulator(functions)
            return started[platform]

    try:
        yield Emulators()
    finally:
        for emulator in started.values():
            emulator.close()


def name_of(functions: list[FunctionConfig], construct_id: str) -> str:
    return next(
        f.name for f in functions if f.construct_path and f.construct_path.endswith("/" + construct_id)
    )


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_example_clock_streams_its_ticks(
    served_example: dict[str, ServedEmulator], example_functions: list[FunctionConfig], platform: str
) -> None:
    served = served_example[platform]
    response, blocks = read_blocks(served.port(name_of(example_functions, "Clock")), "/?ticks=2")

    assert response.status == 200
    assert response.getheader("content-type") == "text/event-stream"
    events = [line for _, block in blocks for line in block.splitlines() if line.startswith("event: ")]
    assert events == ["event: tick", "event: tick", "event: done"]
    assert blocks[-1][0] - blocks[0][0] > 0.5  # the first tick arrived while the clock was still ticking


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_example_starlette_app_streams_its_job_log(
    served_example: dict[str, ServedEmulator], example_functions: list[FunctionConfig], platform: str
) -> None:
    served = served_example[platform]
    response, blocks = read_blocks(served.port(name_of(example_functions, "Events")), "/events?steps=3")

    assert response.status == 200
    steps = [event_data(block)["step"] for _, block in blocks if "event: step" in block]
    assert steps == [1, 2, 3]
    assert blocks[-1][1] == "event: done\ndata: {}"
    assert blocks[-1][0] - blocks[0][0] > 0.5  # produced half a second apart, delivered as produced


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_fastapi_asset_bundled_for_the_platform_loads_and_streams(
    fastapi_functions: dict[str, FunctionConfig], runtime_layer: Path, platform: str
) -> None:
    function = fastapi_functions[FASTAPI_FUNCTIONS[platform]]
    compiled = sorted(path.name for path in (function.code_dir / "pydantic_core").glob("_pydantic_core.*.so"))
    assert len(compiled) == 1 and WHEEL_TAGS[platform] in compiled[0], compiled

    root = platform_root(platform, runtime_layer)
    served = ServedEmulator(
        [replace(function, name="fastapi", platform=root, timeout_seconds=TIMEOUT_SECONDS)]
    )
    try:
        created = httpx.post(served.url("fastapi") + "items", json={"name": "x", "count": "2"}, timeout=120)
        rejected = httpx.post(served.url("fastapi") + "items", json={"name": "x"}, timeout=60)
        response, lines = read_blocks(served.port("fastapi"), "/numbers?count=3", separator=b"\n")
    finally:
        served.close()

    machine = MACHINES[platform.split("/")[1]]
    assert created.status_code == 200
    assert created.json()["item"] == {"name": "x", "count": 2}  # validated and coerced by pydantic-core
    assert created.json()["machine"] == machine
    assert created.json()["pydantic_core"].startswith("/var/task/pydantic_core/")
    assert rejected.status_code == 422
    assert response.status == 200
    version, running_on = lines[0][1].split()
    assert version.startswith(platform.split("/")[0].removeprefix("python") + ".")
    assert running_on == machine
    assert [line for _, line in lines[1:]] == ["0", "1", "2"]
