"""A raw ASGI app with a lifespan: its startup runs once per sandbox, its state reaches every request."""

import json
import platform

from stream_fn import asgi_handler


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["started_on"] = platform.machine()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await receive()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    body = json.dumps({"state": dict(scope["state"]), "path": scope["path"]}).encode()
    await send({"type": "http.response.body", "body": body[:5], "more_body": True})
    await send({"type": "http.response.body", "body": body[5:]})


handler = asgi_handler(app)
