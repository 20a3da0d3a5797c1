"""Plain ASGI callables without a framework: no lifespan support, and the edge cases frameworks hide."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from stream_fn import asgi_handler


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise RuntimeError(f"this app only speaks http, not {scope['type']}")  # like Django: no lifespan
    path = scope["path"]
    request = await receive()
    if path == "/scope":
        document = {
            key: value for key, value in scope.items() if key not in ("aws.event", "aws.context", "headers")
        }
        document["raw_path"] = scope["raw_path"].decode()
        document["query_string"] = scope["query_string"].decode()
        document["has_state"] = "state" in scope
        document["request"] = {"type": request["type"], "more_body": request["more_body"]}
        await _respond(send, 200, json.dumps(document).encode(), [(b"content-type", b"application/json")])
    elif path == "/repeated-headers":
        headers = [
            (b"content-type", b"text/plain"),
            (b"vary", b"accept"),
            (b"vary", b"accept-encoding"),
            (b"set-cookie", b"a=1; Path=/"),
            (b"set-cookie", b"b=2; Path=/; HttpOnly"),
            (b"transfer-encoding", b"chunked"),
        ]
        await _respond(send, 201, b"created", headers)
    elif path == "/disconnect-after-response":
        await _respond(send, 200, b"done", [])
        message = await receive()
        print(f"after the response, receive() gave {message['type']}", flush=True)
    elif path == "/raise-before-start":
        raise KeyError("secret key name")
    elif path == "/raise-after-start-before-body":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise LookupError("failed between start and body")
    elif path == "/no-response":
        return
    elif path == "/incomplete":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    elif path == "/bad-header":
        await _respond(send, 200, b"x", [(b"x-injected", b"value\r\nset-cookie: evil=1")])
    elif path == "/early-hints":
        await send(
            {"type": "http.response.start", "status": 103, "headers": [(b"link", b"</a.css>; rel=preload")]}
        )
        await _respond(send, 200, b"after the hints", [])
    elif path == "/headers-first":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await asyncio.sleep(0.6)
        await send({"type": "http.response.body", "body": b"the slow part"})
    elif path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": [(b"x-empty", b"yes")]})
        await send({"type": "http.response.body"})
    else:
        await _respond(send, 404, b"not found", [(b"content-type", b"text/plain")])


async def _respond(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


handler = asgi_handler(app)
