"""Compression decided without I/O: Accept-Encoding negotiation, the prelude's headers, the encoders."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import brotli
import pytest
from stream_fn import content_encoding, encoders
from stream_fn.content_encoding import CodingOffer, accepted_codings, apply_to_prelude, offer_from_event

ALL = ("gzip", "deflate")  # what every interpreter can produce; zstd and br depend on modules present


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", ("gzip",)),
        ("GZIP", ("gzip",)),
        ("x-gzip", ("gzip",)),
        ("deflate, gzip", ("gzip", "deflate")),  # equal q: the runtime's order
        ("gzip;q=0.5, deflate", ("deflate", "gzip")),
        ("gzip; q=0.8, deflate;q=0.9, br;q=1.0", ("br", "deflate", "gzip")),
        ("gzip, deflate, br, zstd", ("zstd", "br", "gzip", "deflate")),
        ("*", ("zstd", "br", "gzip", "deflate")),
        ("gzip;q=0, *", ("zstd", "br", "deflate")),
        ("*;q=0", ()),
        ("identity", ()),
        ("", ()),
        ("compress, sdch", ()),
        ("gzip;q=abc, deflate", ("deflate",)),  # a malformed q-value refuses its coding
        ("gzip;q=2", ()),
        (" , gzip ,", ("gzip",)),
    ],
)
def test_accept_encoding_gives_the_supported_codings_best_first(
    header: str, expected: tuple[str, ...]
) -> None:
    assert accepted_codings(header) == expected


def url_event(headers: dict[str, str], method: str = "GET") -> dict[str, Any]:
    return {
        "version": "2.0",
        "rawPath": "/",
        "headers": headers,
        "requestContext": {"http": {"method": method, "path": "/"}},
    }


@pytest.mark.parametrize(
    ("event", "accepted", "head"),
    [
        (url_event({"accept-encoding": "gzip, br"}), ("br", "gzip"), False),
        (url_event({"accept-encoding": "gzip"}, "HEAD"), ("gzip",), True),
        (url_event({}), (), False),
        (url_event({}, "HEAD"), (), True),
        ({"httpMethod": "GET", "headers": {"Accept-Encoding": "deflate"}}, ("deflate",), False),
        (
            {"httpMethod": "GET", "multiValueHeaders": {"Accept-Encoding": ["deflate", "gzip"]}},
            ("gzip", "deflate"),
            False,
        ),
        ({"httpMethod": "HEAD", "headers": None, "multiValueHeaders": None}, (), True),
        ({"prompt": "an InvokeWithResponseStream payload has no headers"}, (), False),
        ("a string payload", (), False),
        (None, (), False),
    ],
)
def test_the_offer_comes_from_the_event(event: Any, accepted: tuple[str, ...], head: bool) -> None:
    offer = offer_from_event(event)
    assert (offer.accepted, offer.head) == (accepted, head)


def prelude(status: int = 200, headers: dict[str, str] | None = None, **extra: Any) -> bytes:
    document: dict[str, Any] = {"statusCode": status, "headers": headers or {}, **extra}
    return json.dumps(document, separators=(",", ":")).encode()


GZIP = CodingOffer(("gzip",))


@pytest.mark.parametrize(
    ("status", "headers", "offer", "coding", "expected_headers"),
    [
        (
            200,
            {"content-type": "application/x-ndjson"},
            GZIP,
            "gzip",
            {"content-type": "application/x-ndjson", "vary": "Accept-Encoding", "content-encoding": "gzip"},
        ),
        (200, {}, GZIP, "gzip", {"vary": "Accept-Encoding", "content-encoding": "gzip"}),
        (
            200,
            {"Content-Type": "text/html", "Content-Length": "12"},
            GZIP,
            "gzip",
            {"Content-Type": "text/html", "vary": "Accept-Encoding", "content-encoding": "gzip"},
        ),
        (
            200,
            {"content-type": "text/csv", "Vary": "Origin"},
            GZIP,
            "gzip",
            {"content-type": "text/csv", "Vary": "Origin, Accept-Encoding", "content-encoding": "gzip"},
        ),
        (
            200,
            {"vary": "accept-encoding"},
            GZIP,
            "gzip",
            {"vary": "accept-encoding", "content-encoding": "gzip"},
        ),
        (200, {"vary": "*"}, GZIP, "gzip", {"vary": "*", "content-encoding": "gzip"}),
        (
            200,
            {"etag": '"v1"'},
            GZIP,
            "gzip",
            {"etag": 'W/"v1"', "vary": "Accept-Encoding", "content-encoding": "gzip"},
        ),
        (
            200,
            {"etag": 'W/"v1"'},
            GZIP,
            "gzip",
            {"etag": 'W/"v1"', "vary": "Accept-Encoding", "content-encoding": "gzip"},
        ),
        (
            201,
            {"content-type": "image/svg+xml"},
            GZIP,
            "gzip",
            {"content-type": "image/svg+xml", "vary": "Accept-Encoding", "content-encoding": "gzip"},
        ),
        # the client accepts nothing the runtime produces: identity, but caches must still vary
        (
            200,
            {"content-type": "text/plain"},
            CodingOffer(()),
            None,
            {"content-type": "text/plain", "vary": "Accept-Encoding"},
        ),
        # left exactly as the handler set them
        (200, {"content-encoding": "gzip"}, GZIP, None, {"content-encoding": "gzip"}),
        (200, {"Content-Encoding": "identity"}, GZIP, None, {"Content-Encoding": "identity"}),
        (200, {"content-type": "image/png"}, GZIP, None, {"content-type": "image/png"}),
        (200, {"content-type": "video/mp4"}, GZIP, None, {"content-type": "video/mp4"}),
        (200, {"content-type": "audio/mpeg"}, GZIP, None, {"content-type": "audio/mpeg"}),
        (200, {"content-type": "application/zip"}, GZIP, None, {"content-type": "application/zip"}),
        (
            200,
            {"content-type": "application/gzip; name=x"},
            GZIP,
            None,
            {"content-type": "application/gzip; name=x"},
        ),
        (200, {"content-type": "application/zstd"}, GZIP, None, {"content-type": "application/zstd"}),
        (204, {}, GZIP, None, {}),
        (304, {"etag": '"v1"'}, GZIP, None, {"etag": '"v1"'}),
        (206, {"content-range": "bytes 0-9/100"}, GZIP, None, {"content-range": "bytes 0-9/100"}),
        (200, {"content-range": "bytes */100"}, GZIP, None, {"content-range": "bytes */100"}),
        (
            200,
            {"content-type": "text/plain"},
            CodingOffer(("gzip",), head=True),
            None,
            {"content-type": "text/plain"},
        ),
    ],
)
def test_the_prelude_says_how_the_body_is_encoded(
    status: int,
    headers: dict[str, str],
    offer: CodingOffer,
    coding: str | None,
    expected_headers: dict[str, str],
) -> None:
    original = prelude(status, headers, cookies=["a=b"])
    sent, encoder = apply_to_prelude(original, offer)

    assert (encoder.coding if encoder else None) == coding
    document = json.loads(sent)
    assert document["statusCode"] == status
    assert document["headers"] == expected_headers
    assert document["cookies"] == ["a=b"]
    assert b"\0" not in sent


def test_multi_value_headers_are_read_and_rewritten_too() -> None:
    original = prelude(
        200,
        multiValueHeaders={"Content-Length": ["5"], "Vary": ["Origin"], "ETag": ['"x"']},
    )
    sent, encoder = apply_to_prelude(original, GZIP)
    document = json.loads(sent)
    assert encoder is not None
    assert document["headers"] == {"content-encoding": "gzip"}
    assert document["multiValueHeaders"] == {"Vary": ["Origin", "Accept-Encoding"], "ETag": ['W/"x"']}

    images = prelude(200, multiValueHeaders={"Content-Type": ["image/jpeg"]})
    assert apply_to_prelude(images, GZIP) == (images, None)


@pytest.mark.parametrize(
    ("content_type", "compressible"),
    [
        (None, True),
        ("text/event-stream", True),
        ("application/json; charset=utf-8", True),
        ("application/octet-stream", True),
        ("IMAGE/PNG", False),
        ("image/svg+xml", True),
        ("font/woff2", False),
        ("application/pdf", False),
    ],
)
def test_which_media_types_are_worth_compressing(content_type: str | None, compressible: bool) -> None:
    assert content_encoding.is_compressible(content_type) is compressible


DECODERS = {
    "gzip": lambda: zlib.decompressobj(31),
    "deflate": lambda: zlib.decompressobj(15),
    "br": brotli.Decompressor,
}


def _decompress(decoder: Any, data: bytes) -> bytes:
    return decoder.decompress(data) if hasattr(decoder, "decompress") else decoder.process(data)


@pytest.mark.parametrize("coding", [c for c in encoders.available_codings() if c in DECODERS])
def test_every_write_is_decodable_as_soon_as_it_is_sent(coding: str) -> None:
    encoder = encoders.first_available_encoder([coding])
    assert encoder is not None and encoder.coding == coding
    decoder = DECODERS[coding]()
    writes = [b'{"n": %d, "text": "streamed line"}\n' % index for index in range(50)]
    for write in writes:
        piece = encoder.encode(memoryview(write))
        assert piece, "a flushed write always produces bytes"
        assert _decompress(decoder, piece) == write
    ending = encoder.finish()
    assert _decompress(decoder, ending) == b""


def test_gzip_output_is_one_valid_gzip_member() -> None:
    encoder = encoders.first_available_encoder(["gzip"])
    assert encoder is not None
    writes = [
        b"".join(b'{"line": %d, "level": "info"}\n' % (20 * w + i) for i in range(20)) for w in range(50)
    ]
    body = b"".join(encoder.encode(write) for write in writes) + encoder.finish()
    assert gzip.decompress(body) == b"".join(writes)
    assert len(body) * 4 < len(b"".join(writes))
    assert encoder.output_bytes == len(body)


def test_an_empty_body_is_still_a_complete_stream() -> None:
    for coding in ALL:
        encoder = encoders.first_available_encoder([coding])
        assert encoder is not None
        assert zlib.decompress(encoder.finish(), 31 if coding == "gzip" else 15) == b""


def test_codings_the_interpreter_cannot_produce_are_skipped() -> None:
    available = encoders.available_codings()
    assert set(ALL) <= set(available)
    assert "br" in available  # brotli is a dev dependency, so the runtime can use it here
    unknown_first = encoders.first_available_encoder(["compress", "gzip"])
    assert unknown_first is not None and unknown_first.coding == "gzip"
    assert encoders.first_available_encoder(["compress"]) is None


def test_zstd_is_offered_exactly_when_the_interpreter_has_compression_zstd() -> None:
    try:
        from compression import zstd  # type: ignore[import-not-found]
    except ImportError:
        assert "zstd" not in encoders.available_codings()
        return
    encoder = encoders.first_available_encoder(["zstd"])
    assert encoder is not None and encoder.coding == "zstd"
    decoder = zstd.ZstdDecompressor()
    for index in range(20):
        write = b"event %d\n" % index
        assert decoder.decompress(encoder.encode(write)) == write
    assert decoder.decompress(encoder.finish()) == b""
    assert decoder.eof
