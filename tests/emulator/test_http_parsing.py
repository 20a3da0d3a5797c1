"""Request parsing: bytes in any split, events out in order, malformed input as a BadRequest in its place."""

from __future__ import annotations

import pytest

from cdk_stream_fn.emulator.http.parsing import BadRequest, EndOfMessage, Request, RequestEvent, RequestParser

CHUNKED_WITH_TRAILERS = (
    b"POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\n"
    b"Host: rt\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
    b"Trailer: Lambda-Runtime-Function-Error-Type\r\n\r\n"
    b"5\r\nhello\r\n6;ext=1\r\n world\r\n"
    b"0\r\nLambda-Runtime-Function-Error-Type: Function.ValueError\r\n\r\n"
)


def parse(*pieces: bytes, **options: int) -> tuple[list[RequestEvent], RequestParser]:
    parser = RequestParser(**options)
    events: list[RequestEvent] = []
    for piece in pieces:
        parser.feed(piece)
        while (event := parser.next_event()) is not None:
            events.append(event)
    return events, parser


def test_a_chunked_request_becomes_its_head_body_pieces_and_trailers() -> None:
    events, parser = parse(CHUNKED_WITH_TRAILERS)

    head, first, second, end = events
    assert isinstance(head, Request)
    assert (head.method, head.target, head.http_version, head.keep_alive) == (
        "POST",
        "/2018-06-01/runtime/invocation/abc/response",
        "1.1",
        True,
    )
    assert head.header(b"content-type") == "text/plain"
    assert head.headers[0] == (b"host", b"rt"), "names are lower-case, values as sent"
    assert (first, second) == (b"hello", b" world")
    assert end == EndOfMessage([(b"lambda-runtime-function-error-type", b"Function.ValueError")])
    assert parser.queued_bytes == 0
    assert not parser.closed


def test_bytes_split_anywhere_give_the_same_request() -> None:
    whole, _ = parse(CHUNKED_WITH_TRAILERS)
    split, _ = parse(*(CHUNKED_WITH_TRAILERS[i : i + 1] for i in range(len(CHUNKED_WITH_TRAILERS))))

    assert split[0] == whole[0]
    assert b"".join(e for e in split if isinstance(e, bytes)) == b"hello world"
    assert split[-1] == whole[-1]


def test_pipelined_requests_come_out_in_order_and_a_bodyless_request_ends_at_once() -> None:
    events, _ = parse(
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok"
        b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n"
    )

    shape = [e.target if isinstance(e, Request) else e for e in events]
    assert shape == ["/a", EndOfMessage([]), "/b", b"ok", EndOfMessage([]), "/c", EndOfMessage([])]


def test_queued_bytes_count_what_was_parsed_and_not_taken() -> None:
    parser = RequestParser()
    parser.feed(b"POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345")
    parser.feed(b"678")

    head_bytes = len(b"/x") + len(b"Content-Length") + len(b"10")
    assert parser.queued_bytes == head_bytes + 8
    assert isinstance(parser.next_event(), Request)
    assert parser.next_event() == b"12345"
    assert parser.queued_bytes == 3


def test_reading_head_is_true_from_a_heads_first_byte_to_its_end() -> None:
    parser = RequestParser()
    seen = []
    for piece in (b"\r\n", b"G", b"ET / HTTP/1.1\r\nHost: x\r\n", b"\r\n", b"POST /", b" HTTP/1.1\r\n\r\n"):
        parser.feed(piece)
        seen.append(parser.reading_head)

    assert seen == [False, True, True, False, True, False]


def test_requests_piling_up_count_as_queued_bytes_too() -> None:
    parser = RequestParser()
    parser.feed(b"GET /a HTTP/1.1\r\n\r\n" * 100)

    assert parser.queued_bytes == 200
    while parser.next_event() is not None:
        pass
    assert parser.queued_bytes == 0


def test_take_end_takes_only_an_end() -> None:
    parser = RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx")

    assert parser.take_end() is None, "a head is not an end"
    parser.next_event()
    assert parser.take_end() == EndOfMessage([])
    parser.next_event()
    assert parser.take_end() is None, "a body piece is not an end"


@pytest.mark.parametrize(
    ("raw", "keep_alive"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", False),
    ],
)
def test_keep_alive_only_for_http_1_1_without_close(raw: bytes, keep_alive: bool) -> None:
    events, _ = parse(raw)

    assert isinstance(events[0], Request)
    assert events[0].keep_alive is keep_alive


def test_malformed_input_is_a_bad_request_after_everything_before_it() -> None:
    events, parser = parse(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\nnot hex\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
    )

    assert [type(e).__name__ for e in events] == ["Request", "bytes", "BadRequest"]
    assert events[2].status == 400  # type: ignore[union-attr]
    assert parser.closed, "nothing after malformed input is parsed"


@pytest.mark.parametrize(
    "raw",
    [
        b"\x16\x03\x01 not http\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET /a b HTTP/1.1\r\n\r\n",
    ],
)
def test_garbage_smuggling_and_bad_targets_are_400(raw: bytes) -> None:
    events, _ = parse(raw)

    assert isinstance(events[-1], BadRequest)
    assert events[-1].status == 400


@pytest.mark.parametrize("raw", [b"GET /\r\n\r\n", b"GET / HTTP/2.0\r\n\r\n"])
def test_versions_other_than_1_0_and_1_1_are_505(raw: bytes) -> None:
    events, _ = parse(raw)

    assert isinstance(events[0], BadRequest)
    assert events[0].status == 505


def test_headers_over_the_limit_are_431() -> None:
    events, _ = parse(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 200 + b"\r\n\r\n", max_header_bytes=100)

    assert isinstance(events[0], BadRequest)
    assert events[0].status == 431


def test_trailers_count_against_the_header_limit_too() -> None:
    events, _ = parse(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Big: " + b"a" * 200 + b"\r\n\r\n",
        max_header_bytes=100,
    )

    assert [type(e).__name__ for e in events] == ["Request", "BadRequest"]


def trailers_of(size: int) -> bytes:
    """A chunked request whose trailer section is `size` bytes as framed: two fields, each with its CRLF,
    and the final CRLF."""
    first = b"Lambda-Runtime-Function-Error-Type: Function.ValueError\r\n"
    padding = size - len(first) - len(b"X-Pad: \r\n") - 2
    section = first + b"X-Pad: " + b"p" * padding + b"\r\n\r\n"
    assert len(section) == size
    return b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n" + section


@pytest.mark.parametrize(
    ("size", "accepted"),
    [(100, True), (4095, True), (4096, True), (4097, False), (4099, False), (8000, False)],
)
def test_a_trailer_section_is_limited_to_4_kib_as_framed(size: int, accepted: bool) -> None:
    """Go's net/http, and so RAPID, reads trailers only within its 4 KiB buffer (limits.MAX_TRAILER_BYTES)."""
    raw = trailers_of(size)
    for pieces in ([raw], [raw[i : i + 7] for i in range(0, len(raw), 7)]):
        events, parser = parse(*pieces)

        assert [type(e).__name__ for e in events] == (
            ["Request", "bytes", "EndOfMessage"] if accepted else ["Request", "bytes", "BadRequest"]
        )
        if not accepted:
            assert isinstance(events[-1], BadRequest)
            assert events[-1].status == 400
            assert "trailers over 4096 bytes" in str(events[-1])
            assert parser.closed


def test_the_trailer_limit_starts_again_with_each_request() -> None:
    raw = trailers_of(4000)
    events, _ = parse(raw + raw)

    assert [type(e).__name__ for e in events].count("EndOfMessage") == 2


def test_an_upgrade_request_is_served_and_nothing_after_it_is_parsed() -> None:
    events, parser = parse(
        b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\x81\x05hello"
    )

    assert [type(e).__name__ for e in events] == ["Request", "EndOfMessage"]
    assert parser.closed


def test_expect_100_continue_is_recognised() -> None:
    events, _ = parse(b"POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n")

    assert isinstance(events[0], Request)
    assert events[0].expects_continue
