"""Handlers driven by the event: a list of steps, so one runtime process can play many scenarios.

A step is a list: ["write", text], ["write_bytes", latin-1 text], ["content_type", value],
["http", prelude dict], ["flush"], ["end"], ["sleep", seconds], ["raise", class name, message],
["exit", code], ["log", level, message], ["log_exception", message] (logged with the traceback
of a ValueError), ["print", text].
"""

import asyncio
import builtins
import logging
import sys
import time

from stream_fn import HttpResponseStream, streamify_response

logger = logging.getLogger("steps")


def _run(steps, stream):
    for step in steps:
        action, *args = step
        if action == "write":
            stream.write(args[0])
        elif action == "write_bytes":
            stream.write(args[0].encode("latin-1"))
        elif action == "content_type":
            stream.set_content_type(args[0])
        elif action == "http":
            HttpResponseStream.from_(stream, args[0])
        elif action == "flush":
            stream.flush()
        elif action == "end":
            stream.end()
        elif action == "sleep":
            time.sleep(args[0])
        elif action == "raise":
            raise getattr(builtins, args[0])(args[1])
        elif action == "exit":
            sys.exit(args[0])
        elif action == "log":
            logger.log(logging.getLevelName(args[0]), args[1])
        elif action == "log_exception":
            try:
                raise ValueError("logged with its traceback")
            except ValueError:
                logger.exception(args[0])
        elif action == "print":
            print(args[0])
        else:
            raise AssertionError(f"unknown step {action!r}")


@streamify_response
def streamed(event, response_stream, context):
    _run(event["steps"], response_stream)


@streamify_response
async def streamed_async(event, response_stream, context):
    await asyncio.sleep(0)
    _run(event["steps"], response_stream)
    await asyncio.sleep(0)


def buffered(event, context):
    _run(event.get("steps", []), None)
    return event.get("return")


async def buffered_async(event, context):
    await asyncio.sleep(0)
    _run(event.get("steps", []), None)
    return {"return": event.get("return"), "loop": id(asyncio.get_running_loop())}


def returns_bytes(event, context):
    return b"\x00raw bytes\xff"


def returns_unserializable(event, context):
    return {"value": object()}


def returns_decimal(event, context):
    import decimal

    return {"price": decimal.Decimal("1.50"), "count": decimal.Decimal(3)}


@streamify_response(compress=True)
def streamed_compressed(event, response_stream, context):
    """``streamed`` with compression negotiated from the event's ``Accept-Encoding``."""
    _run(event["steps"], response_stream)


@streamify_response(compress=True)
async def streamed_async_compressed(event, response_stream, context):
    """``streamed_compressed`` as an ``async def``: on Managed Instances it runs on the event loop's slots."""
    _run(event["steps"], response_stream)


@streamify_response(compress=True, headers={"content-type": "application/x-ndjson"})
def lines_compressed(event, context):
    """A generator whose HTTP prelude comes from the decorator: one JSON line per yield."""
    for index in range(event.get("lines", 3)):
        if event.get("sleep"):
            time.sleep(event["sleep"])
        yield f'{{"line": {index}}}\n'
