"""The benchmark handlers on the stock runtime client (awslambdaric), which can only buffer a response."""

import time
from typing import Any

CHUNKS = 10
CHUNK_GAP_SECONDS = 0.1


def tiny(event: dict[str, Any], context: object) -> str:
    """A tiny buffered response: the runtime's own cost per invocation dominates."""
    return "ok"


def chunks(event: dict[str, Any], context: object) -> dict[str, Any]:
    """The same 10 chunks 100 ms apart, buffered into one function URL response."""
    parts = []
    for index in range(CHUNKS):
        if index:
            time.sleep(CHUNK_GAP_SECONDS)
        parts.append(f"chunk {index}\n")
    return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "".join(parts)}


SSE_TOKENS = 50
SSE_TOKEN_GAP_SECONDS = 0.02


def sse(event: dict[str, Any], context: object) -> dict[str, Any]:
    """The Managed Instances benchmark's 50 tokens 20 ms apart, buffered into one response."""
    parts = []
    for index in range(event.get("tokens", SSE_TOKENS)):
        time.sleep(SSE_TOKEN_GAP_SECONDS)
        parts.append(f"data: token {index}\n\n")
    return {"statusCode": 200, "headers": {"content-type": "text/event-stream"}, "body": "".join(parts)}
