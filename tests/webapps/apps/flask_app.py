"""A Flask app as users write one, and a plain WSGI callable for what Flask does not expose."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, request, stream_with_context
from stream_fn import wsgi_handler

app = Flask(__name__)


@app.route("/echo/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
def echo(rest: str) -> dict[str, Any]:
    environ = request.environ
    return {
        "method": request.method,
        "rest": rest,
        "path": request.path,
        "script_name": environ["SCRIPT_NAME"],
        "path_info": environ["PATH_INFO"],
        "query_string": environ["QUERY_STRING"],
        "args": list(request.args.items(multi=True)),
        "cookies": request.cookies,
        "remote_addr": request.remote_addr,
        "server": [environ["SERVER_NAME"], environ["SERVER_PORT"]],
        "scheme": environ["wsgi.url_scheme"],
        "url": request.url,
        "content_type": environ.get("CONTENT_TYPE"),
        "content_length": environ.get("CONTENT_LENGTH"),
        "http_headers": {key: value for key, value in environ.items() if key.startswith("HTTP_")},
        "body": base64.b64encode(request.get_data()).decode("ascii"),
        "request_id": environ["aws.context"].aws_request_id,
    }


@app.route("/stream")
def stream() -> Response:
    count = int(request.args.get("count", "3"))
    gap = float(request.args.get("gap", "0.5"))

    @stream_with_context
    def events() -> Iterator[str]:
        for index in range(count):
            if index:
                time.sleep(gap)
            yield f"data: {json.dumps({'index': index, 'path': request.path})}\n\n"

    return Response(events(), mimetype="text/event-stream")


@app.route("/jsonl")
def json_lines() -> Response:
    def lines() -> Iterator[str]:
        for index in range(int(request.args.get("count", "4"))):
            yield json.dumps({"index": index}) + "\n"

    return Response(stream_with_context(lines()), mimetype="application/x-ndjson")


@app.route("/cookies")
def cookies() -> Response:
    response = Response("cookies set", mimetype="text/plain", status=202)
    response.set_cookie("session", "abc123", httponly=True, secure=True)
    response.set_cookie("theme", "dark")
    response.headers.add("x-multi", "one")
    response.headers.add("x-multi", "two")
    return response


@app.route("/fail-mid")
def fail_mid() -> Response:
    def parts() -> Iterator[bytes]:
        yield b"first part\n"
        raise ValueError("broke after the first part")

    return Response(parts(), mimetype="text/plain")


handler = wsgi_handler(app)


class Body:
    """An iterable with close(), to show the server always closes it."""

    def __init__(self, path: str, parts: list[bytes], fail: bool) -> None:
        self.path, self.parts, self.fail = path, parts, fail

    def __iter__(self) -> Iterator[bytes]:
        yield from self.parts
        if self.fail:
            raise RuntimeError("the iterable failed")

    def close(self) -> None:
        print(f"close() called for {self.path}", flush=True)


def raw_app(environ: dict[str, Any], start_response: Any) -> Any:
    path = environ["PATH_INFO"]
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        write(b"directly, ")
        return Body(path, [b"then iterated"], fail=False)
    if path == "/iterable-fails":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body(path, [b"part one\n"], fail=True)
    if path == "/raise-before-start":
        raise KeyError("secret key name")
    if path == "/exc-info-before-body":
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("failed before the body")
        except ValueError:
            import sys

            start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"replaced by a 503"]
    if path == "/empty":
        start_response("204 No Content", [("X-Empty", "yes")])
        return Body(path, [], fail=False)
    if path == "/no-start-response":
        return []
    if path == "/early-hints":
        start_response("103 Early Hints", [("Link", "</a.css>; rel=preload")])
        return [b"after the hints"]
    if path == "/header-beyond-latin-1":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Note", "caf\u00e9 \u2713")])
        return [b"never sent"]
    if path == "/header-in-latin-1":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Note", "caf\u00e9")])
        return [b"sent"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


raw_handler = wsgi_handler(raw_app)

compressed_handler = wsgi_handler(app, compress=True)
