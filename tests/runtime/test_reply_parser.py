"""The Runtime API reply parser without sockets: a table of byte sequences and what each becomes."""

from __future__ import annotations

import pytest
from stream_fn.reply_parser import ReplyParser
from stream_fn.runtime_api import RuntimeApiUnavailableError

OK = b'{"status":"OK"}'

WHOLE_REPLIES = [
    pytest.param(
        b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n" + OK,
        (202, OK, True),
        id="content-length",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\nX-T: 1\r\n\r\n",
        (200, b"hello!", True),
        id="chunked-with-extension-and-trailer",
    ),
    pytest.param(b"HTTP/1.1 204 No Content\r\n\r\n", (204, b"", True), id="no-content"),
    pytest.param(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
        (202, b"", True),
        id="interim-reply-skipped",
    ),
    pytest.param(
        b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
        (403, b"{}", False),
        id="connection-close",
    ),
    pytest.param(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", (200, b"x", False), id="http-1.0"),
]


@pytest.mark.parametrize(("data", "expected"), WHOLE_REPLIES)
def test_a_whole_reply_is_parsed(data: bytes, expected: tuple[int, bytes, bool]) -> None:
    parser = ReplyParser()
    parser.feed(data)
    reply = parser.next_reply()

    assert reply is not None
    assert (reply.status, reply.body, reply.keep_alive) == expected
    assert parser.idle


@pytest.mark.parametrize(("data", "expected"), WHOLE_REPLIES)
def test_a_reply_arriving_byte_by_byte_completes_only_at_its_last_byte(
    data: bytes, expected: tuple[int, bytes, bool]
) -> None:
    parser = ReplyParser()
    for index in range(len(data) - 1):
        parser.feed(data[index : index + 1])
        assert parser.next_reply() is None
    parser.feed(data[-1:])
    reply = parser.next_reply()

    assert reply is not None
    assert (reply.status, reply.body, reply.keep_alive) == expected


def test_headers_are_lower_cased_and_repeats_joined() -> None:
    parser = ReplyParser()
    parser.feed(
        b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: abc\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n"
    )
    reply = parser.next_reply()

    assert reply is not None
    assert reply.headers["lambda-runtime-aws-request-id"] == "abc"
    assert reply.headers["x-a"] == "1, 2"


def test_two_replies_in_one_read_come_out_one_after_the_other() -> None:
    parser = ReplyParser()
    parser.feed(
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"
    )

    first, second = parser.next_reply(), parser.next_reply()

    assert first is not None and second is not None
    assert (first.status, first.body, second.status, second.body) == (202, b"a", 200, b"b")
    assert parser.next_reply() is None


def test_a_body_framed_by_the_end_of_the_connection_completes_at_its_end() -> None:
    parser = ReplyParser()
    parser.feed(b"HTTP/1.1 200 OK\r\n\r\npartial ")
    parser.feed(b"body")
    assert parser.next_reply() is None
    parser.feed_eof()
    reply = parser.next_reply()

    assert reply is not None
    assert (reply.body, reply.keep_alive) == (b"partial body", False)


BROKEN = [
    pytest.param(b"", "closed the connection before replying", id="nothing"),
    pytest.param(b"HTTP/1.1 202 Acc", "in the middle of a reply head", id="cut-head"),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", "in the middle of a reply", id="cut-body"
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        "in the middle of a chunk",
        id="cut-chunk",
    ),
]


@pytest.mark.parametrize(("data", "message"), BROKEN)
def test_a_connection_that_ends_inside_a_reply_is_an_error(data: bytes, message: str) -> None:
    parser = ReplyParser()
    parser.feed(data)
    parser.feed_eof()

    with pytest.raises(RuntimeApiUnavailableError, match=message):
        parser.next_reply()


MALFORMED = [
    pytest.param(b"SMTP ready\r\n\r\n", "invalid status line", id="not-http"),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "invalid Content-Length", id="bad-length"
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size", id="bad-chunk"
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
        "not followed by CRLF",
        id="no-crlf",
    ),
    pytest.param(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000, "reply head that is too large", id="huge-head"),
]


@pytest.mark.parametrize(("data", "message"), MALFORMED)
def test_bytes_that_are_not_a_reply_are_an_error(data: bytes, message: str) -> None:
    parser = ReplyParser()
    parser.feed(data)

    with pytest.raises(RuntimeApiUnavailableError, match=message):
        parser.next_reply()
