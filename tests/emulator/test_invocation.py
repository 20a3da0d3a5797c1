"""One invocation between the Runtime API and a front end: ids, the head, and the bounded pipe."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from cdk_stream_fn.emulator.sandboxes.invocation import (
    FunctionError,
    Invocation,
    InvocationFailed,
    InvokeRequest,
    Milestone,
    new_request_id,
    new_trace_id,
)

pytestmark = pytest.mark.timeout(30)


def test_request_ids_are_distinct_version_4_uuids() -> None:
    ids = {new_request_id() for _ in range(1000)}

    assert len(ids) == 1000
    for request_id in list(ids)[:100]:
        parsed = uuid.UUID(request_id)
        assert str(parsed) == request_id
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)


def test_trace_ids_have_the_x_ray_shape() -> None:
    assert re.fullmatch(
        r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0;Lineage=1:[0-9a-f]{8}:0",
        new_trace_id(),
    )


T = TypeVar("T")


def run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(scenario())


def test_a_full_pipe_refuses_a_chunk_until_the_front_end_takes_one() -> None:
    async def scenario() -> list[object]:
        invocation = Invocation(InvokeRequest(payload=b"{}"), pipe_bytes=10)
        invocation.start_response("text/plain", streaming=True)
        steps: list[object] = [invocation.offer_chunk(b"a" * 6), invocation.offer_chunk(b"b" * 6)]
        steps.append(invocation.offer_chunk(b"c"))  # 12 bytes held: refused, nothing kept
        called = asyncio.Event()
        invocation.when_ready_for_more(called.set)
        await asyncio.sleep(0)
        steps.append(called.is_set())
        body = invocation.body()
        steps.append(await anext(body))
        await asyncio.wait_for(called.wait(), 1)
        steps.append(invocation.offer_chunk(b"c"))
        invocation.end_response()
        steps.append([chunk async for chunk in body])
        steps.append(invocation.bytes_received)
        return steps

    assert run(scenario) == [True, True, False, False, b"aaaaaa", True, [b"bbbbbb", b"c"], 13]


def test_a_waiting_writer_is_called_back_when_the_body_ends_or_is_abandoned() -> None:
    async def scenario() -> tuple[bool, bool]:
        outcomes = []
        for finish in (Invocation.end_response, Invocation.abandon):
            invocation = Invocation(InvokeRequest(payload=b"{}"), pipe_bytes=1)
            invocation.start_response("text/plain", streaming=True)
            invocation.offer_chunk(b"x")
            called = asyncio.Event()
            invocation.when_ready_for_more(called.set)
            finish(invocation)
            await asyncio.wait_for(called.wait(), 1)
            outcomes.append(called.is_set())
        return outcomes[0], outcomes[1]

    assert run(scenario) == (True, True)


def test_an_abandoned_invocation_drops_what_the_runtime_still_sends() -> None:
    async def scenario() -> tuple[bool, int]:
        invocation = Invocation(InvokeRequest(payload=b"{}"), pipe_bytes=1)
        invocation.start_response("text/plain", streaming=True)
        invocation.abandon()
        accepted = all(invocation.offer_chunk(b"x" * 100) for _ in range(10))
        invocation.end_response()
        return accepted, len([chunk async for chunk in invocation.body()])

    assert run(scenario) == (True, 0)


def test_head_waits_for_the_response_or_raises_the_failure_that_came_first() -> None:
    async def scenario() -> tuple[str, str]:
        started = Invocation(InvokeRequest(payload=b"{}"))
        waiting = asyncio.ensure_future(started.head())
        await asyncio.sleep(0)
        started.start_response("text/csv", streaming=True)
        head = await asyncio.wait_for(waiting, 1)

        failed = Invocation(InvokeRequest(payload=b"{}"))
        failed.fail(FunctionError.from_platform("Sandbox.Timedout", "too slow"))
        with pytest.raises(InvocationFailed) as raised:
            await failed.head()
        return head.content_type, raised.value.error.error_type

    assert run(scenario) == ("text/csv", "Sandbox.Timedout")


def test_cancelling_one_waiter_does_not_cancel_the_head_for_others() -> None:
    async def scenario() -> str:
        invocation = Invocation(InvokeRequest(payload=b"{}"))
        impatient = asyncio.ensure_future(invocation.head())
        patient = asyncio.ensure_future(invocation.head())
        await asyncio.sleep(0)
        impatient.cancel()
        await asyncio.sleep(0)
        invocation.start_response("application/json", streaming=False)
        return (await asyncio.wait_for(patient, 1)).content_type

    assert run(scenario) == "application/json"


def test_a_milestone_is_set_once_awaited_by_many_and_waitable_as_a_future() -> None:
    async def scenario() -> tuple[bool, bool, bool, bool]:
        milestone = Milestone()
        impatient = asyncio.ensure_future(milestone.wait())
        patient = asyncio.ensure_future(milestone.wait())
        await asyncio.sleep(0)
        impatient.cancel()
        await asyncio.sleep(0)
        before = milestone.is_set()
        milestone.set()
        milestone.set()
        done, _ = await asyncio.wait([milestone.future], timeout=1)
        return before, await asyncio.wait_for(patient, 1), milestone.future in done, milestone.is_set()

    assert run(scenario) == (False, True, True, True)
