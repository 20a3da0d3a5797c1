"""The Managed Instances group's readings: PSS over a process group, and one small real measurement."""

from __future__ import annotations

import os
import pathlib
import sys
import time

import pytest

from benchmarks import measure_managed
from benchmarks.processes import RuntimeProcess, memory_of, process_group
from benchmarks.service import EmulatorBackend

pytestmark = pytest.mark.timeout(120)

MiB = 1024 * 1024

# Touches 32 MiB, forks three children that keep it (copy-on-write, shared), and waits.
FORKING_CHILD = """
import os, pathlib, sys, time
block = bytearray(b"x") * (32 * 1024 * 1024)
for _ in range(3):
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
pathlib.Path(sys.argv[1], "ready").touch()
time.sleep(60)
"""


def test_pss_counts_pages_forked_workers_share_once_where_rss_counts_them_per_worker(
    tmp_path: pathlib.Path,
) -> None:
    argv = [sys.executable, "-c", FORKING_CHILD, str(tmp_path)]
    with RuntimeProcess(argv, dict(os.environ), cwd=tmp_path, log=tmp_path / "child.log") as parent:
        deadline = time.monotonic() + 20
        while not (tmp_path / "ready").exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        members = process_group(parent.pid)
        readings = [memory_of(pid) for pid in members]

    assert len(members) == 4
    pss = sum(reading[0] for reading in readings)
    rss = sum(reading[1] for reading in readings)
    assert 32 * MiB <= pss < 2 * 32 * MiB  # the block once, plus a little per process
    assert rss >= 4 * 32 * MiB  # the block in each of the four


def test_a_small_batch_is_measured_for_one_process_and_for_a_process_per_slot(tmp_path: pathlib.Path) -> None:
    setups = {setup.name: setup for setup in measure_managed.setups(None)}
    chosen = [setups[measure_managed.STREAM_FN_EVENT_LOOP], setups[measure_managed.STREAM_FN_PROCESSES]]
    backend = EmulatorBackend()
    try:
        results = measure_managed.measure(chosen, backend, 1, tmp_path, lambda _: None, concurrency=4)
    finally:
        backend.close()

    (in_one,) = results[measure_managed.STREAM_FN_EVENT_LOOP]
    (per_slot,) = results[measure_managed.STREAM_FN_PROCESSES]
    assert (in_one.processes, per_slot.processes) == (1, 5)  # the parent and a worker per slot
    for run in (in_one, per_slot):
        assert 0 < run.pss_mib <= run.rss_mib
        assert run.cpu_ms_per_stream > 0
        assert 0 < run.first_byte_ms < run.last_byte_ms
