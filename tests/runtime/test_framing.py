"""The sans-IO framing and its checks: exact bytes, round trips through h11 (an independent parser), and
what users may set (status codes, header names and values, cookies, content types)."""

from __future__ import annotations

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stream_fn import InvalidMetadataError, framing

pytestmark = pytest.mark.timeout(60)

TOKEN_ALPHABET = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
header_names = st.text(alphabet=TOKEN_ALPHABET, min_size=1, max_size=30).filter(
    lambda name: name.lower() not in ("transfer-encoding", "content-length", "trailer", "host")
)
header_values = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60).map(
    str.strip
)


def parse_request(data: bytes) -> tuple[h11.Request, list[bytes], list[tuple[bytes, bytes]]]:
    """Parse one request with h11 and return its head, its chunks (by boundary) and its trailers."""
    server = h11.Connection(h11.SERVER)
    server.receive_data(data)
    request = None
    chunks: list[bytes] = []
    while True:
        event = server.next_event()
        if isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            if event.chunk_start:
                chunks.append(b"")
            chunks[-1] += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None
            return request, chunks, list(event.headers)
        else:
            pytest.fail(f"incomplete request, h11 stopped at {event!r}")


def test_chunk_header_is_lower_case_hex_with_crlf() -> None:
    assert framing.chunk_header(1) == b"1\r\n"
    assert framing.chunk_header(255) == b"ff\r\n"
    assert framing.chunk_header(65536) == b"10000\r\n"


def test_a_zero_size_chunk_is_refused_because_it_would_end_the_body() -> None:
    with pytest.raises(ValueError, match="zero size ends the body"):
        framing.chunk_header(0)


def test_chunk_buffers_leave_the_data_itself_uncopied() -> None:
    data = memoryview(b"hello")
    buffers = framing.chunk(data, 5)
    assert buffers == [b"5\r\n", data, b"\r\n"] and buffers[1] is data
    assert framing.chunks([b"ab", bytearray(b"c")]) == (
        [b"2\r\n", b"ab", b"\r\n", b"1\r\n", b"c", b"\r\n"],
        13,
    )
    assert framing.chunks([]) == ([], 0)


def test_last_chunk_without_and_with_trailers() -> None:
    assert framing.last_chunk() == framing.LAST_CHUNK == b"0\r\n\r\n"
    assert framing.last_chunk([("Lambda-Runtime-Function-Error-Type", "Function.ValueError")]) == (
        b"0\r\nLambda-Runtime-Function-Error-Type: Function.ValueError\r\n\r\n"
    )


def test_the_trailer_section_size_counts_every_field_line_and_the_final_empty_line() -> None:
    trailers = [("A", "b"), ("Lambda-Runtime-Function-Error-Body", "x" * 100)]
    framed = framing.last_chunk(trailers)
    assert framed.startswith(b"0\r\n") and framed.endswith(b"\r\n\r\n")
    assert framing.trailer_section_size(trailers) == len(framed) - 3 == len("A: b\r\n") + 36 + 100 + 2 + 2
    assert framing.trailer_section_size([]) == 2
    assert framing.MAX_TRAILER_SECTION_BYTES == 4000  # under the 4,096 bytes RAPID can read


def test_request_head_exact_bytes() -> None:
    head = framing.request_head(
        "POST", "/2018-06-01/runtime/invocation/abc/response", [("Host", "x:1"), ("A", "b c")]
    )
    assert head == b"POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\nHost: x:1\r\nA: b c\r\n\r\n"


@pytest.mark.parametrize(
    "value", ["a\r\nInjected: yes", "a\nb", "a\rb", "nul\0", "caf\u00e9", " padded", "tab\t"]
)
def test_header_values_that_would_break_the_framing_are_refused(value: str) -> None:
    with pytest.raises(InvalidMetadataError, match="invalid value for header"):
        framing.check_request_field_value("X-Test", value)
    with pytest.raises(ValueError):
        framing.last_chunk([("X-Test", value)])


@pytest.mark.parametrize("name", ["", "with space", "colon:", "new\nline", "caf\u00e9"])
def test_invalid_header_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidMetadataError, match="invalid header name .*an RFC 9110 token"):
        framing.request_head("GET", "/", [(name, "v")])


@pytest.mark.parametrize("target", ["no-slash", "/with space", "/new\nline"])
def test_invalid_request_targets_are_refused(target: str) -> None:
    with pytest.raises(ValueError, match="invalid request target"):
        framing.request_head("GET", target, [])


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=1, max_size=3000), max_size=12),
    trailers=st.lists(st.tuples(header_names, header_values), max_size=4),
)
def test_any_chunks_and_trailers_round_trip_through_an_independent_parser(
    chunks: list[bytes], trailers: list[tuple[str, str]]
) -> None:
    head = framing.request_head(
        "POST", "/upload", [("Host", "h"), ("Transfer-Encoding", "chunked"), ("Trailer", "X-Anything")]
    )
    body = b"".join(framing.encode_chunk(chunk) for chunk in chunks)
    request, parsed_chunks, parsed_trailers = parse_request(head + body + framing.last_chunk(trailers))

    assert request.method == b"POST"
    assert parsed_chunks == chunks
    assert parsed_trailers == [(name.lower().encode(), value.encode()) for name, value in trailers]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_a_value_is_accepted_only_if_it_cannot_end_the_header_line(value: str) -> None:
    unsafe = any(char in value for char in "\r\n\0") or not value.isascii()
    try:
        framing.check_request_field_value("X", value)
    except ValueError:
        return
    assert not unsafe
    request, _, _ = parse_request(framing.request_head("GET", "/", [("Host", "h"), ("X", value)]))
    assert (b"x", value.encode()) in list(request.headers)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (99, "status_code must be an int from 200 to 599, got 99$"),
        (100, "got 100: 1xx statuses are interim responses, which a function URL cannot send"),
        (101, "got 101: 1xx statuses are interim"),
        (103, "for 103 Early Hints, send the Link headers with the final response"),
        (199, "got 199: 1xx"),
        (600, "from 200 to 599, got 600"),
        (True, "got True"),
        ("200", "got '200'"),
        (200.0, "got 200.0"),
    ],
)
def test_statuses_a_function_url_cannot_answer_with_are_refused(status: object, message: str) -> None:
    with pytest.raises(InvalidMetadataError, match=message):
        framing.check_status(status)


@pytest.mark.parametrize("status", [200, 204, 304, 418, 599])
def test_final_statuses_are_accepted(status: int) -> None:
    assert framing.check_status(status) == status


@pytest.mark.parametrize(
    "value", ["plain", "caf\u00e9", "\u00ff\u0080", "tab\tinside", " padded ", "", '"quoted"; q=0.5']
)
def test_header_values_in_the_field_value_range_are_accepted(value: str) -> None:
    assert framing.check_header_value("x-a", value) == value
    assert framing.check_cookie(f"a={value}") == f"a={value}"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a\r\nInjected: 1", r"must not contain CR, LF or NUL.*found '\\r' \(U\+000D\) at position 1"),
        ("a\nb", r"found '\\n'"),
        ("nul\0", r"found '\\x00'"),
        ("bell\x07", r"nor any other control character: found '\\x07'"),
        ("del\x7f", r"found '\\x7f'"),
        (
            "caf\u00e9 \u2713",
            r"has '\u2713' \(U\+2713\) at position 5 of 'caf\u00e9 \u2713', a character outside Latin-1",
        ),
        ("\U0001f600", r"outside Latin-1: HTTP field values are Latin-1"),
    ],
)
def test_header_values_outside_the_field_value_range_are_refused_with_what_to_do(
    value: str, message: str
) -> None:
    with pytest.raises(InvalidMetadataError, match=message) as raised:
        framing.check_header_value("x-note", value)
    assert "'x-note'" in str(raised.value)
    if ord(max(value)) > 0xFF:
        assert "Percent-encode the value" in str(raised.value) and "RFC 8187" in str(raised.value)
    with pytest.raises(InvalidMetadataError, match="a cookie"):
        framing.check_cookie(f"note={value}")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_a_response_header_value_is_accepted_exactly_when_http_can_carry_it(value: str) -> None:
    allowed = all(char == "\t" or 0x20 <= ord(char) <= 0x7E or 0x80 <= ord(char) <= 0xFF for char in value)
    try:
        framing.check_header_value("x", value)
    except InvalidMetadataError:
        assert not allowed
        return
    assert allowed
    # As a function URL sends it: Latin-1 bytes in a header line, which an HTTP parser reads back whole.
    line = b"GET / HTTP/1.1\r\nHost: h\r\nX: " + value.strip(" \t").encode("latin-1") + b"\r\n\r\n"
    request, _, _ = parse_request(line)
    assert (b"x", value.strip(" \t").encode("latin-1")) in list(request.headers)
