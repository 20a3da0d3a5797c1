"""The benchmark handlers on stream_fn: the same work as bench_awslambdaric.py and node/bench.mjs."""

import time
from typing import Any

from stream_fn import HttpResponseStream, ResponseStream, streamify_response

LARGE_WRITES = 3200  # 3200 x 64 KiB = 200 MiB, the streamed response limit
PIECE = b"x" * 65536
CHUNKS = 10
CHUNK_GAP_SECONDS = 0.1


@streamify_response
def tiny(event: dict[str, Any], response_stream: ResponseStream, context: object) -> None:
    """A tiny streamed response: the runtime's own cost per invocation dominates."""
    response_stream.write(b"ok")
    response_stream.end()


@streamify_response
def http_tiny(event: dict[str, Any], response_stream: ResponseStream, context: object) -> None:
    """A tiny HTTP response (prelude, delimiter, 2 bytes), as a function URL serves it."""
    HttpResponseStream.from_(response_stream, status_code=200, headers={"content-type": "text/plain"})
    response_stream.write(b"ok")


@streamify_response
def large(event: dict[str, Any], response_stream: ResponseStream, context: object) -> None:
    """One 200 MiB stream in 64 KiB writes (event["writes"] of them: 0 makes an idle-to-idle probe)."""
    for _ in range(event.get("writes", LARGE_WRITES)):
        response_stream.write(PIECE)
    response_stream.end()


@streamify_response
def chunks(event: dict[str, Any], response_stream: ResponseStream, context: object) -> None:
    """An HTTP response of 10 chunks 100 ms apart, as a function URL serves it."""
    stream = HttpResponseStream.from_(
        response_stream, {"statusCode": 200, "headers": {"content-type": "text/plain"}}
    )
    for index in range(CHUNKS):
        if index:
            time.sleep(CHUNK_GAP_SECONDS)
        stream.write(f"chunk {index}\n".encode())
    stream.end()
