"""ResponseStream and HttpResponseStream against the fake Runtime API, in process: bytes, types, misuse."""

from __future__ import annotations

import array
import csv
import gzip
import io
import json
import shutil
import socket
import threading

import pytest
from stream_fn import (
    ContentTypeTooLateError,
    HttpResponseStream,
    InvalidMetadataError,
    PreludeAlreadySetError,
    ResponseStream,
    ResponseStreamError,
    StreamConnectionError,
    StreamEndedError,
)
from stream_fn.runtime_api import RuntimeApiClient

from .fake_runtime_api import FakeRuntimeApi, RecordedRequest

pytestmark = pytest.mark.timeout(30)

REQUEST_ID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"


@pytest.fixture
def stream(client: RuntimeApiClient) -> ResponseStream:
    return ResponseStream(client, REQUEST_ID)


def streamed_head(address: str, content_type: str) -> bytes:
    return (
        f"POST /2018-06-01/runtime/invocation/{REQUEST_ID}/response HTTP/1.1\r\n"
        f"Host: {address}\r\n"
        "User-Agent: test-agent\r\n"
        f"Content-Type: {content_type}\r\n"
        "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"
        "\r\n"
    ).encode()


def result(fake_api: FakeRuntimeApi) -> RecordedRequest:
    return fake_api.wait_for_result(REQUEST_ID, timeout=5)


def test_each_write_is_one_chunk_with_the_exact_framing(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    stream.write(b"hello")
    stream.write(" w\u00f6rld")
    stream.write(bytearray(b"!!"))
    stream.write(memoryview(b"abcdef")[2:4])
    stream.end()

    expected = streamed_head(fake_api.address, "application/octet-stream") + (
        b"5\r\nhello\r\n" + b"7\r\n w\xc3\xb6rld\r\n" + b"2\r\n!!\r\n" + b"2\r\ncd\r\n" + b"0\r\n\r\n"
    )
    assert result(fake_api).chunks == [b"hello", " w\u00f6rld".encode(), b"!!", b"cd"]
    assert fake_api.raw_bytes() == expected


def test_http_prelude_and_delimiter_exact_bytes(fake_api: FakeRuntimeApi, stream: ResponseStream) -> None:
    returned = HttpResponseStream.from_(
        stream, {"statusCode": 201, "headers": {"x-a": "b"}, "cookies": ["c=d; Secure"]}
    )
    assert returned is stream
    stream.write(b"body")
    stream.end()

    prelude = b'{"statusCode":201,"headers":{"x-a":"b"},"cookies":["c=d; Secure"]}'
    expected = streamed_head(fake_api.address, "application/vnd.awslambda.http-integration-response") + (
        b"%x\r\n" % len(prelude)
        + prelude
        + b"\r\n"
        + b"8\r\n"
        + b"\0" * 8
        + b"\r\n"
        + b"4\r\nbody\r\n0\r\n\r\n"
    )
    assert fake_api.raw_bytes() == expected
    assert result(fake_api).body == prelude + b"\0" * 8 + b"body"


def test_the_prelude_is_sent_even_when_nothing_is_written(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    HttpResponseStream.from_(stream, status_code=204, headers={"x-empty": "yes"})
    stream.end()

    assert result(fake_api).chunks == [b'{"statusCode":204,"headers":{"x-empty":"yes"}}', b"\0" * 8]


def test_keyword_form_defaults_to_status_200_and_the_prelude_is_ascii_json(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    HttpResponseStream.from_(stream, headers={"x-cafe": "caf\u00e9", "x-count": 3})
    stream.end()

    prelude = result(fake_api).chunks[0]
    assert prelude.isascii() and b"\0" not in prelude  # the NUL delimiter cannot occur inside it
    assert json.loads(prelude) == {"statusCode": 200, "headers": {"x-cafe": "caf\u00e9", "x-count": "3"}}


def test_nothing_is_sent_before_the_first_write_and_zero_length_writes_are_skipped(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    assert stream.write(b"") == 0
    assert stream.write("") == 0
    assert stream.write(memoryview(b"")) == 0
    stream.set_content_type("text/plain")
    assert not stream.started
    assert fake_api.requests == []

    stream.write("x")
    assert stream.started
    stream.end()
    request = result(fake_api)
    assert request.header("content-type") == "text/plain"
    assert request.chunks == [b"x"]


def test_flush_starts_the_response_so_the_client_gets_the_status_early(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    HttpResponseStream.from_(stream, status_code=200)
    stream.flush()
    started = fake_api.wait_for(lambda request: len(request.chunks) == 2, timeout=5, what="the prelude")
    assert not started.complete
    stream.end()
    assert result(fake_api).chunks == [b'{"statusCode":200}', b"\0" * 8]


def test_write_returns_the_length_given(stream: ResponseStream) -> None:
    assert stream.write("h\u00e9") == 2
    assert stream.write(b"abc") == 3
    assert stream.write(array.array("i", [1, 2])) == 8


def test_bytes_like_objects_are_sent_as_their_bytes(fake_api: FakeRuntimeApi, stream: ResponseStream) -> None:
    numbers = array.array("H", [1, 2])
    grid = memoryview(bytes(range(12))).cast("B", (3, 4))
    strided = memoryview(b"abcdef")[::2]
    for data in (numbers, grid, strided):
        stream.write(data)
    stream.end()

    assert result(fake_api).chunks == [numbers.tobytes(), bytes(range(12)), b"ace"]


@pytest.mark.parametrize("value", [42, {"a": 1}, None, 1.5, ["x"]])
def test_other_types_raise_type_error_naming_the_type(stream: ResponseStream, value: object) -> None:
    with pytest.raises(TypeError, match=f"not '{type(value).__name__}'"):
        stream.write(value)  # type: ignore[arg-type]


def test_write_after_end_says_what_to_do_instead(stream: ResponseStream) -> None:
    stream.write("x")
    stream.end()
    stream.end()  # ending twice is harmless
    with pytest.raises(StreamEndedError, match="Write everything before calling end"):
        stream.write("late")
    with pytest.raises(ValueError):  # what file objects raise on a closed file
        stream.write(b"")
    with pytest.raises(StreamEndedError):
        stream.flush()


def test_content_type_too_late(stream: ResponseStream) -> None:
    stream.write("x")
    with pytest.raises(ContentTypeTooLateError, match="too late"):
        stream.set_content_type("text/plain")
    with pytest.raises(ContentTypeTooLateError, match="too late"):
        HttpResponseStream.from_(stream, status_code=200)


def test_a_second_from_is_refused(stream: ResponseStream) -> None:
    HttpResponseStream.from_(stream, status_code=200)
    with pytest.raises(PreludeAlreadySetError, match="call it once"):
        HttpResponseStream.from_(stream, status_code=404)
    with pytest.raises(PreludeAlreadySetError, match="put the body's type in the prelude"):
        stream.set_content_type("text/html")


@pytest.mark.parametrize(
    ("prelude", "message"),
    [
        ({"statusCode": "200"}, "status_code must be an int from 200 to 599"),
        ({"statusCode": 700}, "status_code must be an int from 200 to 599"),
        ({"statusCode": True}, "status_code must be an int"),
        (
            {"statusCode": 100},
            "got 100: 1xx statuses are interim responses, which a function URL cannot send",
        ),
        ({"statusCode": 101}, "got 101: 1xx statuses are interim"),
        ({"statusCode": 103}, "for 103 Early Hints, send the Link headers with the final response"),
        ({"status_code": 200}, "unknown HTTP prelude key"),
        ({"headers": {"a": ["b", "c"]}}, "must be a str"),
        ({"headers": [("a", "b")]}, "headers must be a dict"),
        ({"headers": {"bad name": "b"}}, "invalid header name 'bad name'"),
        ({"headers": {"x": "a\r\nInjected: 1"}}, "must not contain CR, LF or NUL"),
        (
            {"headers": {"x": "escape \x1b[31m"}},
            r"nor any other control character: found '\\x1b' \(U\+001B\)",
        ),
        ({"headers": {"x-note": "caf\u00e9 \u2713"}}, "'x-note' has '\u2713' \\(U\\+2713\\) at position 5"),
        ({"headers": {"x-note": "\u2713"}}, "outside Latin-1: .*Percent-encode the value .*RFC 8187"),
        (
            {"headers": {"caf\u00e9": "x"}},
            "invalid header name 'caf\u00e9': a header name is an RFC 9110 token",
        ),
        ({"multiValueHeaders": {"bad name": []}}, "invalid header name 'bad name'"),
        ({"multiValueHeaders": {"x": ["ok", "\u2713"]}}, "'x' has '\u2713'"),
        ({"cookies": ["a=b\nc=d"]}, "a cookie must not contain CR, LF or NUL"),
        ({"cookies": ["note=\u2713"]}, "a cookie has '\u2713' .*outside Latin-1"),
        ({"cookies": "a=b"}, "cookies must be a list"),
        ({"cookies": [1]}, "each cookie must be a Set-Cookie str"),
        ({"multiValueHeaders": {"a": "b"}}, "must be a list of str"),
    ],
)
def test_invalid_preludes_are_refused_with_the_reason(
    stream: ResponseStream, prelude: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidMetadataError, match=message):
        HttpResponseStream.from_(stream, prelude)


def test_prelude_dict_and_keywords_cannot_be_mixed(stream: ResponseStream) -> None:
    with pytest.raises(InvalidMetadataError, match="not both"):
        HttpResponseStream.from_(stream, {"statusCode": 200}, headers={"a": "b"})


def test_from_needs_a_response_stream() -> None:
    with pytest.raises(TypeError, match="needs the response_stream"):
        HttpResponseStream.from_(io.BytesIO(), status_code=200)  # type: ignore[arg-type]


@pytest.mark.parametrize("content_type", ["text/plain\r\nX-Injected: 1", "", " text/plain", 42])
def test_invalid_content_types_are_refused(stream: ResponseStream, content_type: object) -> None:
    with pytest.raises(InvalidMetadataError, match="invalid content type"):
        stream.set_content_type(content_type)  # type: ignore[arg-type]


def test_every_misuse_error_shares_one_base_class() -> None:
    for error in (
        StreamEndedError,
        ContentTypeTooLateError,
        PreludeAlreadySetError,
        InvalidMetadataError,
        StreamConnectionError,
    ):
        assert issubclass(error, ResponseStreamError)


def test_standard_library_writers_work_on_the_stream(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    shutil.copyfileobj(io.BytesIO(b"a" * 10), stream, 4)
    csv.writer(stream).writerow(["x", "y,z"])
    json.dump({"k": [1, 2]}, stream)
    stream.writelines([b"l1", "l2"])
    stream.end()

    request = result(fake_api)
    assert request.chunks[:3] == [b"aaaa", b"aaaa", b"aa"]
    assert request.body == b"a" * 10 + b'x,"y,z"\r\n{"k": [1, 2]}l1l2'


def test_gzip_text_and_buffered_wrappers(fake_api: FakeRuntimeApi, stream: ResponseStream) -> None:
    with gzip.GzipFile(fileobj=stream, mode="wb") as compressed:
        compressed.write(b"compressed " * 100)
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    text.write("caf\u00e9\n")
    text.flush()
    buffered = io.BufferedWriter(stream, buffer_size=1024)
    for _ in range(100):
        buffered.write(b"0123456789")
    buffered.flush()
    with stream:
        assert not stream.closed
    assert stream.closed

    request = result(fake_api)
    body = request.body
    cut = body.index("caf\u00e9\n".encode())
    assert gzip.decompress(body[:cut]) == b"compressed " * 100
    assert body[cut:] == "caf\u00e9\n".encode() + b"0123456789" * 100
    assert len(request.chunks) < 20  # the BufferedWriter coalesced 100 writes


def test_writes_from_many_threads_never_interleave_inside_a_chunk(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    def writer(letter: str) -> None:
        for _ in range(200):
            stream.write(letter * 1000)

    threads = [threading.Thread(target=writer, args=(letter,)) for letter in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stream.end()

    chunks = result(fake_api).chunks
    assert len(chunks) == 800
    assert all(chunk == chunk[:1] * 1000 for chunk in chunks)


def test_a_large_write_survives_partial_sends(
    fake_api: FakeRuntimeApi, client: RuntimeApiClient, stream: ResponseStream
) -> None:
    stream.write(b"head")
    sock = client._connection.sock  # type: ignore[union-attr]
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    sock.settimeout(10)  # a socket timeout makes sendmsg return after a partial send
    payload = bytes(range(256)) * 4096  # 1 MiB, many times the send buffer
    stream.write(payload)
    stream.write(memoryview(payload)[1:])
    stream.end()

    assert result(fake_api).chunks == [b"head", payload, payload[1:]]


def test_a_connection_reset_mid_stream_raises_stream_connection_error(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    fake_api.reset_after_chunks = 2
    stream.write(b"first")
    stream.write(b"second")
    assert fake_api.reset_done.wait(5)
    with pytest.raises(StreamConnectionError, match="lost the connection to the Lambda Runtime API"):
        for _ in range(100):
            stream.write(b"x" * 4096)
    assert stream.closed
    with pytest.raises(StreamEndedError):
        stream.write(b"more")


def test_a_rejected_response_is_reported_when_the_stream_ends(
    fake_api: FakeRuntimeApi, stream: ResponseStream
) -> None:
    fake_api.response_status = lambda request: (413, b'{"errorType":"Function.ResponseSizeTooLarge"}')
    stream.write(b"x")
    with pytest.raises(StreamConnectionError, match="HTTP 413.*ResponseSizeTooLarge"):
        stream.end()
    assert stream.closed


def test_repr_shows_the_state(stream: ResponseStream) -> None:
    assert "open" in repr(stream)
    stream.write("x")
    assert "started" in repr(stream)
    stream.end()
    assert "ended" in repr(stream)
