"""An ASGI app (Starlette) and a WSGI app (Flask) streaming server-sent events, for Managed Instances.

Each request writes its first event, waits until the whole batch (`?parties=N`) has started (a barrier
directory, `?barrier=DIR`), then writes three more, naming in each its invocation's request id, and logs
each with the logging module.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from flask import Flask, Response, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route
from stream_fn import asgi_handler, wsgi_handler

log = logging.getLogger("managed_apps")
TOKENS = 3


async def sse(request: Request) -> StreamingResponse:
    request_id = request.scope["aws.context"].aws_request_id
    barrier, parties = Path(request.query_params["barrier"]), int(request.query_params["parties"])

    async def events() -> AsyncIterator[str]:
        yield f"data: {request_id} first\n\n"
        (barrier / request_id).touch()
        while len(os.listdir(barrier)) < parties:
            await asyncio.sleep(0.005)
        for index in range(TOKENS):
            log.info("token %d of %s", index, request_id)
            yield f"data: {request_id} {index}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


asgi = asgi_handler(Starlette(routes=[Route("/sse", sse)]))

flask_app = Flask(__name__)


@flask_app.route("/sse")
def flask_sse() -> Response:
    request_id = request.environ["aws.context"].aws_request_id
    barrier, parties = Path(request.args["barrier"]), int(request.args["parties"])

    def events() -> Iterator[str]:
        yield f"data: {request_id} first\n\n"
        (barrier / request_id).touch()
        while len(os.listdir(barrier)) < parties:
            time.sleep(0.005)
        for index in range(TOKENS):
            log.info("token %d of %s", index, request_id)
            yield f"data: {request_id} {index}\n\n"

    return Response(events(), mimetype="text/event-stream")


wsgi = wsgi_handler(flask_app)
