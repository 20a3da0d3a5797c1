"""Handlers for the Lambda Managed Instances tests, in every style stream_fn runs concurrently.

Each invocation of a batch writes its first event, then waits at a barrier (a directory where each
invocation of the batch leaves a file named after its request id) until the whole batch has started:
a batch that completes proves its invocations were in flight together, whatever the machine's speed.
Every event and every log record names the request id the handler was given, so a test can tell
whether anything crossed from one invocation to another. `event["fail"]` makes one fail ("before" its
first byte or "mid"-stream); `event["hang"]` makes one run past any timeout.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

from stream_fn import streamify_response
from stream_fn.invocation_scope import current_invocation

log = logging.getLogger("managed")
BARRIER_SECONDS = 20


def _arrive(event: dict[str, Any], request_id: str) -> None:
    if "barrier" in event:
        (Path(event["barrier"]) / request_id).touch()


def _everyone_arrived(event: dict[str, Any]) -> bool:
    return "barrier" not in event or len(os.listdir(event["barrier"])) >= event["parties"]


def _scope(context: Any) -> str:
    """What the invocation's scope says, checked against the context: the request and trace ids must agree."""
    scope = current_invocation()
    assert scope is not None and scope.request_id == context.aws_request_id, (scope, context.aws_request_id)
    return f"trace={scope.trace_id} env-trace={os.environ.get('_X_AMZN_TRACE_ID')}"


@streamify_response(content_type="text/event-stream")
async def async_events(event: dict[str, Any], context: Any) -> Any:
    request_id = context.aws_request_id
    log.info("started %s", request_id)
    if event.get("fail") == "before":
        raise ValueError(f"failed before any byte: {request_id}")
    yield f"data: {request_id} first {_scope(context)}\n\n"
    _arrive(event, request_id)
    deadline = time.monotonic() + BARRIER_SECONDS
    while not _everyone_arrived(event):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{request_id}: the batch never ran together")
        await asyncio.sleep(0.005)
    if event.get("hang"):
        await asyncio.sleep(3600)
    for index in range(event.get("tokens", 3)):
        await asyncio.sleep(0.001)
        log.info("token %d of %s", index, request_id)
        yield f"data: {request_id} {index} {_scope(context)}\n\n"
    if event.get("fail") == "mid":
        raise RuntimeError(f"failed mid-stream: {request_id}")


@streamify_response(content_type="text/event-stream")
def sync_events(event: dict[str, Any], context: Any) -> Any:
    request_id = context.aws_request_id
    log.info("started %s", request_id)
    if event.get("fail") == "before":
        raise ValueError(f"failed before any byte: {request_id}")
    yield f"data: {request_id} first {_scope(context)}\n\n"
    _arrive(event, request_id)
    deadline = time.monotonic() + BARRIER_SECONDS
    while not _everyone_arrived(event):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{request_id}: the batch never ran together")
        time.sleep(0.005)
    if event.get("hang"):
        time.sleep(event["hang"])
    for index in range(event.get("tokens", 3)):
        time.sleep(0.001)
        log.info("token %d of %s", index, request_id)
        yield f"data: {request_id} {index} {_scope(context)}\n\n"
    if event.get("fail") == "mid":
        raise RuntimeError(f"failed mid-stream: {request_id}")


async def async_buffered(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An async handler without streaming: its result is posted whole."""
    request_id = context.aws_request_id
    _arrive(event, request_id)
    while not _everyone_arrived(event):
        await asyncio.sleep(0.005)
    log.info("answering %s", request_id)
    return {"request_id": request_id, "scope": _scope(context)}


def stock_buffered(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """For the stock runtime client (which cannot stream): the same batch, answered whole."""
    request_id = context.aws_request_id
    _arrive(event, request_id)
    deadline = time.monotonic() + BARRIER_SECONDS
    while not _everyone_arrived(event):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{request_id}: the batch never ran together")
        time.sleep(0.005)
    log.info("answering %s", request_id)
    return {"request_id": request_id, "pid": os.getpid()}


@streamify_response
async def async_large(event: dict[str, Any], context: Any) -> Any:
    """`event["mib"]` MiB in 1 MiB parts: far more than the sockets between runtime and client hold."""
    part = bytes(1024 * 1024)
    for _ in range(event["mib"]):
        yield part
