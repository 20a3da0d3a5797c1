"""Server-sent events from a simulated model, for the Managed Instances benchmark: the plain generator.

The same work as bench_managed.py's async handler (50 tokens 20 ms apart), as synchronous code writes it:
on stream_fn each stream waits on a thread, or in a worker process with STREAM_FN_CONCURRENCY=processes.
"""

import time
from typing import Any

from stream_fn import streamify_response

TOKENS = 50
TOKEN_GAP_SECONDS = 0.02
SSE_HEADERS = {"content-type": "text/event-stream", "cache-control": "no-cache"}


@streamify_response(status_code=200, headers=SSE_HEADERS)
def sse(event: dict[str, Any], context: object) -> Any:
    for index in range(event.get("tokens", TOKENS)):
        time.sleep(TOKEN_GAP_SECONDS)
        yield f"data: token {index}\n\n"
