"""`python -m benchmarks` end to end on a tiny real measurement: real runtime processes against the
emulator's Runtime API, then the Markdown report, the PNG plots and the raw results. Timings are not
asserted, only that the tool measured, compared and reported them."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
from matplotlib import image
from platform_support import require_roots

from benchmarks.references import REPO_ROOT

pytestmark = pytest.mark.timeout(180)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_benchmarks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    require_roots()  # the cold start runs on the target interpreter, in its platform root
    output = tmp_path_factory.mktemp("report")
    result = run_benchmarks("--only", "cold_start", "--runs", "5", "--no-node", "--output", str(output))
    assert result.returncode == 0, result.stderr
    return output


def test_the_report_compares_stream_fn_with_awslambdaric_and_states_the_target(
    report_dir: pathlib.Path,
) -> None:
    report = (report_dir / "benchmarks.md").read_text()
    assert "## Machine" in report and "Python: CPython" in report
    assert "| **stream_fn, layer as shipped (checked-hash pycs)** |" in report
    assert "| awslambdaric " in report
    target_line = next(
        line for line in report.splitlines() if line.startswith("| Cold start as deployed on python3.14")
    )
    assert target_line.endswith(("| **PASS** |", "| **MISS** |"))
    assert "Measured on python3.14 (3.14." in report
    assert "No Node.js figures: left out with --no-node." in report


def test_the_raw_results_hold_every_run_and_ratios_of_medians(report_dir: pathlib.Path) -> None:
    document = json.loads((report_dir / "benchmarks" / "results.json").read_text())
    (cold_start,) = document["figures"]
    assert cold_start["key"] == "cold_start"
    assert cold_start["subject"] == "stream_fn" and cold_start["reference"] == "awslambdaric"
    samples = {sample["name"]: sample for sample in cold_start["samples"]}
    assert list(samples) == [
        "stream_fn",
        "stream_fn_unchecked_pycs",
        "stream_fn_without_bytecode",
        "awslambdaric",
    ]
    for sample in samples.values():
        assert len(sample["values"]) == 5
        assert all(value > 0 for value in sample["values"])
        assert sample["min"] <= sample["median"] <= sample["max"]
    assert samples["awslambdaric"]["ratio"] == 1.0
    for name in ("stream_fn", "stream_fn_without_bytecode"):
        assert samples[name]["ratio"] == pytest.approx(
            samples[name]["median"] / samples["awslambdaric"]["median"]
        )
    assert cold_start["verdict"] in ("PASS", "MISS")


def test_the_plots_are_real_pngs_linked_from_the_report(report_dir: pathlib.Path) -> None:
    report = (report_dir / "benchmarks.md").read_text()
    for name in ("cold_start.png", "summary.png"):
        path = report_dir / "benchmarks" / name
        assert f"](benchmarks/{name})" in report
        assert path.read_bytes().startswith(PNG_SIGNATURE)
        height, width, _ = image.imread(path).shape
        assert width > 400 and height > 150


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runs", "3"], "--runs must be at least 5"),
        (["--only", "cold_start,warp_speed"], "unknown group(s) warp_speed"),
    ],
)
def test_bad_options_are_refused_with_what_to_do(args: list[str], message: str) -> None:
    result = run_benchmarks(*args)
    assert result.returncode == 2
    assert message in result.stderr
