"""A function with SnapStart runtime hooks (snapshot_restore_py), for stream_fn and awslambdaric alike.

Every hook appends to `EVENTS` (the process goes on after a local restore, so the handler can return
them). `SNAP_FAIL` picks a failure: `before` (a before-snapshot hook raises), `after` (an after-restore
hook raises), `slow_after` (an after-restore hook sleeps `SNAP_SLEEP` seconds).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from snapshot_restore_py import register_after_restore, register_before_snapshot
from stream_fn import streamify_response

EVENTS: list[str] = []
FAIL = os.environ.get("SNAP_FAIL", "")


@register_before_snapshot
def close_connections() -> None:
    EVENTS.append("before:close_connections")  # registered first, so it runs last


def _flush_cache(label: str, *, reason: str) -> None:
    EVENTS.append(f"before:{label}:{reason}")
    if FAIL == "before":
        raise ConnectionError("could not flush the cache before the snapshot")


register_before_snapshot(_flush_cache, "flush_cache", reason="snapshot")


@register_after_restore
def reconnect() -> None:
    EVENTS.append("after:reconnect")
    if FAIL == "slow_after":
        time.sleep(float(os.environ.get("SNAP_SLEEP", "3")))


def _reseed(label: str) -> None:
    EVENTS.append(f"after:{label}")
    if FAIL == "after":
        raise RuntimeError("could not reseed after the restore")


register_after_restore(_reseed, "reseed")


def handler(event: Any, context: Any) -> dict[str, Any]:
    return {
        "events": EVENTS,
        "initialization_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "pid": os.getpid(),
    }


@streamify_response(content_type="application/json")
def streamed(event: Any, response_stream: Any, context: Any) -> None:
    response_stream.write(json.dumps(handler(event, context)))
