"""Event-stream messages, decoded by botocore's own event-stream parser."""

from __future__ import annotations

import json

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from cdk_stream_fn.emulator.front_doors.event_stream import encode_message, invoke_complete, payload_chunk


def decode_all(data: bytes) -> list:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_payload_chunks_decode_with_their_headers_and_bytes() -> None:
    messages = decode_all(payload_chunk(b"hello") + payload_chunk(bytes(range(256)) * 100))

    assert [m.headers for m in messages] == [
        {":event-type": "PayloadChunk", ":content-type": "application/octet-stream", ":message-type": "event"}
    ] * 2
    assert messages[0].payload == b"hello"
    assert messages[1].payload == bytes(range(256)) * 100


def test_an_empty_payload_chunk_is_a_valid_message() -> None:
    (message,) = decode_all(payload_chunk(b""))

    assert message.payload == b""


def test_invoke_complete_carries_only_the_members_it_has() -> None:
    ok, failed = decode_all(invoke_complete() + invoke_complete("Sandbox.Timedout", "Task timed out"))

    assert ok.headers[":event-type"] == "InvokeComplete"
    assert ok.headers[":content-type"] == "application/json"
    assert json.loads(ok.payload) == {}
    assert json.loads(failed.payload) == {"ErrorCode": "Sandbox.Timedout", "ErrorDetails": "Task timed out"}


def test_a_corrupted_message_fails_botocores_checksum() -> None:
    message = bytearray(encode_message([(":event-type", "PayloadChunk")], b"payload"))
    message[-6] ^= 0xFF

    with pytest.raises(ChecksumMismatch):
        decode_all(bytes(message))
