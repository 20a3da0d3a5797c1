"""What a root holds besides Debian's files: Lambda's layout, so a runtime starts there as on Lambda.

The managed Python runtime's image (aws/aws-lambda-base-images, `Dockerfile.python3.X`) sets
`LAMBDA_TASK_ROOT=/var/task`, `LAMBDA_RUNTIME_DIR=/var/runtime`, `WORKDIR /var/task`, and runs
`/var/runtime/bootstrap`, a bash script that exports `AWS_EXECUTION_ENV=AWS_Lambda_python3.X`
and, when `AWS_LAMBDA_EXEC_WRAPPER` is set, checks that the wrapper exists (exit 127, "does not
exist") and is executable (exit 126, "is not an executable"), then runs
`exec -- "$AWS_LAMBDA_EXEC_WRAPPER" /var/lang/bin/python3.X /var/runtime/bootstrap.py`
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-modify.html#runtime-wrapper: "Lambda sends
the interpreter path and all the original arguments to the script"). Here the interpreter is Debian's,
`/usr/bin/python3.X`; the layer is mounted on `/opt`, the code on `/var/task`.

The stock runtime client (awslambdaric, `/var/runtime/bootstrap.py` on Lambda) is not in a root:
without a wrapper the bootstrap stops with a message that says so.

Debian's packages install under `/usr` only (the merged-/usr layout that `base-files` completes with
`/bin -> usr/bin` and the like); those links are made here, as no maintainer script runs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .platforms import Platform

RUNTIME_DIR = "/var/runtime"
TASK_ROOT = "/var/task"
LAYER_ROOT = "/opt"
BOOTSTRAP = f"{RUNTIME_DIR}/bootstrap"
STOCK_BOOTSTRAP_PY = f"{RUNTIME_DIR}/bootstrap.py"

#: Directories that are mount points when a runtime runs in the root (bubblewrap binds over them).
MOUNT_POINTS = ("opt", "var/task", "tmp", "proc", "dev", "usr/local")

_MERGED_USR_LINKS = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib"}
_LIB64 = {"amd64": "usr/lib64"}

_BOOTSTRAP_TEMPLATE = """\
#!/bin/bash
# The managed Python runtime's entry point, as Lambda's /var/runtime/bootstrap behaves
# (cdk_stream_fn/platform_roots/layout.py says where each behaviour comes from).
export AWS_EXECUTION_ENV=AWS_Lambda_{runtime}
if [ -z "$AWS_LAMBDA_EXEC_WRAPPER" ]; then
    exec {interpreter} {stock_bootstrap}
fi
wrapper="$AWS_LAMBDA_EXEC_WRAPPER"
if [ ! -f "$wrapper" ]; then
    echo "$wrapper: does not exist"
    exit 127
fi
if [ ! -x "$wrapper" ]; then
    echo "$wrapper: is not an executable"
    exit 126
fi
exec -- "$wrapper" {interpreter} {stock_bootstrap}
"""

_STOCK_BOOTSTRAP_PY = """\
# Lambda's stock runtime client (awslambdaric) starts here; a cdk-stream-fn platform root does not
# carry it. Set AWS_LAMBDA_EXEC_WRAPPER (the StreamingFunction construct sets /opt/stream-fn).
import sys

sys.exit(
    "cdk-stream-fn platform root: the stock runtime client is not installed here; "
    "set AWS_LAMBDA_EXEC_WRAPPER=/opt/stream-fn (the stream_fn layer) to run a function"
)
"""

_ETC_FILES = {
    # Lambda runs a function as an unprivileged user; these let Python name the users it may see.
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nsbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    "etc/group": "root:x:0:\nsbx_user1051:x:990:\nnogroup:x:65534:\n",
    "etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
}


def layout_files(platform: Platform) -> dict[str, str]:
    """The files this module adds to a root, by path relative to the root."""
    bootstrap = _BOOTSTRAP_TEMPLATE.format(
        runtime=platform.runtime, interpreter=platform.interpreter, stock_bootstrap=STOCK_BOOTSTRAP_PY
    )
    return {
        BOOTSTRAP.lstrip("/"): bootstrap,
        STOCK_BOOTSTRAP_PY.lstrip("/"): _STOCK_BOOTSTRAP_PY,
        **_ETC_FILES,
    }


def layout_fingerprint(platform: Platform) -> str:
    """A hash of what `prepare_layout` and `complete_layout` write, part of a root's cache key."""
    digest = hashlib.sha256(b"cdk-stream-fn root layout 1\n")
    parts = {**layout_files(platform), **_MERGED_USR_LINKS, **_LIB64, "mount points": " ".join(MOUNT_POINTS)}
    for path, content in sorted(parts.items()):
        digest.update(f"{len(path)}:{path}{len(content)}:{content}".encode())
    return digest.hexdigest()


def prepare_layout(root: Path, platform: Platform) -> None:
    """Before unpacking: the merged-/usr links, so a package that still ships /lib lands in /usr/lib."""
    links = dict(_MERGED_USR_LINKS)
    if platform.debian_architecture in _LIB64:
        links["lib64"] = _LIB64[platform.debian_architecture]
    for name, target in links.items():
        (root / target).mkdir(parents=True, exist_ok=True)
        (root / name).symlink_to(target)


def complete_layout(root: Path, platform: Platform) -> None:
    """After unpacking: /bin/sh, Lambda's directories and bootstrap, the mount points."""
    sh = root / "usr" / "bin" / "sh"
    if not sh.exists() and not sh.is_symlink():
        sh.symlink_to("bash")  # Amazon Linux's /bin/sh is bash (Debian's dash package would make it dash)
    for mount_point in MOUNT_POINTS:
        (root / mount_point).mkdir(parents=True, exist_ok=True)
    for relative, content in layout_files(platform).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        path.chmod(0o755 if relative == BOOTSTRAP.lstrip("/") else 0o644)
    os.chmod(root / "tmp", 0o1777)
