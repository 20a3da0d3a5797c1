"""The incremental prelude decoder: any split of the stream, and every malformed prelude named."""

from __future__ import annotations

import json
import re

import pytest

from cdk_stream_fn.emulator.front_doors.prelude import Prelude, PreludeDecoder, PreludeError

PRELUDE = {
    "statusCode": 201,
    "headers": {"content-type": "text/plain", "x-a": "b"},
    "cookies": ["c=d", "e=f"],
}
STREAM = json.dumps(PRELUDE).encode() + b"\0" * 8 + b"body \0 bytes"


def decode(chunks: list[bytes]) -> tuple[Prelude, bytes]:
    decoder = PreludeDecoder()
    for index, data in enumerate(chunks):
        result = decoder.feed(data)
        if result is not None:
            prelude, rest = result
            return prelude, rest + b"".join(chunks[index + 1 :])
    decoder.finish()
    raise AssertionError("finish() must raise")


@pytest.mark.parametrize("split", range(1, len(STREAM)))
def test_the_prelude_decodes_whatever_the_split(split: int) -> None:
    prelude, body = decode([STREAM[:split], STREAM[split:]])

    assert prelude == Prelude(201, [("content-type", "text/plain"), ("x-a", "b")], ["c=d", "e=f"])
    assert body == b"body \0 bytes"


def test_byte_by_byte_delivery_decodes() -> None:
    prelude, body = decode([bytes([b]) for b in STREAM])

    assert prelude.status_code == 201
    assert body == b"body \0 bytes"


def test_a_body_that_starts_with_nul_bytes_keeps_them() -> None:
    _, body = decode([b'{"statusCode":200}' + b"\0" * 8 + b"\0\0\0data"])

    assert body == b"\0\0\0data"


def test_an_empty_prelude_means_200_without_headers() -> None:
    prelude, body = decode([b"{}" + b"\0" * 8])

    assert prelude == Prelude(200, [], [])
    assert body == b""


def test_multi_value_headers_become_repeated_headers() -> None:
    prelude, _ = decode([b'{"multiValueHeaders":{"x-m":["1","2"]}}' + b"\0" * 8])

    assert prelude.headers == [("x-m", "1"), ("x-m", "2")]


def test_no_delimiter_within_16_kib_is_an_error_not_a_buffer() -> None:
    decoder = PreludeDecoder()
    assert decoder.feed(b"{" + b" " * 16000) is None

    with pytest.raises(PreludeError, match="no 8-byte NUL delimiter within the first 16384 bytes"):
        decoder.feed(b" " * 1000)


def test_a_stream_that_ends_before_the_delimiter_is_an_error() -> None:
    with pytest.raises(PreludeError, match="without the 8-byte NUL delimiter"):
        decode([b'{"statusCode": 200}'])


@pytest.mark.parametrize(
    ("prelude", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'["a list"]', "must be a JSON object, got list"),
        (b'{"statusCode":"200"}', "statusCode must be an integer from 200 to 599, got '200'"),
        (
            b'{"statusCode":101}',
            "statusCode 101 is an interim (1xx) status, which a function URL cannot send",
        ),
        (b'{"statusCode":103}', "statusCode 103 is an interim (1xx) status"),
        (b'{"statusCode":600}', "got 600"),
        (b'{"statusCode":true}', "statusCode must be an integer"),
        (b'{"statusCode":99}', "got 99"),
        (b'{"headers":["x"]}', "headers must be an object of strings, got list"),
        (b'{"headers":{"content-length":5}}', "header 'content-length' must be a string, got int 5"),
        (b'{"headers":{"x-a":"a\\u0000b"}}', "header 'x-a' contains CR, LF or NUL"),
        (b'{"headers":{"x-a":"a\\r\\nx-evil: 1"}}', "header 'x-a' contains CR, LF or NUL"),
        (b'{"headers":{"bad name":"v"}}', "header name 'bad name' is not a valid HTTP token"),
        (b'{"cookies":"a=b"}', "cookies must be a list of strings"),
        (b'{"cookies":["a=\\u0000"]}', "contains CR, LF or NUL"),
        (
            '{"headers":{"x-note":"caf\u00e9 \u2713"}}'.encode(),
            "header 'x-note' has '\u2713' (U+2713) at position 5",
        ),
        (b'{"headers":{"x-a":"\\u0007"}}', "header 'x-a' contains the control character"),
        (
            b'{"cookies":["a=\\u2603"]}',
            "cookie 'a=\u2603' has '\u2603' (U+2603) at position 2, outside Latin-1",
        ),
        (b'{"multiValueHeaders":{"x":"one"}}', "multiValueHeaders['x'] must be a list of strings"),
        (b"{\x00}", "not valid JSON"),
    ],
)
def test_malformed_preludes_are_named(prelude: bytes, message: str) -> None:
    with pytest.raises(PreludeError, match=re.escape(message)):
        decode([prelude + b"\0" * 8 + b"body"])


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(PreludeError) as raised:
        decode([b'{"statusCode":"x","cookies":5,"headers":{"a":1}}' + b"\0" * 8])

    assert "statusCode" in str(raised.value)
    assert "cookies" in str(raised.value)
    assert "header 'a'" in str(raised.value)
