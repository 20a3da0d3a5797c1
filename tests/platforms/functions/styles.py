"""One handler per style the runtime supports, each reporting the platform it ran on.

Every streamed body starts with a `platform` line: the interpreter's version and machine, and the
wrapper's path as the runtime saw it, so a test can tell that the root (not the host) answered.
"""

import asyncio
import json
import logging
import os
import platform
import sys

from stream_fn import HttpResponseStream, streamify_response

logger = logging.getLogger("styles")


def where() -> str:
    """`3.14.8 aarch64 /var/task AWS_Lambda_python3.14`: what a test checks the platform by."""
    return " ".join(
        [
            platform.python_version(),
            platform.machine(),
            os.environ.get("LAMBDA_TASK_ROOT", "?"),
            os.environ.get("AWS_EXECUTION_ENV", "?"),
        ]
    )


@streamify_response
def node_style(event, response_stream, context):
    response_stream.set_content_type("text/plain")
    response_stream.write(where() + "\n")
    response_stream.write(b"bytes\n")
    response_stream.write(bytearray(b"bytearray\n"))
    response_stream.end()


@streamify_response
def http_prelude(event, response_stream, context):
    stream = HttpResponseStream.from_(
        response_stream,
        {
            "statusCode": 201,
            "headers": {"content-type": "application/json", "x-platform": where()},
            "cookies": ["a=1"],
        },
    )
    stream.write(json.dumps({"path": event.get("rawPath"), "executable": sys.executable}))


@streamify_response
def empty_body(event, response_stream, context):
    HttpResponseStream.from_(response_stream, status_code=204, headers={"x-empty": "yes"})
    response_stream.end()


@streamify_response(headers={"content-type": "text/event-stream", "cache-control": "no-cache"})
def generator(event, context):
    yield f"data: {where()}\n\n"
    for n in range(3):
        yield f"data: {n}\n\n"


@streamify_response
async def async_handler(event, response_stream, context):
    response_stream.set_content_type("text/plain")
    response_stream.write(where() + "\n")
    await asyncio.sleep(0.01)
    response_stream.write(f"loop {type(asyncio.get_running_loop()).__name__}\n")


@streamify_response(status_code=202, headers={"content-type": "text/plain"})
async def async_generator(event, context):
    yield where() + "\n"
    for n in range(3):
        await asyncio.sleep(0)
        yield f"{n}\n"


def buffered(event, context):
    return {"where": where(), "remaining_ms_positive": context.get_remaining_time_in_millis() > 0}


async def buffered_async(event, context):
    await asyncio.sleep(0)
    return {"where": where(), "async": True}


@streamify_response(content_type="text/plain")
def fails_before_first_byte(event, context):
    raise KeyError("nothing written yet")
    yield ""  # a generator: the error comes when the runtime asks for the first chunk


@streamify_response
def fails_after_first_byte(event, response_stream, context):
    response_stream.set_content_type("text/plain")
    response_stream.write("partial\n")
    raise ValueError("broke after the first chunk")


def logs(event, context):
    logger.info("info from %s", where())
    logger.debug("debug is below the level")
    print("printed line")
    return "logged"
