"""`cdk-stream-fn invoke`: print a response stream as it arrives, with its head and timing on stderr.

The body goes to stdout, and only the body: a function's HTTP integration response (the stream of a
function behind a function URL) has its JSON prelude and 8 NUL bytes decoded into the status and
headers shown on stderr, as a function URL's own response head is.

boto3 and botocore load only for a function name; a URL needs the standard library alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdk_stream_fn.cli.errors import CliError


def run_invoke(args: argparse.Namespace) -> int:
    import http.client

    from cdk_stream_fn.cli import client

    payload = _payload(args)
    is_url = args.target.startswith(("http://", "https://"))
    if not is_url:
        import json

        try:
            json.loads(payload or b"{}")
        except ValueError as error:
            raise CliError(f"the payload for a function must be JSON: {error}") from None
    out = sys.stdout.buffer
    progress = client.ProgressLine(
        sys.stderr, enabled=sys.stderr.isatty() and not sys.stdout.isatty() and not args.quiet
    )
    head = None if args.quiet else sys.stderr
    failures: tuple[type[BaseException], ...] = (OSError, ValueError, http.client.HTTPException)
    try:
        if is_url:
            stats = client.invoke_url(
                args.target,
                payload,
                out=out,
                region=args.region,
                progress=progress,
                method=args.method,
                head=head,
                sign=args.sign,
            )
        else:
            from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

            failures += (BotoCoreError, ClientError)
            stats = client.invoke_function(
                args.target,
                payload or b"{}",
                out=out,
                endpoint_url=args.endpoint_url,
                region=args.region,
                progress=progress,
                head=head,
            )
    except failures as error:  # network and API errors: one line, not a traceback
        progress.clear()
        raise CliError(_describe(error)) from None
    progress.clear()
    if not args.quiet:
        if stats.bytes and sys.stdout.isatty():
            sys.stderr.write("\n")
        sys.stderr.write(f"--- {stats.summary()}\n")
        if stats.error:
            sys.stderr.write(f"--- error: {stats.error}\n")
    return 1 if stats.error else 0


def _payload(args: argparse.Namespace) -> bytes | None:
    if args.data is not None:
        return str(args.data).encode()
    if args.data_file is not None:
        if str(args.data_file) == "-":
            return sys.stdin.buffer.read()
        try:
            return Path(args.data_file).read_bytes()
        except OSError as error:
            raise CliError(f"--data-file: {error}") from None
    return None


def _describe(error: BaseException) -> str:
    """One line for an invoke failure: botocore's message, or the exception's."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        details = response["Error"]
        return f"{details.get('Code', 'Error')}: {details.get('Message', '')}"
    return f"{type(error).__name__}: {error}"
