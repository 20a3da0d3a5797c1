"""Handlers that compress with ``@streamify_response(compress=True)``: JSON lines, events, an image."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from stream_fn import HttpResponseStream, streamify_response


def _query(event: dict[str, Any], name: str, default: str) -> str:
    return (event.get("queryStringParameters") or {}).get(name, default)


@streamify_response(compress=True, headers={"content-type": "application/x-ndjson"})
def lines(event: dict[str, Any], context: Any) -> Iterator[str]:
    """``count`` JSON lines, ``gap`` seconds apart."""
    gap = float(_query(event, "gap", "0"))
    for index in range(int(_query(event, "count", "5"))):
        if index and gap:
            time.sleep(gap)
        yield json.dumps({"index": index, "text": "a line of a JSON-lines stream"}) + "\n"


@streamify_response(compress=True)
def events(event: dict[str, Any], response_stream: Any, context: Any) -> None:
    """Server-sent events written by the handler itself, ``gap`` seconds apart."""
    HttpResponseStream.from_(response_stream, headers={"content-type": "text/event-stream", "etag": '"v1"'})
    gap = float(_query(event, "gap", "0"))
    for index in range(int(_query(event, "count", "3"))):
        if index and gap:
            time.sleep(gap)
        response_stream.write(f"id: {index}\ndata: {json.dumps({'index': index})}\n\n")


@streamify_response(compress=True)
def image(event: dict[str, Any], response_stream: Any, context: Any) -> None:
    """Already-compressed media: sent as written."""
    HttpResponseStream.from_(response_stream, headers={"content-type": "image/png"})
    response_stream.write(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
