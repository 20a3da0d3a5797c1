"""Reading a function URL's response as it arrives (server-sent events and lines), with arrival times."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any


def read_blocks(
    port: int, path: str, *, separator: bytes = b"\n\n", method: str = "GET", body: bytes | None = None
) -> tuple[http.client.HTTPResponse, list[tuple[float, str]]]:
    """Send a request and read the response's `separator`-ended blocks as they arrive, each with the
    seconds from the request to the arrival of its last byte."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        started = time.monotonic()
        connection.request(
            method, path, body=body, headers={"content-type": "application/json"} if body else {}
        )
        response = connection.getresponse()
        blocks: list[tuple[float, str]] = []
        pending = b""
        while chunk := response.read1(65536):
            pending += chunk
            *complete, pending = pending.split(separator)
            blocks += [(time.monotonic() - started, block.decode()) for block in complete]
    finally:
        connection.close()
    return response, blocks


def event_data(block: str) -> Any:
    """The JSON `data:` of one server-sent event."""
    return json.loads(block.split("data: ", 1)[1])
