"""A Starlette app whose routes answer the statuses that have no body, as web apps commonly do."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from stream_fn import asgi_handler


async def no_content(request: Request) -> Response:
    return Response(status_code=204)


async def not_modified(request: Request) -> Response:
    return Response(status_code=304, headers={"etag": '"v1"'})


async def text(request: Request) -> Response:
    return PlainTextResponse("after")


app = Starlette(
    routes=[Route("/no-content", no_content), Route("/not-modified", not_modified), Route("/text", text)]
)
handler = asgi_handler(app)
