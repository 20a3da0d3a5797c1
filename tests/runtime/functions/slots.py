"""Handlers for the runtime's Managed Instances tests: what they saw of their invocation, as JSON."""

import asyncio
import logging
import os

from stream_fn.invocation_scope import current_invocation

log = logging.getLogger("slots")


def _seen(context):
    scope = current_invocation()
    log.info("serving %s", context.aws_request_id)
    return {
        "request_id": context.aws_request_id,
        "scope_request_id": scope.request_id if scope else None,
        "scope_trace_id": scope.trace_id if scope else None,
        "env_trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "pid": os.getpid(),
    }


async def async_handler(event, context):
    await asyncio.sleep(event.get("sleep", 0))
    return _seen(context)


def sync_handler(event, context):
    return _seen(context)


_last_request = __import__("contextvars").ContextVar("last_request")


async def context_var_handler(event, context):
    """What a ContextVar set by an earlier invocation on the same slot holds here (it must be unset)."""
    seen = _last_request.get(None)
    _last_request.set(context.aws_request_id)
    return {"seen": seen}
