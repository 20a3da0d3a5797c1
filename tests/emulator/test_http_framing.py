"""Response bytes: exact heads, chunk framing, and no way for a header to break the framing."""

from __future__ import annotations

import h11
import pytest

from cdk_stream_fn.emulator.http.framing import (
    CONTINUE,
    CRLF,
    LAST_CHUNK,
    UnsafeHeaderError,
    chunk_header,
    response_head,
    status_has_body,
)


def test_a_response_head_byte_for_byte() -> None:
    head = response_head(202, [("content-type", "application/json"), ("content-length", "16")])

    assert head == b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 16\r\n\r\n"


def test_an_unknown_status_has_an_empty_reason() -> None:
    assert response_head(599, []) == b"HTTP/1.1 599 \r\n\r\n"


@pytest.mark.parametrize(
    "header",
    [
        ("x-a", "one\r\nx-injected: yes"),
        ("x-a", "bare\nnewline"),
        ("x-a", "bare\rreturn"),
        ("x-a", "nul\0byte"),
        ("x-a\r\nx-injected", "yes"),
    ],
)
def test_cr_lf_or_nul_anywhere_in_a_header_is_refused(header: tuple[str, str]) -> None:
    with pytest.raises(UnsafeHeaderError):
        response_head(200, [("content-type", "text/plain"), header])


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (("x-a", "snow \u2603"), "header 'x-a' has '\u2603' (U+2603) at position 5, outside Latin-1"),
        (("x-a", "bell\x07"), "header 'x-a' contains the control character '\\x07'"),
        (("x-a", "del\x7f"), "header 'x-a' contains the control character '\\x7f'"),
        (("bad name", "v"), "header name 'bad name' is not a valid HTTP token"),
        (("", "v"), "header name '' is not a valid HTTP token"),
        (("caf\u00e9", "v"), "header name 'caf\u00e9' is not a valid HTTP token"),
    ],
)
def test_a_header_no_head_can_carry_is_refused_by_name(header: tuple[str, str], problem: str) -> None:
    with pytest.raises(UnsafeHeaderError) as raised:
        response_head(200, [("content-type", "text/plain"), header])

    assert str(raised.value).startswith(problem)


def test_latin_1_tabs_and_visible_text_are_sent_as_they_are() -> None:
    head = response_head(200, [("x-a", "caf\u00e9\tok ~!")])

    assert head == b"HTTP/1.1 200 OK\r\nx-a: caf\xe9\tok ~!\r\n\r\n"


@pytest.mark.parametrize(
    ("status", "has_body"),
    [(100, False), (103, False), (200, True), (204, False), (205, True), (304, False), (404, True)],
)
def test_which_statuses_have_a_body(status: int, has_body: bool) -> None:
    assert status_has_body(status) is has_body


def test_a_chunked_response_parses_back_with_an_independent_parser() -> None:
    body = [b"hello", b" ", b"world" * 1000]
    wire = response_head(200, [("transfer-encoding", "chunked")])
    wire += b"".join(chunk_header(len(part)) + part + CRLF for part in body) + LAST_CHUNK
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("host", "127.0.0.1")]))
    client.send(h11.EndOfMessage())
    client.receive_data(CONTINUE + wire)

    events = []
    while not isinstance(event := client.next_event(), h11.EndOfMessage):
        events.append(event)

    assert isinstance(events[0], h11.InformationalResponse) and events[0].status_code == 100
    assert isinstance(events[1], h11.Response) and events[1].status_code == 200
    assert b"".join(bytes(e.data) for e in events[2:] if isinstance(e, h11.Data)) == b"".join(body)
    assert all(isinstance(e, h11.Data) for e in events[2:])
