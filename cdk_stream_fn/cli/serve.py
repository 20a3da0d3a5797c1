"""`cdk-stream-fn serve`: the functions of a CDK app (or one handler) on the local emulator.

Each function runs its own code from its source (entry) directory, with its dependencies installed for
the Python that runs it here (`emulator.app.local_functions`), on the Python version of its runtime when
this machine has one (`emulator.app.runners`). While it serves, edits are picked up (`--no-watch` turns
that off): a function's code at its next invocation, the CDK app by synthesizing it again, on the same
ports (`emulator.app.reloader`, `cli.watch`); a broken edit is reported and the last good version serves.

The functions run with the developer's AWS credentials, so what `serve` exposes is said plainly: it
listens on loopback unless `--host` names another address, which also needs `--expose` and is announced
with the functions and credentials it puts within reach; the table it prints says who may call what.

Only the standard library is imported at module level; the emulator loads when the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cdk_stream_fn.cli.errors import CliError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, TextIO

    from cdk_stream_fn.emulator.app.assembly import AppFunction
    from cdk_stream_fn.emulator.app.local_functions import LocalFunction, LocalFunctions
    from cdk_stream_fn.emulator.app.runners import Runner
    from cdk_stream_fn.emulator.app.service import Emulator
    from cdk_stream_fn.emulator.app.sources import AppSource
    from cdk_stream_fn.emulator.front_doors.iam_auth import SigningCredentials
    from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig


def say(message: str) -> None:
    """One line on stderr, as `serve` says everything but the table."""
    print(f"cdk-stream-fn: {message}", file=sys.stderr, flush=True)


def run_serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import tempfile

    from cdk_stream_fn.emulator.app.local_functions import LocalFunctions
    from cdk_stream_fn.emulator.app.runners import AUTO, PER_FUNCTION, RunnerError, RunnerResolver

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="cdk-stream-fn: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        logging.getLogger("asyncio").setLevel(logging.WARNING)
        # watchfiles says "3 changes detected"; the reload says what it did with them.
        logging.getLogger("watchfiles").setLevel(logging.WARNING)
    _check_exposure(args)
    environment = _parse_env(args.env)
    region = (
        args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    )
    with tempfile.TemporaryDirectory(prefix="cdk-stream-fn-") as scratch_name:
        scratch = Path(scratch_name)
        source = _source(args, region=region, environment=environment, scratch=scratch)
        try:
            runners = RunnerResolver(args.platform or AUTO, scratch=scratch, progress=say)
            local = LocalFunctions(runners, scratch=scratch, progress=say)
            functions = [local.prepare(function) for function in _load(source)]
        except RunnerError as error:
            raise CliError(str(error)) from None
        problems = [problem for function in functions for problem in function.config.problems()]
        if problems:
            raise CliError("cannot serve:\n  " + "\n  ".join(problems))
        for line in where_they_run(functions, fixed_platform=args.platform not in (None, AUTO, PER_FUNCTION)):
            say(line)
        return asyncio.run(_serve(functions, args, source=source, local=local))


def _source(
    args: argparse.Namespace, *, region: str, environment: dict[str, str], scratch: Path
) -> AppSource:
    """Where the functions come from (a CDK app, an assembly, one handler), with the command line's
    settings applied to each."""
    from dataclasses import replace

    from cdk_stream_fn.emulator.app.sources import Assembly, CdkApp, Customized, OneFunction
    from cdk_stream_fn.emulator.app.synth import is_cdk_app
    from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

    # What the command line sets; the rest comes from FunctionConfig's defaults or the CDK app.
    overrides: dict[str, Any] = {}
    if args.runtime_command:
        overrides["runtime_command"] = _split_command(args.runtime_command)
    if args.timeout is not None:
        overrides["timeout_seconds"] = args.timeout
    if args.memory is not None:
        overrides["memory_mb"] = args.memory
    if args.per_environment_concurrency is not None:
        overrides["per_environment_concurrency"] = args.per_environment_concurrency
    if not args.memory_limit:
        overrides["enforce_memory"] = False
    if args.handler or args.code:
        if not args.handler:
            raise CliError("--code needs --handler (module.function)")
        code_dir = (args.code or Path(".")).resolve()
        single = FunctionConfig(
            args.name, args.handler, code_dir, environment=environment, region=region, **overrides
        )
        problems = single.problems()
        if problems:
            raise CliError("cannot serve:\n  " + "\n  ".join(problems))
        return OneFunction(single)

    def customize(config: FunctionConfig) -> FunctionConfig:
        return replace(config, environment={**config.environment, **environment}, **overrides)

    def warn(message: str) -> None:
        say(f"warning: {message}")

    if args.assembly is not None:
        return Customized(Assembly(args.assembly.resolve(), region=region, warn=warn), customize)
    app_dir = args.app_dir.resolve()
    if not is_cdk_app(app_dir):
        raise CliError(
            f"no cdk.json in {app_dir}: run `serve` in a CDK app directory (or pass --app-dir or --assembly), "
            "or serve one function with --handler module.function --code DIR"
        )
    return Customized(CdkApp(app_dir, scratch, region=region, warn=warn, progress=say), customize)


def _load(source: AppSource) -> list[AppFunction]:
    """The functions of the source, or the error that stops `serve` from starting."""
    from cdk_stream_fn.emulator.app.assembly import AssemblyError
    from cdk_stream_fn.emulator.app.sources import OneFunction
    from cdk_stream_fn.emulator.app.synth import SynthError

    try:
        functions = source.load()
    except (SynthError, AssemblyError) as error:
        raise CliError(str(error)) from None
    if not functions and not isinstance(source, OneFunction):
        raise CliError(
            "the cloud assembly has no function made by StreamingFunction "
            '(none carries the "cdk-stream-fn" metadata); use --handler/--code to serve a plain function'
        )
    return functions


def where_they_run(functions: list[LocalFunction], *, fixed_platform: bool = False) -> list[str]:
    """What `serve` says about the Pythons it runs the functions on: which version stands in for which,
    which runtime a `--platform` replaces, and which functions cannot run here."""
    from cdk_stream_fn.platform_roots.platforms import AVAILABLE_PYTHONS, host_architecture

    lines = []
    stand_ins: dict[tuple[str, str], list[str]] = {}
    for function in functions:
        runner, config = function.runner, function.config
        if runner.stands_in_for:
            stand_ins.setdefault((runner.stands_in_for, runner.version), []).append(config.name)
        elif (
            fixed_platform
            and runner.root is not None
            and config.runtime not in (None, runner.root.platform.runtime)
        ):
            lines.append(
                f"warning: {config.name} is deployed on {config.runtime}; --platform runs it on "
                f"{runner.root.platform.runtime}"
            )
    for (runtime, version), names in stand_ins.items():
        fix = "Install it and serve again"
        if runtime.removeprefix("python") in AVAILABLE_PYTHONS:
            fix = f"Install it, or build a root (cdk-stream-fn roots build {runtime} --arch {host_architecture()}), and serve again"
        lines.append(
            f"Python {version} stands in for {runtime} ({', '.join(names)}): this machine has no {runtime} "
            f"(PATH, pyenv, uv) and no platform root of it. {fix}"
        )
    for function in functions:
        if function.config.unavailable is not None:
            lines.append(
                f"{function.problem or function.config.unavailable}\n  {function.config.name} answers every "
                "request with an error that says why; the other functions serve."
            )
    return lines


async def _serve(
    functions: list[LocalFunction], args: argparse.Namespace, *, source: AppSource, local: LocalFunctions
) -> int:
    import asyncio
    import contextlib
    import signal

    from cdk_stream_fn.cli.watch import watch_and_reload
    from cdk_stream_fn.emulator.app.reloader import Reloader
    from cdk_stream_fn.emulator.app.service import Emulator, PortInUseError
    from cdk_stream_fn.emulator.sandboxes.sandbox import RuntimeStartError

    emulator = Emulator(
        [function.config for function in functions],
        host=args.host,
        url_port=args.port,
        api_port=args.api_port,
        max_sandboxes=args.max_concurrency,
        shape_bandwidth=args.shape_bandwidth,
        allowed_hosts=args.allow_host,
        signing_credentials=_signing_credentials() if args.verify_sigv4 else None,
    )
    try:
        await emulator.start(warm=True)
    except PortInUseError as error:
        raise CliError(str(error.strerror)) from None
    except RuntimeStartError as error:
        raise CliError(str(error)) from None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, emulator.request_stop)
    reloader = Reloader(emulator, local, source, functions, report=say)
    tasks: list[asyncio.Task[None]] = []
    try:
        if args.expose:
            print_exposure(emulator, sys.stderr)
        runners = {function.config.name: function.runner for function in functions}
        watching = None
        if args.watch:
            watching = "a function's code takes effect at its next invocation" + (
                ", the CDK app is synthesized again when it changes" if source.app_dir else ""
            )
        print_endpoints(emulator, sys.stdout, runners=runners, watching=watching)
        if args.watch:
            tasks = [
                asyncio.create_task(reloader.run(), name="reload"),
                asyncio.create_task(watch_and_reload(reloader, report=say), name="watch"),
            ]
        await emulator.serve_until_stopped()
    finally:
        say("stopping")
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        await emulator.stop()
    return 0


def print_endpoints(
    emulator: Emulator,
    out: TextIO,
    *,
    runners: Mapping[str, Runner] | None = None,
    watching: str | None = None,
) -> None:
    """The table of URLs and the commands to watch a stream (`curl -N` for each function URL, then
    `cdk-stream-fn invoke` through the Lambda API), as `serve` prints it; for SnapStart functions, what
    differs from Lambda. `runners` adds the Python each function runs on; `watching` says what edits do."""
    from cdk_stream_fn.emulator.sandboxes.snap_start import LOCAL_DIFFERENCES as SNAP_START_LOCAL_DIFFERENCES

    write = out.write
    endpoints = emulator.endpoints
    runners = runners or {}
    rows = [("FUNCTION", "URL", "HANDLER", "TIMEOUT", "MODE", "PYTHON" if runners else "")]
    for endpoint in endpoints:
        function = endpoint.function
        runner = runners.get(function.name)
        rows.append(
            (
                function.name,
                endpoint.url or "(no function URL)",
                function.handler,
                f"{function.timeout_seconds:g} s",
                execution_mode(function),
                ("cannot run here" if function.unavailable else runner.summary) if runner else "",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    count = len(endpoints)
    write(
        f"\ncdk-stream-fn: serving {count} function{'s' if count != 1 else ''} (Ctrl-C stops everything)\n\n"
    )
    for row in rows:
        write("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")
    write(f"\n  Lambda API  {emulator.api_endpoint}   (boto3.client('lambda', endpoint_url=...))\n")
    if watching:
        write(f"\n  Watching for edits: {watching} (--no-watch turns this off)\n")
    write("\nWho may call them:\n")
    for line in access_lines(emulator):
        write(f"  {line}\n")
    snap_start = [endpoint.function.name for endpoint in endpoints if endpoint.function.snap_start]
    if snap_start:
        write(f"\n{snap_start_heading(snap_start)}\n")
        for line in SNAP_START_LOCAL_DIFFERENCES:
            write(f"  - {line}\n")
    write("\nWatch a stream:\n")
    urls = [(e.url, e.function.name) for e in endpoints if e.url]
    url_width = max((len(url) for url, _ in urls), default=0)
    for url, name in urls:
        write(f"  curl -N {url.ljust(url_width)}  # {name}\n")
    if endpoints:
        write(f"  cdk-stream-fn invoke {endpoints[0].function.name} --endpoint-url {emulator.api_endpoint}\n")
    write("\n")
    out.flush()


def snap_start_heading(names: list[str]) -> str:
    """What `serve` does for functions with SnapStart, before the list of what it cannot emulate."""
    return (
        f"SnapStart ({', '.join(names)}): the runtime starts as snap-start; its before-snapshot hooks run at "
        "start-up, its after-restore hooks at the first invocation (10 s limit). Not as on Lambda:"
    )


def execution_mode(function: FunctionConfig) -> str:
    """How the function's environments take invocations: one at a time, or several (Managed Instances)."""
    if function.per_environment_concurrency is None:
        return "on-demand"
    return f"managed instances, {function.per_environment_concurrency} per environment"


def access_lines(emulator: Emulator) -> list[str]:
    """What `serve` lets in, one line each: the names it answers to, AWS_IAM URLs, throttling, memory."""
    from cdk_stream_fn.emulator.http.admission import LOOPBACK_NAMES, is_loopback
    from cdk_stream_fn.emulator.sandboxes import memory

    functions = [endpoint.function for endpoint in emulator.endpoints]
    names = [*LOOPBACK_NAMES, *emulator.allowed_hosts]
    if emulator.host not in ("0.0.0.0", "::") and emulator.host not in names:
        names.insert(3, emulator.host)
    where = "this machine only" if is_loopback(emulator.host) else "other machines too"
    lines = [
        f"Listening on {emulator.host} ({where}); requests must name it {', '.join(names)} (--allow-host adds)",
        "The Lambda API refuses browser pages (Origin, Sec-Fetch-Site) with 403",
    ]
    iam = [f.name for f in functions if f.has_url and f.auth_type == "AWS_IAM"]
    if iam and emulator.signing_credentials is not None:
        lines.append(
            f"AWS_IAM URLs ({', '.join(iam)}) need SigV4 signatures by your credentials (--verify-sigv4)"
        )
    elif iam:
        lines.append(
            f"AWS_IAM auth is not checked locally ({', '.join(iam)}): unsigned requests run; browser pages of "
            "other origins get 403; --verify-sigv4 checks signatures"
        )
    reserved = [f"{f.name} {f.reserved_concurrency}" for f in functions if f.reserved_concurrency is not None]
    queued = "requests past --max-concurrency wait their turn"
    managed = [f.name for f in functions if f.per_environment_concurrency is not None]
    if managed:
        lines.append(
            f"Managed Instances ({', '.join(managed)}): one runtime process per environment takes several "
            "invocations at once; --max-concurrency counts environments; a timed-out invocation fails alone"
        )
    if reserved:
        lines.append(f"Reserved concurrency: {', '.join(reserved)} (more at once get 429); other {queued}")
    else:
        lines.append(f"Concurrency: {queued} (ReservedConcurrentExecutions answers 429 instead)")
    if not memory.supported():
        lines.append("Memory limits are not enforced here (no /proc)")
    elif all(f.enforce_memory for f in functions):
        lines.append("A runtime holding more than its MemorySize is ended (Runtime.OutOfMemory)")
    else:
        lines.append("Memory limits are not enforced (--no-memory-limit)")
    return lines


def print_exposure(emulator: Emulator, out: TextIO) -> None:
    """Say, on stderr, what listening beyond loopback puts within reach: which functions, whose credentials."""
    ports = sorted(
        {int(url.rsplit(":", 1)[1].rstrip("/")) for url in filter(None, (e.url for e in emulator.endpoints))}
    )
    names = ", ".join(endpoint.function.name for endpoint in emulator.endpoints)
    out.write(
        f"cdk-stream-fn: WARNING: listening on {emulator.host}, beyond this machine (--expose). Anyone who "
        f"can reach it on ports {', '.join(map(str, ports)) or '-'} (function URLs) and "
        f"{emulator.api_endpoint.rsplit(':', 1)[1]} (Lambda API) can run {names} with "
        f"{describe_credentials(os.environ)}. Requests must still name this server by one of its names "
        "(add them with --allow-host).\n"
    )
    out.flush()


def describe_credentials(environment: Mapping[str, str]) -> str:
    """Whose AWS credentials the runtimes get, told without looking anything up over the network."""
    key = environment.get("AWS_ACCESS_KEY_ID")
    if key:
        return f"the AWS credentials in your environment (access key {key[:4]}...{key[-4:]})"
    if environment.get("AWS_PROFILE"):
        return f"the credentials of your AWS profile {environment['AWS_PROFILE']!r}"
    return "your default AWS credentials (~/.aws), if you have any"


def _check_exposure(args: argparse.Namespace) -> None:
    """A --host beyond loopback needs --expose: say what it would open up otherwise."""
    from cdk_stream_fn.emulator.http.admission import is_loopback

    if not is_loopback(args.host) and not args.expose:
        raise CliError(
            f"--host {args.host} is not a loopback address: other machines could run your functions, with "
            f"{describe_credentials(os.environ)}. Add --expose to listen there anyway."
        )


def _signing_credentials() -> SigningCredentials:
    """The developer's AWS credentials (botocore's usual chain), which --verify-sigv4 checks signatures against."""
    import botocore.session  # type: ignore[import-untyped]

    from cdk_stream_fn.emulator.front_doors.iam_auth import SigningCredentials

    credentials = botocore.session.get_session().get_credentials()
    if credentials is None:
        raise CliError(
            "--verify-sigv4 checks signatures against your AWS credentials, and none were found "
            "(set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        )
    frozen = credentials.get_frozen_credentials()
    return SigningCredentials(frozen.access_key, frozen.secret_key, frozen.token)


def _parse_env(pairs: list[str]) -> dict[str, str]:
    environment = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise CliError(f"--env takes KEY=VALUE, got {pair!r}")
        environment[key] = value
    return environment


def _split_command(command: str) -> list[str]:
    import shlex

    try:
        parts = shlex.split(command)
    except ValueError as error:
        raise CliError(f"--runtime-command {command!r}: {error}") from None
    if not parts:
        raise CliError("--runtime-command is empty")
    return parts
