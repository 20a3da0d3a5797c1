"""Compressed response streams against the fake Runtime API: every write still leaves at once, decodable.

In process (a ResponseStream with a coding offer, as the runtime makes one for ``compress=True``) and
through ``python -m stream_fn`` with ``@streamify_response(compress=True)`` handlers.
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import brotli
import pytest
from stream_fn import HttpResponseStream, ResponseStream
from stream_fn.content_encoding import CodingOffer
from stream_fn.runtime_api import RuntimeApiClient

from .conftest import StartRuntime
from .fake_runtime_api import FakeRuntimeApi, RecordedRequest

pytestmark = pytest.mark.timeout(60)

REQUEST_ID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
DELIMITER = b"\0" * 8


def compressed_stream(client: RuntimeApiClient, *codings: str, head: bool = False) -> ResponseStream:
    stream = ResponseStream(client, REQUEST_ID)
    stream._offer_codings(CodingOffer(codings, head))
    return stream


def result(fake_api: FakeRuntimeApi) -> RecordedRequest:
    return fake_api.wait_for_result(REQUEST_ID, timeout=5)


def prelude_of(request: RecordedRequest) -> dict[str, Any]:
    assert bytes(request.chunks[1]) == DELIMITER
    document: dict[str, Any] = json.loads(request.chunks[0])
    return document


def test_each_write_is_one_chunk_the_client_can_decode_at_once(
    fake_api: FakeRuntimeApi, client: RuntimeApiClient
) -> None:
    stream = compressed_stream(client, "gzip")
    HttpResponseStream.from_(stream, headers={"content-type": "application/x-ndjson", "content-length": "99"})
    writes = [b'{"n": %d}\n' % n for n in range(5)]
    for write in writes:
        stream.write(write)
    stream.end()

    request = result(fake_api)
    assert request.header("content-type") == "application/vnd.awslambda.http-integration-response"
    assert prelude_of(request)["headers"] == {
        "content-type": "application/x-ndjson",
        "vary": "Accept-Encoding",
        "content-encoding": "gzip",
    }
    body_chunks = [bytes(chunk) for chunk in request.chunks[2:]]
    assert len(body_chunks) == len(writes) + 1  # one per write, then the gzip trailer
    decoder = zlib.decompressobj(31)
    assert [decoder.decompress(chunk) for chunk in body_chunks[:-1]] == writes
    assert gzip.decompress(b"".join(body_chunks)) == b"".join(writes)


def test_the_first_write_goes_out_with_the_prelude_compressed(
    fake_api: FakeRuntimeApi, client: RuntimeApiClient
) -> None:
    stream = compressed_stream(client, "br", "gzip")
    HttpResponseStream.from_(stream, headers={"content-type": "text/html"})
    stream.write("<p>h\u00e9llo</p>")
    stream.end("<p>bye</p>")

    request = result(fake_api)
    assert prelude_of(request)["headers"]["content-encoding"] == "br"
    assert brotli.decompress(b"".join(request.chunks[2:])) == "<p>h\u00e9llo</p><p>bye</p>".encode()


def test_flush_sends_the_prelude_alone_and_an_empty_body_is_still_a_valid_stream(
    fake_api: FakeRuntimeApi, client: RuntimeApiClient
) -> None:
    stream = compressed_stream(client, "deflate")
    HttpResponseStream.from_(stream, status_code=200, headers={"content-type": "text/event-stream"})
    stream.flush()
    stream.end()

    request = result(fake_api)
    assert prelude_of(request)["headers"]["content-encoding"] == "deflate"
    assert zlib.decompress(b"".join(request.chunks[2:])) == b""


def test_head_and_already_compressed_media_are_sent_as_written(
    fake_api: FakeRuntimeApi, client: RuntimeApiClient
) -> None:
    stream = compressed_stream(client, "gzip")
    HttpResponseStream.from_(stream, headers={"content-type": "image/png"})
    stream.write(b"\x89PNG")
    stream.end()
    request = result(fake_api)
    assert prelude_of(request)["headers"] == {"content-type": "image/png"}
    assert b"".join(request.chunks[2:]) == b"\x89PNG"


def test_a_stream_without_an_http_prelude_is_never_compressed(
    fake_api: FakeRuntimeApi, client: RuntimeApiClient
) -> None:
    stream = compressed_stream(client, "gzip")
    stream.set_content_type("text/plain")
    stream.write(b"plain bytes for InvokeWithResponseStream")
    stream.end()
    request = result(fake_api)
    assert request.header("content-type") == "text/plain"
    assert request.body == b"plain bytes for InvokeWithResponseStream"


def url_event(steps: list[Any], accept_encoding: str | None = "gzip", method: str = "GET") -> dict[str, Any]:
    headers = {"host": "example.lambda-url.us-east-1.on.aws"}
    if accept_encoding is not None:
        headers["accept-encoding"] = accept_encoding
    return {
        "version": "2.0",
        "rawPath": "/",
        "headers": headers,
        "requestContext": {"http": {"method": method, "path": "/"}},
        "steps": steps,
    }


HTML = ["http", {"statusCode": 200, "headers": {"content-type": "text/html"}}]


def test_compress_true_negotiates_per_request(fake_api: FakeRuntimeApi, start_runtime: StartRuntime) -> None:
    start_runtime("steps.streamed_compressed")
    steps = [HTML, ["write", "<h1>one</h1>"], ["write", "<h1>two</h1>"]]

    gzipped = fake_api.invoke(url_event(steps, "gzip, deflate"))
    plain = fake_api.invoke(url_event(steps, None))
    refused = fake_api.invoke(url_event(steps, "gzip;q=0, identity"))
    head = fake_api.invoke(url_event(steps, "gzip", method="HEAD"))

    assert prelude_of(gzipped)["headers"]["content-encoding"] == "gzip"
    assert gzip.decompress(b"".join(gzipped.chunks[2:])) == b"<h1>one</h1><h1>two</h1>"
    for identity in (plain, refused):
        assert prelude_of(identity)["headers"] == {"content-type": "text/html", "vary": "Accept-Encoding"}
        assert b"".join(identity.chunks[2:]) == b"<h1>one</h1><h1>two</h1>"
    assert prelude_of(head)["headers"] == {"content-type": "text/html"}


def test_an_error_after_the_first_byte_leaves_the_compressed_body_truncated(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    start_runtime("steps.streamed_compressed")
    failed = fake_api.invoke(url_event([HTML, ["write", "<p>partial</p>"], ["raise", "ValueError", "late"]]))

    assert failed.trailer("lambda-runtime-function-error-type") == "Function.ValueError"
    decoder = zlib.decompressobj(31)
    assert decoder.decompress(b"".join(failed.chunks[2:])) == b"<p>partial</p>"
    assert not decoder.eof  # no gzip trailer: the client sees a truncated response, as without compression


def test_a_generator_with_the_decorators_prelude_is_compressed(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    start_runtime("steps.lines_compressed")
    event = url_event([], "zstd;q=0.1, gzip;q=0.9")
    event["lines"] = 3
    request = fake_api.invoke(event)

    assert prelude_of(request)["headers"] == {
        "content-type": "application/x-ndjson",
        "vary": "Accept-Encoding",
        "content-encoding": "gzip",
    }
    decoder = zlib.decompressobj(31)
    assert [decoder.decompress(bytes(chunk)) for chunk in request.chunks[2:-1]] == [
        b'{"line": 0}\n',
        b'{"line": 1}\n',
        b'{"line": 2}\n',
    ]
