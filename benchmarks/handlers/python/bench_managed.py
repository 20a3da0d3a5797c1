"""Server-sent events from a simulated model, for the Managed Instances benchmark: the async handler.

Each stream waits on the "model" 50 times, 20 ms apart, and sends each token as an event as soon as it
comes: a stream that mostly waits, as a chat completion's does. The same work as a plain generator is in
bench_managed_sync.py (a module of its own, so it does not import asyncio), and on awslambdaric in
bench_awslambdaric.py (buffered: it cannot stream).
"""

import asyncio
from typing import Any

from stream_fn import streamify_response

TOKENS = 50
TOKEN_GAP_SECONDS = 0.02
SSE_HEADERS = {"content-type": "text/event-stream", "cache-control": "no-cache"}


@streamify_response(status_code=200, headers=SSE_HEADERS)
async def sse(event: dict[str, Any], context: object) -> Any:
    """An async generator: every stream of an environment waits on its one event loop."""
    for index in range(event.get("tokens", TOKENS)):
        await asyncio.sleep(TOKEN_GAP_SECONDS)
        yield f"data: token {index}\n\n"
