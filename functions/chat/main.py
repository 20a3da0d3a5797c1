"""A chat-like token stream: FastAPI, a pydantic request model, server-sent events.

    curl -N -X POST "$URL" -H 'content-type: application/json' \
         -d '{"messages": [{"role": "user", "content": "Hello there"}]}'
    curl -N "$URL?message=Hello+there"          (the same, from a query string)

The reply is made up, not generated, and always the same for the same request, so tests can assert on
it: it echoes the last user message and says how it is streamed, a word at a time, as `token` events
(`{"index": 0, "token": "You"}`), then a `done` event with the count. `tokens_per_second` paces it, the
way a language model's tokens arrive. Each event leaves the function as it is produced: FastAPI's
`StreamingResponse` runs in process on stream_fn's ASGI adapter, no web server, no proxy hop.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import FastAPI, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from stream_fn import ServerSentEvent, asgi_handler

MEDIA_TYPE = "text/event-stream"


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1, max_length=4000)


class ChatRequest(BaseModel):
    messages: list[Message] = Field(min_length=1, max_length=50)
    tokens_per_second: float = Field(default=8, gt=0, le=1000)


def reply_to(request: ChatRequest) -> list[str]:
    """The reply's tokens: words with the space before them, as a tokenizer splits text."""
    said = next((m.content for m in reversed(request.messages) if m.role == "user"), "nothing")
    text = f"You said: {said.strip()}. This reply streams from Python on AWS Lambda, one token at a time."
    return re.findall(r"\s*\S+", text)


async def token_events(request: ChatRequest) -> AsyncIterator[bytes]:
    tokens = reply_to(request)
    for index, token in enumerate(tokens):
        if index:
            await asyncio.sleep(1 / request.tokens_per_second)
        yield ServerSentEvent(json={"index": index, "token": token}, event="token", id=index).encoded
    yield ServerSentEvent(json={"tokens": len(tokens)}, event="done").encoded


def event_stream(request: ChatRequest) -> StreamingResponse:
    return StreamingResponse(
        token_events(request), media_type=MEDIA_TYPE, headers={"cache-control": "no-cache"}
    )


app = FastAPI(title="cdk-stream-fn chat example")


@app.post("/")
async def chat(request: ChatRequest) -> StreamingResponse:
    """The reply to a conversation, as server-sent events."""
    return event_stream(request)


@app.get("/")
async def chat_from_query(
    message: Annotated[str, Query(min_length=1, max_length=4000)] = "Hello",
    tokens_per_second: Annotated[float, Query(gt=0, le=1000)] = 8,
) -> StreamingResponse:
    """The same for one user message in the query string (`curl -N "$URL?message=Hi"`)."""
    request = ChatRequest(
        messages=[Message(role="user", content=message)], tokens_per_second=tokens_per_second
    )
    return event_stream(request)


handler = asgi_handler(app)
