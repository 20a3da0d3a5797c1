"""AWS event-stream encoding (`application/vnd.amazon.eventstream`) for InvokeWithResponseStream.

A message is: total length (u32), headers length (u32), CRC32 of those 8 bytes, headers, payload,
CRC32 of everything before it; big-endian. Headers here are all strings (type 7: u8 name length,
name, type byte, u16 value length, value). botocore's `botocore.eventstream` is the decoder the tests
hold this to; the event and member names come from botocore's service model for lambda
(`InvokeWithResponseStreamResponseEvent`: `PayloadChunk{Payload}`, `InvokeComplete{ErrorCode,
ErrorDetails, LogResult}`).
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Sequence

_STRING = 7
#: The format's limit on one message; payload chunks are split below it.
MAX_PAYLOAD_BYTES = 16 * 1024 * 1024 - 1024


def encode_headers(headers: Sequence[tuple[str, str]]) -> bytes:
    """String headers in the event-stream encoding."""
    parts = []
    for name, value in headers:
        name_bytes = name.encode("utf-8")
        value_bytes = value.encode("utf-8")
        parts.append(struct.pack("!B", len(name_bytes)) + name_bytes)
        parts.append(struct.pack("!BH", _STRING, len(value_bytes)) + value_bytes)
    return b"".join(parts)


def encode_message(headers: Sequence[tuple[str, str]], payload: bytes) -> bytes:
    """One complete event-stream message."""
    return _frame(encode_headers(headers), payload)


def _frame(header_bytes: bytes, payload: bytes) -> bytes:
    """A message from headers already encoded: the length prelude, its CRC, and the message CRC."""
    total = 12 + len(header_bytes) + len(payload) + 4
    prelude = struct.pack("!II", total, len(header_bytes))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    crc = zlib.crc32(payload, zlib.crc32(header_bytes, zlib.crc32(prelude)))
    return b"".join((prelude, header_bytes, payload, struct.pack("!I", crc)))


def _event_headers(event_type: str, content_type: str) -> list[tuple[str, str]]:
    return [(":event-type", event_type), (":content-type", content_type), (":message-type", "event")]


_PAYLOAD_CHUNK_HEADERS = encode_headers(_event_headers("PayloadChunk", "application/octet-stream"))


def payload_chunk(data: bytes) -> bytes:
    """A `PayloadChunk` event carrying `data` (at most `MAX_PAYLOAD_BYTES`); its headers are encoded once."""
    return _frame(_PAYLOAD_CHUNK_HEADERS, data)


def invoke_complete(
    error_code: str | None = None, error_details: str | None = None, log_result: str | None = None
) -> bytes:
    """The final `InvokeComplete` event; members without a value are left out."""
    members = {"ErrorCode": error_code, "ErrorDetails": error_details, "LogResult": log_result}
    body = json.dumps({key: value for key, value in members.items() if value is not None}).encode()
    return encode_message(_event_headers("InvokeComplete", "application/json"), body)
