"""The content codings a streamed body can be compressed with, each flushed at every write.

Each write of the handler becomes one compressed piece that the client can decode at once (a zlib
``Z_SYNC_FLUSH``, a zstd ``FLUSH_BLOCK``, a brotli ``flush()``), so compression never holds bytes
back: time to first byte and the timing of every chunk stay what the handler makes them. The
price is a few bytes per write and a little ratio on very small writes.

* ``gzip`` and ``deflate`` (RFC 9110 section 8.4.1: the zlib format, RFC 1950) from :mod:`zlib`;
* ``zstd`` from ``compression.zstd`` where the interpreter has it (python3.14's standard library;
  RFC 8878, with the window within the 8 MB HTTP clients must accept, RFC 9659);
* ``br`` only if a ``brotli`` (or ``brotlicffi``) module happens to be importable: the runtime itself
  stays standard library only.

Nothing is imported before a compressed response needs it; an interpreter without a coding simply
never offers it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

#: zlib level 6 (its default): about 4x faster than level 9 for nearly the same ratio on text.
ZLIB_LEVEL = 6
#: zstd level 3 (its default): faster than zlib 6 and smaller; its window stays within RFC 9659's 8 MB.
ZSTD_LEVEL = 3
#: brotli quality 5: the usual choice for on-the-fly compression (11, the library's default, is for static files).
BROTLI_QUALITY = 5

_GZIP_WBITS = 31  # zlib's window bits for a gzip wrapper (16 + 15)
_ZLIB_WBITS = 15  # the zlib wrapper: HTTP's "deflate" coding


class Encoder:
    """One response body's compressor: :meth:`encode` each write, :meth:`finish` at the end.

    ``output_bytes`` counts what it produced, for the stream's metrics.
    """

    __slots__ = ("_encode", "_finish", "coding", "output_bytes")

    def __init__(self, coding: str, encode: Callable[[Any], bytes], finish: Callable[[], bytes]) -> None:
        self.coding = coding
        self._encode = encode
        self._finish = finish
        self.output_bytes = 0

    def encode(self, data: Any) -> bytes:
        """Compress ``data`` and flush, so that the client can decode everything written so far."""
        out = self._encode(data)
        self.output_bytes += len(out)
        return out

    def finish(self) -> bytes:
        """The bytes that end the compressed stream (a gzip trailer, the end of the zstd frame, ...)."""
        out = self._finish()
        self.output_bytes += len(out)
        return out

    def sender(self, send_chunk: Callable[[Any, int], None]) -> Callable[[Any, int], None]:
        """``send_chunk`` with every write compressed first (a write that yields no bytes sends nothing)."""
        encode = self.encode

        def send_encoded(data: Any, size: int) -> None:
            out = encode(data)
            if out:
                send_chunk(out, len(out))

        return send_encoded


def first_available_encoder(codings: Iterable[str]) -> Encoder | None:
    """A new encoder for the first of ``codings`` this interpreter can produce, or None."""
    for coding in codings:
        factory = _FACTORIES.get(coding)
        if factory is not None:
            encoder = factory()
            if encoder is not None:
                return encoder
    return None


def available_codings() -> tuple[str, ...]:
    """Every coding this interpreter can produce, in the runtime's order of preference."""
    return tuple(coding for coding, factory in _FACTORIES.items() if factory() is not None)


#: Modules looked for and not found: an import that failed is not cached by Python, and looking again
#: for every response would search sys.path each time.
_MISSING: set[str] = set()


def _zstd() -> Encoder | None:
    if "zstd" in _MISSING:
        return None
    try:
        from compression.zstd import ZstdCompressor  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        _MISSING.add("zstd")
        return None
    compressor = ZstdCompressor(level=ZSTD_LEVEL)
    compress = compressor.compress
    flush_block = ZstdCompressor.FLUSH_BLOCK
    return Encoder(
        "zstd",
        lambda data: compress(data, flush_block),
        lambda: compressor.flush(ZstdCompressor.FLUSH_FRAME),
    )


def _brotli() -> Encoder | None:
    if "br" in _MISSING:
        return None
    try:
        import brotli  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        try:
            import brotlicffi as brotli  # type: ignore[import-not-found, no-redef, unused-ignore]
        except ImportError:
            _MISSING.add("br")
            return None
    compressor = brotli.Compressor(quality=BROTLI_QUALITY)
    process, flush = compressor.process, compressor.flush
    return Encoder("br", lambda data: process(data) + flush(), compressor.finish)


def _zlib(coding: str, window_bits: int) -> Encoder:
    import zlib

    compressor = zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, window_bits)
    compress, flush, sync = compressor.compress, compressor.flush, zlib.Z_SYNC_FLUSH
    return Encoder(coding, lambda data: compress(data) + flush(sync), lambda: flush(zlib.Z_FINISH))


_FACTORIES: dict[str, Callable[[], Encoder | None]] = {
    "zstd": _zstd,
    "br": _brotli,
    "gzip": lambda: _zlib("gzip", _GZIP_WBITS),
    "deflate": lambda: _zlib("deflate", _ZLIB_WBITS),
}
