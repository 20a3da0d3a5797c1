"""One exchange's response framing, sans IO: the bytes for each kind of request, read back by h11."""

from __future__ import annotations

import h11
import pytest

from cdk_stream_fn.emulator.http.exchange import Exchange
from cdk_stream_fn.emulator.http.framing import UnsafeHeaderError
from cdk_stream_fn.emulator.http.parsing import Request


def request(method: str = "GET", version: str = "1.1", *, keep_alive: bool = True) -> Request:
    return Request(method, "/", version, [(b"host", b"x")], keep_alive=keep_alive and version == "1.1")


def read_back(method: str, wire: bytes) -> tuple[h11.Response, bytes, bool]:
    """The response h11's client reads from `wire` after sending `method`: head, body, whether it ended."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=method, target="/", headers=[("host", "127.0.0.1")]))
    client.send(h11.EndOfMessage())
    client.receive_data(wire)
    head = client.next_event()
    assert isinstance(head, h11.Response)
    body, ended = b"", False
    while (event := client.next_event()) is not h11.NEED_DATA:
        if isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            ended = True
            break
    return head, body, ended


def streamed(exchange: Exchange, status: int, pieces: list[bytes]) -> bytes:
    wire = b"".join(exchange.start_response(status, [("content-type", "text/plain")], pieces[0]))
    for piece in pieces[1:-1]:
        wire += b"".join(exchange.body(piece))
    return wire + b"".join(exchange.end_response(pieces[-1]))


@pytest.mark.parametrize(("method", "status"), [("GET", 200), ("POST", 201), ("HEAD", 200)])
def test_a_streamed_http_1_1_response_reads_back_whole(method: str, status: int) -> None:
    exchange = Exchange(request(method))
    wire = streamed(exchange, status, [b"hello", b" ", b"world"])

    head, received, ended = read_back(method, wire)

    assert head.status_code == status
    assert dict(head.headers)[b"transfer-encoding"] == b"chunked"
    assert (received, ended) == (b"" if method == "HEAD" else b"hello world", True)
    assert not exchange.close_after_response


def test_an_http_1_0_stream_is_delimited_by_the_close() -> None:
    exchange = Exchange(request(version="1.0"))
    wire = streamed(exchange, 200, [b"a", b"b"])

    head_bytes, _, body = wire.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head_bytes
    assert b"connection: close" in head_bytes
    assert body == b"ab"
    assert exchange.close_after_response


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_whole_response_has_a_content_length_and_head_leaves_the_body_out(method: str) -> None:
    exchange = Exchange(request(method))
    wire = b"".join(exchange.whole_response(200, b'{"ok":1}', content_type="application/json"))

    head, body, ended = read_back(method, wire)

    assert dict(head.headers)[b"content-length"] == b"8"
    assert (body, ended) == (b"" if method == "HEAD" else b'{"ok":1}', True)


def test_a_request_that_asks_to_close_gets_connection_close() -> None:
    exchange = Exchange(request(keep_alive=False))
    wire = b"".join(exchange.whole_response(202, b"", content_type="application/json"))

    assert b"connection: close\r\n" in wire
    assert exchange.close_after_response


def test_an_unread_body_closes_the_connection_after_the_response() -> None:
    exchange = Exchange(request("POST"), reading_body=True)
    exchange.whole_response(413, b"", content_type="text/plain")

    assert exchange.close_after_response


def test_input_that_is_not_a_request_is_answered_as_http_1_1_and_closes() -> None:
    exchange = Exchange()
    wire = b"".join(exchange.whole_response(400, b"bad", content_type="text/plain"))

    assert wire.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"connection: close\r\n" in wire


def test_a_second_response_to_one_request_is_refused() -> None:
    exchange = Exchange(request())
    exchange.whole_response(200, b"", content_type="text/plain")

    with pytest.raises(RuntimeError, match="already sent"):
        exchange.start_response(200, [])


@pytest.mark.parametrize(
    ("method", "version", "status"),
    [
        ("GET", "1.1", 204),
        ("GET", "1.1", 304),
        ("POST", "1.1", 204),
        ("HEAD", "1.1", 204),
        ("HEAD", "1.1", 304),
        ("GET", "1.0", 204),
    ],
)
def test_204_and_304_end_with_their_head_and_drop_any_body(method: str, version: str, status: int) -> None:
    exchange = Exchange(request(method, version))
    wire = streamed(exchange, status, [b"dropped", b" as well", b" and this"])

    assert wire.endswith(b"\r\n\r\n") and wire.count(b"\r\n\r\n") == 1, "the head and nothing after it"
    assert b"transfer-encoding" not in wire
    assert b"content-length" not in wire
    if version == "1.1":
        head, body, ended = read_back(method, wire + b"HTTP/1.1 200 OK\r\n")
        assert (head.status_code, body, ended) == (status, b"", True)
    assert exchange.close_after_response is (version == "1.0")


@pytest.mark.parametrize("status", [204, 304])
def test_a_whole_204_or_304_has_no_content_length(status: int) -> None:
    exchange = Exchange(request())
    wire = b"".join(exchange.whole_response(status, b"", content_type="application/json"))

    head, body, ended = read_back("GET", wire)
    assert (head.status_code, body, ended) == (status, b"", True)
    assert b"content-length" not in wire


def test_a_whole_204_with_a_body_is_a_mistake_of_the_caller() -> None:
    with pytest.raises(ValueError, match="a 204 response has no body, got 3 bytes"):
        Exchange(request()).whole_response(204, b"abc", content_type="text/plain")


@pytest.mark.parametrize("status", [100, 101, 103, 199])
def test_a_final_response_is_never_interim(status: int) -> None:
    exchange = Exchange(request())

    with pytest.raises(ValueError, match="status from 200"):
        exchange.start_response(status, [])
    assert not exchange.response_started


@pytest.mark.parametrize("send", ["whole", "streamed"])
def test_a_head_that_cannot_be_sent_leaves_the_exchange_free_to_answer_an_error(send: str) -> None:
    exchange = Exchange(request())
    headers = [("x-note", "caf\u00e9 \u2713")]

    with pytest.raises(UnsafeHeaderError, match="header 'x-note' has '\u2713'"):
        if send == "whole":
            exchange.whole_response(200, b"ok", content_type="text/plain", headers=headers)
        else:
            exchange.start_response(200, headers)

    assert not exchange.response_started
    wire = b"".join(exchange.whole_response(502, b"{}", content_type="application/json"))
    assert read_back("GET", wire)[0].status_code == 502
