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


# -- compression (benchmarks.measure_compression) ------------------------------------------------

JSON_LINES_BYTES = 50 * 1024 * 1024  # a 50 MB JSON-lines stream (MB of 2^20 bytes, as Lambda counts)
LINES_PER_WRITE = 100
_json_lines: list[bytes] = []


def json_lines_batches() -> list[bytes]:
    """50 MB of JSON lines in writes of 100 lines, made once per process (so the measured CPU is the
    runtime's and the compressor's, not the making of the records). Seeded: every run sends the same."""
    if not _json_lines:
        import json
        import random

        rng = random.Random(14)
        words = [
            "alpha",
            "beta",
            "gamma",
            "delta",
            "epsilon",
            "zeta",
            "eta",
            "theta",
            "iota",
            "kappa",
            "lambda",
            "mu",
            "nu",
            "xi",
            "omicron",
            "pi",
        ]
        events = ("click", "view", "purchase", "scroll", "search")
        size, index, batch = 0, 0, []
        while size < JSON_LINES_BYTES:
            line = (
                json.dumps(
                    {
                        "id": index,
                        "ts": f"2026-12-06T10:{index // 6000 % 60:02d}:{index // 100 % 60:02d}.{index % 100:02d}0Z",
                        "user": f"user{rng.randint(1, 5000)}",
                        "event": rng.choice(events),
                        "value": round(rng.random() * 100, 2),
                        "tags": rng.sample(words, 3),
                    }
                ).encode()
                + b"\n"
            )
            batch.append(line)
            size += len(line)
            index += 1
            if len(batch) == LINES_PER_WRITE:
                _json_lines.append(b"".join(batch))
                batch = []
        if batch:
            _json_lines.append(b"".join(batch))
    return _json_lines


@streamify_response(compress=True, headers={"content-type": "application/x-ndjson"})
def json_lines(event: dict[str, Any], context: object) -> Any:
    """The 50 MB JSON-lines stream (the first `?writes=N` writes of it), compressed as the client allows."""
    batches = json_lines_batches()
    writes = int((event.get("queryStringParameters") or {}).get("writes", len(batches)))
    yield from batches[:writes]


@streamify_response(compress=True, headers={"content-type": "application/x-ndjson"})
def json_lines_paced(event: dict[str, Any], context: object) -> Any:
    """10 JSON lines 100 ms apart, compressed as the client allows: the time to first byte."""
    for index in range(CHUNKS):
        if index:
            time.sleep(CHUNK_GAP_SECONDS)
        yield b'{"chunk": %d}\n' % index
