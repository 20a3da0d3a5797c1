"""A FastAPI app as users write one: lifespan state, JSON, streamed JSON lines, server-sent events, errors."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from stream_fn import asgi_handler

STARTUPS: list[str] = []


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    STARTUPS.append(str(uuid.uuid4()))
    yield {"startup_id": STARTUPS[-1], "loop_id": id(asyncio.get_running_loop())}
    print(f"lifespan shutdown ran in pid {os.getpid()}", flush=True)


app = FastAPI(lifespan=lifespan)


@app.api_route("/echo/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
async def echo(request: Request, rest: str) -> dict[str, Any]:
    """Everything the adapter put in the scope, and the body as base64."""
    scope = request.scope
    body = await request.body()
    return {
        "method": request.method,
        "rest": rest,
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode("latin-1"),
        "root_path": scope["root_path"],
        "query_string": scope["query_string"].decode("latin-1"),
        "query": list(request.query_params.multi_items()),
        "headers": [[name.decode("latin-1"), value.decode("latin-1")] for name, value in scope["headers"]],
        "cookies": request.cookies,
        "client": list(scope["client"]) if scope["client"] else None,
        "server": list(scope["server"]) if scope["server"] else None,
        "scheme": scope["scheme"],
        "http_version": scope["http_version"],
        "asgi": scope["asgi"],
        "url": str(request.url),
        "body": base64.b64encode(body).decode("ascii"),
        "request_id": scope["aws.context"].aws_request_id,
        "function_url_event": scope["aws.event"].get("version") == "2.0",
    }


@app.get("/state")
async def state(request: Request) -> dict[str, Any]:
    return {
        "startup_id": request.state.startup_id,
        "startups": len(STARTUPS),
        "same_loop": request.state.loop_id == id(asyncio.get_running_loop()),
    }


@app.get("/jsonl")
async def json_lines(count: int = 5) -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        for index in range(count):
            yield json.dumps({"index": index, "square": index * index}) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@app.get("/sse")
async def server_sent_events(request: Request, events: int = 3, gap: float = 0.5) -> StreamingResponse:
    async def stream() -> AsyncIterator[str]:
        for index in range(events):
            if index:
                await asyncio.sleep(gap)
            disconnected = await request.is_disconnected()
            yield f"id: {index}\nevent: tick\ndata: {json.dumps({'index': index, 'disconnected': disconnected})}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"cache-control": "no-cache"})


@app.get("/status/{code}")
async def status(code: int) -> Response:
    return Response(content=f"status {code}", status_code=code, media_type="text/plain")


@app.get("/cookies")
async def cookies() -> Response:
    response = Response(content="cookies set", media_type="text/plain")
    response.set_cookie("session", "abc123", httponly=True, secure=True, samesite="strict")
    response.set_cookie("theme", "dark", max_age=3600)
    response.headers.append("x-multi", "one")
    response.headers.append("x-multi", "two")
    response.headers["x-custom"] = "custom value"
    return response


@app.get("/fail-early")
async def fail_early() -> Response:
    raise RuntimeError("secret database password in this message")


@app.get("/fail-mid")
async def fail_mid() -> StreamingResponse:
    async def stream() -> AsyncIterator[bytes]:
        yield b"first part\n"
        await asyncio.sleep(0.05)
        raise ValueError("broke after the first part")

    return StreamingResponse(stream(), media_type="text/plain")


handler = asgi_handler(app)

#: The same app with compression (no second lifespan: the tests of lifespan count its startups).
compressed_handler = asgi_handler(app, lifespan="off", compress=True)
