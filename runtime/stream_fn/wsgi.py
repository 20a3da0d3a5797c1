"""WSGI apps (Flask, Django, Bottle, ...) as streaming Lambda handlers: ``wsgi_handler(app)``.

::

    from flask import Flask
    from stream_fn import wsgi_handler

    app = Flask(__name__)
    handler = wsgi_handler(app)          # the Lambda handler: module.handler

The function URL (or API Gateway REST) event becomes a PEP 3333 environ: the request body in
``wsgi.input`` (a ``BytesIO``; the event holds all of it), ``wsgi.errors`` on stderr (the function's
log), ``SCRIPT_NAME`` from the API Gateway stage, ``HTTP_*`` for each header (repeats joined with
commas, cookies with ``"; "``; header names with ``_`` are dropped, so ``X_Forwarded_For`` cannot pose
as ``X-Forwarded-For``), and the Lambda event and context as ``environ["aws.event"]`` and
``environ["aws.context"]``.

``start_response`` becomes the HTTP prelude (every ``Set-Cookie`` moved into ``cookies``), sent with
the first non-empty body bytes; the ``write()`` callable and each item of the returned iterable are
written to the caller at once, so a generator (Flask's ``stream_with_context``, a ``Response`` built
from a generator) streams item by item. The iterable's ``close()`` is always called.

Errors: an exception before any byte was sent becomes a ``500 Internal Server Error`` (text/plain, no
details), logged with the request id; after that, the runtime ends the stream with Lambda's error
trailers. ``start_response(..., exc_info)`` follows PEP 3333: before the response started it replaces
the status and headers, after it re-raises the exception.
"""

from __future__ import annotations

import io
import logging
import sys

from stream_fn.decorator import streamify_response
from stream_fn.errors import InvalidMetadataError
from stream_fn.http_request import request_from_event, wsgi_path
from stream_fn.http_response import PendingResponse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from types import TracebackType
    from typing import Any

    from stream_fn.context import LambdaContext
    from stream_fn.http_request import HttpRequest
    from stream_fn.streams import ResponseStream

    ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
    StartResponse = Callable[..., Callable[[bytes], None]]
    App = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
    Handler = Callable[[Any, ResponseStream, LambdaContext], None]

log = logging.getLogger("stream_fn.wsgi")


def wsgi_handler(app: App, *, compress: bool = False) -> Handler:
    """Return a streaming Lambda handler that serves the WSGI ``app``.

    :param compress: compress responses as the request's ``Accept-Encoding`` allows, every item of
        the app's iterable flushed at once (``streamify_response``'s ``compress``). Default: False.
    """
    if not callable(app):
        raise TypeError(f"wsgi_handler needs a WSGI application (a callable), got {type(app).__name__!r}")

    def handler(event: Any, response_stream: ResponseStream, context: LambdaContext) -> None:
        request = request_from_event(event)
        response = WsgiResponse(response_stream)
        try:
            chunks = app(_environ(request, event, context), response.start_response)
            try:
                write = response.write
                for chunk in chunks:
                    if chunk:
                        write(chunk)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
        except Exception as error:
            if response_stream.started or response.prelude_applied:
                raise
            log.error("Exception in the WSGI app; answering 500 Internal Server Error", exc_info=error)
            response.send_error_response()
            return
        if response.status is None:
            log.error(
                "The WSGI app returned without calling start_response; answering 500 Internal Server Error"
            )
            response.send_error_response()
        elif not response.prelude_applied:
            response.apply_prelude()  # an empty body: the runtime sends the prelude when the handler returns

    streaming_handler: Handler = streamify_response(compress=compress)(handler)
    return streaming_handler


class WsgiResponse(PendingResponse):
    """``start_response`` and ``write`` for one request, writing to the response stream."""

    PROTOCOL = "WSGI"

    __slots__ = ()

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        """PEP 3333's start_response: keep the status and headers until the first body bytes."""
        if exc_info is not None:
            try:
                if self.prelude_applied:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise RuntimeError("the WSGI app called start_response a second time without exc_info")
        self.set_head(_status_code(status), headers)
        return self.write

    def write(self, data: bytes) -> None:
        """Send ``data`` to the caller now (PEP 3333's write callable, also used for each iterable item)."""
        if type(data) is not bytes and not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"a WSGI app must produce bytes, got {type(data).__name__!r}: encode text first")
        if not self.prelude_applied:
            if self.status is None:
                raise RuntimeError("the WSGI app produced body data before calling start_response")
            self.apply_prelude()
        self._stream.write(data)


def _environ(request: HttpRequest, event: Any, context: Any) -> dict[str, Any]:
    server_name, server_port = request.server or ("localhost", 443 if request.scheme == "https" else 80)
    query = request.query_string.decode("latin-1")
    script_name = request.root_path.encode("utf-8").decode("latin-1")
    raw_uri = script_name + request.raw_path.decode("latin-1") + ("?" + query if query else "")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": wsgi_path(request.raw_path),
        "QUERY_STRING": query,
        "SERVER_NAME": server_name,
        "SERVER_PORT": str(server_port),
        "SERVER_PROTOCOL": f"HTTP/{request.http_version}",
        "REQUEST_URI": raw_uri,
        "RAW_URI": raw_uri,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": request.scheme,
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "aws.event": event,
        "aws.context": context,
    }
    if request.client is not None:
        environ["REMOTE_ADDR"] = request.client[0]
    if request.body:
        environ["CONTENT_LENGTH"] = str(len(request.body))
    for raw_name, raw_value in request.headers:
        name = raw_name.decode("latin-1")
        value = raw_value.decode("latin-1")
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
            continue
        if name == "content-length" or "_" in name:
            continue
        key = "HTTP_" + name.upper().replace("-", "_")
        if key in environ:
            environ[key] += ("; " if key == "HTTP_COOKIE" else ",") + value
        else:
            environ[key] = value
    return environ


def _status_code(status: Any) -> int:
    """The code of a PEP 3333 status line (``"200 OK"``); its range is checked with the headers."""
    if (
        isinstance(status, str)
        and len(status) >= 3
        and status[:3].isdigit()
        and (len(status) == 3 or status[3] == " ")
    ):
        return int(status[:3])
    raise InvalidMetadataError(
        f"the WSGI app's status must be a str like '200 OK' (a code from 200 to 599, a space, a reason), got {status!r}"
    )
