"""Handlers the emulator tests run under real runtimes (stream_fn, awslambdaric, the raw test runtime)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from stream_fn import HttpResponseStream, streamify_response

MIB = 1024 * 1024


def _query(event: dict[str, Any], name: str, default: str) -> str:
    return (event.get("queryStringParameters") or {}).get(name) or str(event.get(name, default))


@streamify_response(content_type="text/plain")
def hello(event: dict[str, Any], response_stream: Any, context: Any) -> None:
    response_stream.write("hello ")
    response_stream.write("world")


@streamify_response(content_type="text/plain")
def write_sleep_write(event: dict[str, Any], response_stream: Any, context: Any) -> None:
    """First bytes, then a one-second pause, then the rest: proves the stream is not buffered."""
    response_stream.write("first\n")
    time.sleep(float(_query(event, "pause", "1")))
    response_stream.write("second\n")


@streamify_response
def http_response(event: dict[str, Any], response_stream: Any, context: Any) -> None:
    stream = HttpResponseStream.from_(
        response_stream,
        status_code=201,
        headers={"content-type": "application/json", "x-custom": "yes"},
        cookies=["session=abc; Path=/; HttpOnly", "theme=dark"],
    )
    stream.write(
        json.dumps({"path": event.get("rawPath"), "method": event["requestContext"]["http"]["method"]})
    )


@streamify_response
def echo_event(event: dict[str, Any], response_stream: Any, context: Any) -> None:
    stream = HttpResponseStream.from_(
        response_stream, status_code=200, headers={"content-type": "application/json"}
    )
    stream.write(json.dumps(event))


@streamify_response(content_type="application/octet-stream")
def stream_bytes(event: dict[str, Any], response_stream: Any, context: Any) -> None:
    """`size` bytes in 1 MiB writes (a query parameter for URLs, an event field for the Lambda API)."""
    size = int(_query(event, "size", str(MIB)))
    block = b"\xab" * MIB
    while size > 0:
        response_stream.write(block[: min(size, MIB)])
        size -= MIB


@streamify_response(content_type="text/plain")
def fail_mid_stream(event: dict[str, Any], response_stream: Any, context: Any) -> None:
    response_stream.write("partial output\n")
    raise ValueError("broke after the first chunk")


@streamify_response(content_type="text/plain")
def fail_early(event: dict[str, Any], response_stream: Any, context: Any) -> None:
    raise KeyError("nothing written yet")


@streamify_response(content_type="text/plain")
def sleep_forever(event: dict[str, Any], response_stream: Any, context: Any) -> None:
    response_stream.write("started\n")
    time.sleep(3600)


def crash(event: dict[str, Any], context: Any) -> None:
    os._exit(3)


def buffered_echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A plain (non-streaming) handler, as the stock runtime client runs it."""
    return {"echo": event, "function": context.function_name, "memory": context.memory_limit_in_mb}


def buffered_fail(event: dict[str, Any], context: Any) -> None:
    raise RuntimeError("handler failed")


def environment(event: dict[str, Any], context: Any) -> dict[str, str | None]:
    names = [
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "_HANDLER",
        "LAMBDA_TASK_ROOT",
        "GREETING",
        "AWS_LAMBDA_EXEC_WRAPPER",
        "AWS_REGION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "SECRET_FROM_HOST",
    ]
    return {name: os.environ.get(name) for name in names}


def pid_after_pause(event: dict[str, Any], context: Any) -> int:
    time.sleep(float(_query(event, "pause", "0.3")))
    return os.getpid()


def spawn_child(event: dict[str, Any], context: Any) -> int:
    """Leave a grandchild process behind, as a runtime that forks might."""
    import subprocess

    return subprocess.Popen(["sleep", "60"]).pid


def long_log_line(event: dict[str, Any], context: Any) -> str:
    print("L" * (3 * MIB))
    print("after the long line")
    return "logged"


def hold_memory(event: dict[str, Any], context: Any) -> str:
    """Touch `mib` MiB (a query parameter or event field) in 16 MiB pieces and hold them for `hold` s."""
    mib = int(_query(event, "mib", "512"))
    held = [b"x" * (16 * MIB) for _ in range(mib // 16)]
    time.sleep(float(_query(event, "hold", "5")))
    return f"held {len(held) * 16} MiB"


def note_invocation(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Print a marker the test can look for in the runtime's log, then echo the event."""
    print(f"invoked {context.aws_request_id}", flush=True)
    return {"statusCode": 200, "body": json.dumps(event), "headers": {"x-function": "yes"}}
