"""A FastAPI app whose models need pydantic-core, a compiled wheel: it loads only on its own platform."""

import platform

import pydantic_core
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from stream_fn import asgi_handler

app = FastAPI()


class Item(BaseModel):
    name: str
    count: int


@app.post("/items")
async def create(item: Item) -> dict:
    return {"item": item.model_dump(), "machine": platform.machine(), "pydantic_core": pydantic_core.__file__}


@app.get("/numbers")
async def numbers(count: int = 3) -> StreamingResponse:
    async def lines():
        yield f"{platform.python_version()} {platform.machine()}\n"
        for n in range(count):
            yield f"{n}\n"

    return StreamingResponse(lines(), media_type="text/plain")


handler = asgi_handler(app)
