"""The runtimes under test and how each is started against a Runtime API, as Lambda would start it.

Every runtime gets the same Lambda environment variables and runs the same work from benchmarks/handlers/:
`tiny` (a two-byte response), `large` (200 MiB in 64 KiB writes) and `chunks` (an HTTP response of 10
chunks 100 ms apart). awslambdaric cannot stream, so its handlers return the same bytes buffered and it
has no `large` (a buffered response is capped at 6 MiB).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import pathlib
import sys

from benchmarks.processes import RuntimeProcess
from benchmarks.references import BENCHMARKS_DIR, NodeReference

HANDLERS_DIR = BENCHMARKS_DIR / "handlers"
PYTHON_TASK_ROOT = HANDLERS_DIR / "python"
NODE_TASK_ROOT = HANDLERS_DIR / "node"

STREAM_FN = "stream_fn"
AWSLAMBDARIC = "awslambdaric"
NODE = "node"

# The Lambda environment every runtime process sees, besides the Runtime API address and the handler.
LAMBDA_ENVIRONMENT = {
    "AWS_LAMBDA_FUNCTION_NAME": "benchmark",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/benchmark",
    "AWS_LAMBDA_LOG_STREAM_NAME": "benchmark",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "TZ": ":UTC",
    "LANG": "en_US.UTF-8",
}
# Kept from the benchmark's own environment so the child can find its tools and nothing else leaks in;
# STREAM_FN_METRICS=emf measures stream_fn with its per-invocation metric records on.
INHERITED = ("PATH", "HOME", "TMPDIR", "SYSTEMROOT", "STREAM_FN_METRICS")


@dataclasses.dataclass(frozen=True)
class Runtime:
    """One runtime client under test: how to start it and which handlers it has."""

    name: str
    label: str
    argv_prefix: tuple[str, ...]
    task_root: pathlib.Path
    handler_module: str
    handlers: frozenset[str]
    extra_env: tuple[tuple[str, str], ...] = ()
    handler_as_argument: bool = False

    def launch(self, work: str, runtime_api: str) -> tuple[list[str], dict[str, str]]:
        """The argv and environment that start this runtime for handler `work` against `runtime_api`."""
        if work not in self.handlers:
            raise ValueError(f"{self.name} has no {work!r} handler; it has {sorted(self.handlers)}")
        handler = f"{self.handler_module}.{work}"
        env = {name: os.environ[name] for name in INHERITED if name in os.environ}
        env.update(LAMBDA_ENVIRONMENT)
        env.update(
            AWS_LAMBDA_RUNTIME_API=runtime_api,
            _HANDLER=handler,
            LAMBDA_TASK_ROOT=str(self.task_root),
        )
        env.update(self.extra_env)
        return self.argv(handler), env

    def argv(self, handler: str) -> list[str]:
        """The command line that starts this runtime for `handler` (which only some clients read from it)."""
        return [*self.argv_prefix, handler] if self.handler_as_argument else [*self.argv_prefix]

    def start_process(self, argv: list[str], env: dict[str, str], *, log: pathlib.Path) -> RuntimeProcess:
        """Spawn what `launch` described: the process whose /proc readings the measurements take."""
        return RuntimeProcess(argv, env, cwd=self.task_root, log=log)


def stream_fn_wrapper() -> pathlib.Path:
    """The AWS_LAMBDA_EXEC_WRAPPER script of the installed stream_fn (the layer's /opt/stream-fn)."""
    spec = importlib.util.find_spec("stream_fn")
    if spec is None or not spec.submodule_search_locations:
        raise LookupError("stream_fn is not installed; run ./dev setup")
    return pathlib.Path(next(iter(spec.submodule_search_locations))) / "wrapper.sh"


def stream_fn_runtime() -> Runtime:
    """stream_fn started as Lambda starts it: the wrapper script, given the interpreter, execs
    `python -m stream_fn` (one /bin/sh more than the stock runtime, as on Lambda)."""
    return Runtime(
        name=STREAM_FN,
        label="stream_fn",
        argv_prefix=("/bin/sh", str(stream_fn_wrapper()), sys.executable),
        task_root=PYTHON_TASK_ROOT,
        handler_module="bench_stream_fn",
        handlers=frozenset({"tiny", "http_tiny", "large", "chunks"}),
    )


def awslambdaric_runtime(version: str) -> Runtime:
    """The stock Python client; LAMBDA_TASK_ROOT goes on sys.path as Lambda's bootstrap puts it there."""
    return Runtime(
        name=AWSLAMBDARIC,
        label=f"awslambdaric {version} (buffered)",
        argv_prefix=(sys.executable, "-m", "awslambdaric"),
        task_root=PYTHON_TASK_ROOT,
        handler_module="bench_awslambdaric",
        handlers=frozenset({"tiny", "chunks"}),
        extra_env=(("PYTHONPATH", str(PYTHON_TASK_ROOT)),),
        handler_as_argument=True,  # awslambdaric reads its handler from argv, not from _HANDLER
    )


def node_runtime(reference: NodeReference) -> Runtime:
    """The Node.js client built by benchmarks.references, handlers wrapped in awslambda.streamifyResponse."""
    return Runtime(
        name=NODE,
        label=f"aws-lambda-ric {reference.ric_version} (Node {reference.node_version})",
        argv_prefix=(str(reference.node), str(reference.entry)),
        task_root=NODE_TASK_ROOT,
        handler_module="bench",
        handlers=frozenset({"tiny", "large", "chunks"}),
    )
