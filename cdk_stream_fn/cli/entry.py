"""`cdk-stream-fn`: serve streaming functions locally, and watch a stream arrive.

    cdk-stream-fn serve                                  # in a CDK app directory: every StreamingFunction
    cdk-stream-fn serve --handler app.handler --code .   # one function, no CDK
    cdk-stream-fn invoke http://127.0.0.1:9000/          # a function URL (local or deployed)
    cdk-stream-fn invoke NAME --endpoint-url http://127.0.0.1:3001
    cdk-stream-fn serve --platform lambda                # each function in Lambda's interpreter and architecture
    cdk-stream-fn roots build python3.14 --arch arm64    # build that platform root ahead of time

Only the standard library is imported here; the emulator, boto3 and (to synthesize) the CDK app are
loaded by the command that needs them, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cdk_stream_fn import contract
from cdk_stream_fn.cli.errors import EXIT_USAGE, CliError
from cdk_stream_fn.cli.invoke import run_invoke
from cdk_stream_fn.cli.roots import add_roots_parser
from cdk_stream_fn.cli.serve import run_serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdk-stream-fn",
        description="Stream HTTP responses from Python on AWS Lambda: run them locally, watch them arrive.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve functions locally: function URLs and the Lambda API, with real streaming",
        description=(
            "Serve streaming functions on 127.0.0.1 with the real Lambda streaming protocol. In a CDK app "
            "directory (cdk.json), synthesize the app and serve every StreamingFunction from its source, "
            "with its requirements installed for the Python that runs it here; with --handler and --code, "
            "serve one function without CDK. Edits are picked up while it serves. Ctrl-C stops everything."
        ),
    )
    single = serve.add_argument_group("one function without CDK")
    single.add_argument("--handler", help="the handler, module.function (e.g. app.handler)")
    single.add_argument("--code", type=Path, help="the function's code directory (default: .)")
    single.add_argument(
        "--name", default="function", help="the function's name for the Lambda API (default: function)"
    )
    single.add_argument(
        "--timeout",
        type=float,
        default=None,
        help=f"timeout in seconds (default: {contract.DEFAULT_TIMEOUT_SECONDS}; in a CDK app, each function's own)",
    )
    single.add_argument(
        "--memory",
        type=int,
        default=None,
        help=f"memory in MiB (default: {contract.DEFAULT_MEMORY_MB}; in a CDK app, each function's own)",
    )
    single.add_argument(
        "--per-environment-concurrency",
        type=int,
        default=None,
        metavar="N",
        help="run as on Lambda Managed Instances: each runtime process takes N invocations at once "
        "(default: on-demand, one at a time; in a CDK app, each function's capacity provider setting)",
    )
    cdk = serve.add_argument_group("a CDK app")
    cdk.add_argument("--app-dir", type=Path, default=Path("."), help="the CDK app directory (default: .)")
    cdk.add_argument(
        "--assembly",
        type=Path,
        help="serve an existing cloud assembly (e.g. cdk.out) instead of synthesizing",
    )
    access = serve.add_argument_group(
        "who may call the functions",
        "The functions run with your AWS credentials, so serve answers only this machine by default: it "
        "listens on loopback, accepts only requests that name it (127.0.0.1, localhost, [::1]), and "
        "refuses the Lambda API to browser pages.",
    )
    access.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    access.add_argument(
        "--expose",
        action="store_true",
        help="allow a --host that is not loopback: anyone who can reach it runs your functions with "
        "your AWS credentials",
    )
    access.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept requests whose Host is NAME (a tunnel's or this machine's name); repeatable",
    )
    access.add_argument(
        "--verify-sigv4",
        action="store_true",
        help="check SigV4 signatures on AWS_IAM function URLs against your AWS credentials (403 "
        "otherwise, as on AWS); sign with `cdk-stream-fn invoke URL --sign`",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=contract.DEFAULT_URL_PORT,
        help=f"the first function URL port (default: {contract.DEFAULT_URL_PORT}; 0: any)",
    )
    serve.add_argument(
        "--api-port",
        type=int,
        default=contract.DEFAULT_API_PORT,
        help=f"the Lambda API port (default: {contract.DEFAULT_API_PORT}; 0: any)",
    )
    serve.add_argument(
        "--runtime-command",
        help="start this runtime instead of `python -m stream_fn`; the handler is appended, or replaces "
        "{handler} (e.g. 'node /path/aws-lambda-ric/bin/index.mjs')",
    )
    serve.add_argument(
        "--platform",
        metavar="lambda|PYTHON/ARCH",
        help="where functions run. Default: each on its runtime's Python version on this machine (a "
        "python3.X on PATH, pyenv's or uv's, or a platform root already built for this machine), else on "
        "this Python. 'lambda': each in a platform root of its own runtime and architecture. "
        "'python3.14/arm64': every function in that root. Roots are built on first use (arm64 runs "
        "through qemu-user): see `cdk-stream-fn roots`",
    )
    serve.add_argument(
        "--no-watch",
        dest="watch",
        action="store_false",
        help="do not follow edits (by default a function's code takes effect at its next invocation and "
        "the CDK app is synthesized again when it changes)",
    )
    serve.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set an environment variable in every function",
    )
    serve.add_argument(
        "--region", default=None, help="the region functions see (default: AWS_REGION or us-east-1)"
    )
    serve.add_argument(
        "--max-concurrency",
        type=int,
        default=contract.DEFAULT_MAX_SANDBOXES,
        help="runtime processes per function at most; more requests wait their turn, except for a "
        "function with ReservedConcurrentExecutions, which answers 429 past it "
        f"(default: {contract.DEFAULT_MAX_SANDBOXES})",
    )
    serve.add_argument(
        "--no-memory-limit",
        dest="memory_limit",
        action="store_false",
        help="let runtimes use more than their memory (by default one whose processes hold more is "
        "ended with Runtime.OutOfMemory, as on Lambda)",
    )
    serve.add_argument(
        "--shape-bandwidth",
        action="store_true",
        help="throttle streams as Lambda does: 6 MiB at full speed, then 2 MiB/s",
    )
    serve.add_argument("--verbose", "-v", action="store_true", help="log every request and runtime start")
    serve.set_defaults(run=run_serve)

    invoke = commands.add_parser(
        "invoke",
        help="invoke a function or function URL and print its stream as it arrives",
        description=(
            "Print a response body to stdout as it arrives; its status and headers, time to first byte, bytes "
            "and throughput go to stderr. A function's HTTP integration response (JSON prelude and 8 NUL "
            "bytes) is decoded into status and headers, as a function URL's is. TARGET is a function URL "
            "(signed with SigV4 when credentials are available and the host is not local, or with --sign) "
            "or a function name (InvokeWithResponseStream; use --endpoint-url for the emulator)."
        ),
    )
    invoke.add_argument("target", metavar="TARGET", help="a function URL (http[s]://...) or a function name")
    data = invoke.add_mutually_exclusive_group()
    data.add_argument(
        "--data", "-d", help="the payload (JSON for a function name; the request body for a URL)"
    )
    data.add_argument("--data-file", type=Path, help="read the payload from a file ('-' for stdin)")
    invoke.add_argument("--endpoint-url", help="the Lambda API endpoint (e.g. http://127.0.0.1:3001)")
    invoke.add_argument(
        "--region", default=None, help="the AWS region (default: from your AWS configuration)"
    )
    invoke.add_argument(
        "--method", default=None, help="the HTTP method for a URL (default: POST with data, else GET)"
    )
    invoke.add_argument(
        "--sign",
        action="store_true",
        help="sign a local function URL request with your AWS credentials (for serve --verify-sigv4)",
    )
    invoke.add_argument(
        "--quiet", "-q", action="store_true", help="print the body only, no status, headers or statistics"
    )
    invoke.set_defaults(run=run_invoke)
    add_roots_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except CliError as error:
        print(f"cdk-stream-fn: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
