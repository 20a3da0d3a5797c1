"""stream_fn: stream HTTP responses from Python on AWS Lambda.

A standard-library-only Lambda runtime (``python -m stream_fn``) and the API handlers use::

    from stream_fn import HttpResponseStream, ServerSentEvent, sse_response, streamify_response

    @streamify_response
    def handler(event, response_stream, context):
        response_stream = HttpResponseStream.from_(response_stream, status_code=200,
                                                   headers={"content-type": "text/plain"})
        for part in ("Hello", ", ", "world"):
            response_stream.write(part)

    @sse_response                       # server-sent events: head, heartbeat, clean end at the deadline
    def events(event, context):
        yield ServerSentEvent(json={"hello": "world"}, event="greeting", id=1)

Importing this package imports nothing heavy. The response streams, the server-sent events helper
and the web app adapters ``asgi_handler`` and ``wsgi_handler`` are loaded on first use: on Lambda
every module imported at start-up is compiled from source at every cold start, and a buffered
handler needs none of them.
"""

from __future__ import annotations

__version__ = "0.1.0"

from stream_fn.decorator import streamify_response
from stream_fn.errors import (
    ContentTypeTooLateError,
    InvalidEventError,
    InvalidMetadataError,
    PreludeAlreadySetError,
    ResponseStreamError,
    StreamConnectionError,
    StreamEndedError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from stream_fn.invocation_scope import current_invocation
    from stream_fn.sse import ServerSentEvents, last_event_id, sse_response
    from stream_fn.sse_format import ServerSentEvent
    from stream_fn.streams import HttpResponseStream, ResponseStream

__all__ = [
    "ContentTypeTooLateError",
    "HttpResponseStream",
    "InvalidEventError",
    "InvalidMetadataError",
    "PreludeAlreadySetError",
    "ResponseStream",
    "ResponseStreamError",
    "ServerSentEvent",
    "ServerSentEvents",
    "StreamConnectionError",
    "StreamEndedError",
    "asgi_handler",
    "current_invocation",
    "last_event_id",
    "sse_response",
    "streamify_response",
    "wsgi_handler",
]

_LAZY_ATTRIBUTES = {
    "HttpResponseStream": "stream_fn.streams",
    "ResponseStream": "stream_fn.streams",
    "ServerSentEvent": "stream_fn.sse_format",
    "ServerSentEvents": "stream_fn.sse",
    "last_event_id": "stream_fn.sse",
    "sse_response": "stream_fn.sse",
    "asgi_handler": "stream_fn.asgi",
    "current_invocation": "stream_fn.invocation_scope",
    "wsgi_handler": "stream_fn.wsgi",
}


def __getattr__(name: str) -> Any:
    """Load the response streams, the events helper and the web app adapters only when used (PEP 562)."""
    module_name = _LAZY_ATTRIBUTES.get(name)
    if module_name is None:
        raise AttributeError(f"module 'stream_fn' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
