"""The runtime's own unit tests (tests/runtime) run by python3.14 in its root, not only by this machine's 3.11.

pytest, h11, hypothesis and pytest-timeout come from Debian's packages for the same suite (pure Python,
in the root's dist-packages: a separate root, so the roots functions run in hold no test tools);
awslambdaric, which the compatibility tests run side by side with stream_fn, is installed for
python3.14 by the construct's own dependency installer, at the version this project locks, into the
root's /usr/local site directory, with a copy of stream_fn (on this machine both are installed in
.venv), so the runtime processes the tests start find them as they do here. The
checkout is mounted read-only; tests/conftest.py (which needs Node.js for jsii) is left out with
--confcutdir, as the runtime's tests need nothing from it.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cdk_stream_fn.dependencies import LambdaPlatform, Requirements, install_dependencies
from cdk_stream_fn.platform_roots.builder import RootSpec
from cdk_stream_fn.platform_roots.launch import sandbox_command
from cdk_stream_fn.platform_roots.platforms import parse_platform

from .conftest import built_root

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parents[2]
PLATFORM = parse_platform("python3.14/x86_64")
TEST_TOOLS = (
    "python3-pytest",
    "python3-h11",
    "python3-hypothesis",
    "python3-pytest-timeout",
    "python3-brotli",  # the compression tests decode br (zstd is in 3.14's standard library)
)


def test_the_runtimes_unit_tests_pass_on_python314(tmp_path: Path) -> None:
    root = built_root(RootSpec(PLATFORM, extra_packages=TEST_TOOLS))
    site_packages = tmp_path / "site-packages"
    version = importlib.metadata.version("awslambdaric")
    install_dependencies(
        Requirements(source=tmp_path, specifiers=(f"awslambdaric=={version}",)),
        site_packages,
        LambdaPlatform(PLATFORM.python_version, PLATFORM.architecture),
        cwd=tmp_path,
    )
    # Installed, as on this machine (an editable install), so `python -m stream_fn` works without PYTHONPATH.
    shutil.copytree(
        REPO / "runtime" / "stream_fn",
        site_packages / "stream_fn",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    command = sandbox_command(
        root.rootfs,
        [
            PLATFORM.interpreter,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--confcutdir=tests/runtime",
            "tests/runtime",
        ],
        read_only_binds=[
            (REPO, "/var/task"),
            (site_packages, f"/usr/local/lib/{PLATFORM.runtime}/dist-packages"),
        ],
        scratch_dirs=["/usr/local"],
        cwd="/var/task",
    )
    environment = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONPATH": "/var/task/runtime",
        "PYTHONDONTWRITEBYTECODE": "1",  # the checkout is read-only
        "HYPOTHESIS_STORAGE_DIRECTORY": "/tmp/hypothesis",
    }
    result = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=280, check=False
    )

    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.fullmatch(r"\d+ passed(, \d+ \w+)* in [\d.]+s( \([\d:]+\))?", summary), summary
    assert "skipped" not in summary, summary
