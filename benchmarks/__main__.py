"""`python -m benchmarks` (`./dev bench`): measure stream_fn against its references and write the report.

python -m benchmarks                 everything, written to docs/benchmarks.md and docs/benchmarks/
python -m benchmarks --quick         fewer invocations per run, written to benchmarks/.work/report/
python -m benchmarks --only cold_start,stream
python -m benchmarks --setup-only    only build the references (the Node.js runtime client)
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time
from collections.abc import Sequence

from benchmarks import references, runtimes
from benchmarks.references import REPO_ROOT, WORK_DIR, NodeReference, Unavailable
from benchmarks.runtimes import Runtime
from benchmarks.stats import MIN_RUNS

GROUPS = (
    "cold_start",
    "invocation_overhead",
    "stream",
    "time_to_first_byte",
    "compression",
    "managed_instances",
    "webapp",
    "synthesis",
)
DEFAULT_OUTPUT = REPO_ROOT / "docs"
SCRATCH_OUTPUT = WORK_DIR / "report"
# Load average per core above which other work will visibly disturb the figures.
BUSY_LOAD_PER_CORE = 0.5


def log(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(__doc__ or "").split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="fewer invocations per run, to check the tool")
    parser.add_argument("--runs", type=int, help=f"runs per figure (at least {MIN_RUNS}; default 7, quick 5)")
    parser.add_argument(
        "--only",
        type=lambda text: [part.strip() for part in text.split(",") if part.strip()],
        help=f"comma-separated groups to measure: {', '.join(GROUPS)}",
    )
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        help="directory for benchmarks.md and benchmarks/ (default: docs/ for a full run, "
        "benchmarks/.work/report/ with --quick or --only, so a partial run never replaces the published one)",
    )
    parser.add_argument("--setup-only", action="store_true", help="only build the reference runtimes")
    parser.add_argument("--no-node", action="store_true", help="leave out the Node.js reference (no build)")
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < MIN_RUNS:
        parser.error(
            f"--runs must be at least {MIN_RUNS}: every figure is a median over at least {MIN_RUNS} runs"
        )
    unknown = sorted(set(args.only or ()) - set(GROUPS))
    if unknown:
        parser.error(f"--only got unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    return args


def busy_machine_note() -> str | None:
    """A warning when other work already loads the machine as the run starts (figures get noisy)."""
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load < BUSY_LOAD_PER_CORE * cores:
        return None
    return (
        f"The machine was busy when the run started (load average {load:.2f} on {cores} cores): expect wide "
        "min-max ranges, and rerun on a quiet machine before trusting a verdict near its limit."
    )


def prepare_runtimes(node: NodeReference | Unavailable, notes: list[str]) -> list[Runtime]:
    """stream_fn and the references that can run here, with a note in `notes` for each that cannot."""
    available = [runtimes.stream_fn_runtime()]
    ric_version = references.awslambdaric_version()
    if ric_version is not None:
        available.append(runtimes.awslambdaric_runtime(ric_version))
    else:
        notes.append("No awslambdaric figures: awslambdaric is not installed (run ./dev setup).")
    if isinstance(node, NodeReference):
        available.append(runtimes.node_runtime(node))
    else:
        notes.append(f"No Node.js figures: {node.reason}.")
    return available


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()

    node: NodeReference | Unavailable = Unavailable("left out with --no-node")
    if not args.no_node:
        log("Preparing the Node.js runtime client (aws-lambda-ric)")
        node = references.prepare_node_reference(log)
        if isinstance(node, NodeReference):
            log(f"aws-lambda-ric {node.ric_version} on Node {node.node_version} is ready")
        else:
            log(f"the Node.js figures will be skipped: {node.reason}")
    if args.setup_only:
        return 0 if isinstance(node, NodeReference) else 1

    from benchmarks.machine import describe_machine
    from benchmarks.output import README_END, README_START, write_readme_summary, write_report
    from benchmarks.run import Settings, measure_all

    settings = Settings(
        runs=args.runs or (5 if args.quick else 7), invocations=300 if args.quick else 2000, quick=args.quick
    )
    notes: list[str] = []
    busy = busy_machine_note()
    if busy is not None:
        log(busy)
        notes.append(busy)
    available = prepare_runtimes(node, notes)
    figures = measure_all(args.only or GROUPS, available, settings, notes, log)
    machine = describe_machine(
        REPO_ROOT,
        node_version=node.node_version if isinstance(node, NodeReference) else None,
        ric_version=node.ric_version if isinstance(node, NodeReference) else None,
    )
    output = args.output or (SCRATCH_OUTPUT if (args.quick or args.only) else DEFAULT_OUTPUT)
    command = " ".join(["python -m benchmarks", *(sys.argv[1:] if argv is None else argv)])
    report = write_report(figures, machine, output, command=command, quick=settings.quick, notes=notes)
    if output == DEFAULT_OUTPUT:
        readme = REPO_ROOT / "README.md"
        if write_readme_summary(readme, figures, machine, report):
            log(f"Updated the benchmark summary in {readme}")
        else:
            log(f"{readme} has no {README_START} ... {README_END} block: its summary was not updated")
    log(f"Wrote {report} in {time.monotonic() - started:.0f} s")
    for figure in figures:
        if figure.verdict is not None:
            print(f"{figure.verdict.value:>12}  {figure.title}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
