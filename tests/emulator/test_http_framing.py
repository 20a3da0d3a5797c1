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


def test_text_that_is_not_latin_1_is_refused() -> None:
    with pytest.raises(UnicodeEncodeError):
        response_head(200, [("x-a", "snow \u2603")])


def test_a_chunked_response_parses_back_with_an_independent_parser() -> None:
    body = [b"hello", b" ", b"world" * 1000]
    wire = response_head(200, [("transfer-encoding", "chunked")])
    wire += b"".join(chunk_header(len(part)) + part + CRLF for part in body) + LAST_CHUNK
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(CONTINUE + wire)

    events = []
    while not isinstance(event := client.next_event(), h11.EndOfMessage):
        events.append(event)

    assert isinstance(events[0], h11.InformationalResponse) and events[0].status_code == 100
    assert isinstance(events[1], h11.Response) and events[1].status_code == 200
    assert b"".join(bytes(e.data) for e in events[2:] if isinstance(e, h11.Data)) == b"".join(body)
    assert all(isinstance(e, h11.Data) for e in events[2:])
