"""Compression of streamed HTTP responses, decided without any I/O: which coding, and the headers.

A function URL streams a response as it is written, and nothing between the function and the client
compresses it: API Gateway's streaming mode supports no content encoding ("If you want to compress
your integration response, do this in your integration", API Gateway Developer Guide, "Stream the
integration response for your proxy integrations"), CloudFront in front of the construct's URL
passes bytes through (``compress=False``; with ``CachingDisabled`` it forwards the viewer's
``Accept-Encoding`` "the same as any other HTTP header", CloudFront API Reference,
``ParametersInCacheKeyAndForwardedToOrigin``), and the Lambda Web Adapter turns its own compression
off when it streams ("Compression is not supported with response streaming ... compression is
automatically disabled", awslabs/aws-lambda-web-adapter, "Response Compression"). Past the first 6 MB Lambda streams at about 2 MB/s, so compressing in the
function multiplies what a client receives per second: text compresses 5 to 20 times.

Two steps, both plain functions of their inputs:

* :func:`offer_from_event` reads the request: the codings its ``Accept-Encoding`` accepts (RFC 9110
  section 12.5.3, q-values honoured), best first, and whether it is a ``HEAD``. Function URL events
  (payload 2.0) and API Gateway REST events (1.0) carry headers; a plain ``InvokeWithResponseStream``
  payload has none, so it is never compressed.
* :func:`apply_to_prelude` reads the response's HTTP prelude once it is set and decides: nothing for
  ``HEAD``, for statuses without a body (204, 304) or a partial one (206, ``Content-Range``), for a
  response that sets its own ``Content-Encoding``, or for media that is compressed already (images
  but SVG, audio, video, archives, fonts); otherwise ``Vary: Accept-Encoding`` is added and, when
  the client accepts a coding this interpreter can produce, ``Content-Encoding`` is set,
  ``Content-Length`` dropped and a strong ``ETag`` made weak (the bytes differ from the identity
  representation's). The encoder comes from :mod:`stream_fn.encoders`, imported only then.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from stream_fn.encoders import Encoder

#: The codings the runtime can produce, in the order it prefers them when a client accepts several
#: equally: zstd (python3.14's ``compression.zstd``), br (only if a brotli module is importable),
#: then gzip and deflate (zlib, always there).
SUPPORTED_CODINGS = ("zstd", "br", "gzip", "deflate")

#: Statuses whose responses have no content (RFC 9110 sections 15.3.5, 15.4.5) or only part of it.
_NO_CONTENT_STATUSES = frozenset({204, 205, 304})
_PARTIAL_CONTENT = 206

#: Media types whose bytes are compressed already; compressing them again costs CPU and saves nothing.
INCOMPRESSIBLE_MEDIA_TYPES = frozenset(
    {
        "application/gzip",
        "application/x-gzip",
        "application/zip",
        "application/x-zip-compressed",
        "application/zstd",
        "application/x-bzip2",
        "application/x-xz",
        "application/x-7z-compressed",
        "application/x-rar-compressed",
        "application/vnd.rar",
        "application/x-brotli",
        "application/x-lzip",
        "application/vnd.android.package-archive",
        "application/java-archive",
        "application/epub+zip",
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.apple.mpegurl",
        "font/woff",
        "font/woff2",
    }
)
#: Whole families of compressed media: every image format but SVG (text), audio and video.
INCOMPRESSIBLE_TOP_LEVEL_TYPES = ("image/", "audio/", "video/")
_COMPRESSIBLE_EXCEPTIONS = frozenset(
    {"image/svg+xml", "image/bmp", "image/x-icon", "image/vnd.microsoft.icon"}
)


class CodingOffer:
    """What one request allows: the codings it accepts, best first, and whether it is a ``HEAD``."""

    __slots__ = ("accepted", "head")

    def __init__(self, accepted: tuple[str, ...], head: bool = False) -> None:
        self.accepted = accepted
        self.head = head

    def __repr__(self) -> str:
        return f"CodingOffer(accepted={self.accepted!r}, head={self.head!r})"


NO_CODINGS = CodingOffer(())
"""The offer of a request without headers (``InvokeWithResponseStream``) or without ``Accept-Encoding``."""


def offer_from_event(event: Any) -> CodingOffer:
    """The codings the request in ``event`` accepts, from its ``Accept-Encoding``, and its method.

    Function URL events (``headers`` with lower-case names) and API Gateway REST events (``headers``
    as the client spelled them, or ``multiValueHeaders``) are read; anything else accepts nothing.
    """
    if type(event) is not dict:
        return NO_CODINGS
    accept = _header(event.get("headers"), event.get("multiValueHeaders"), "accept-encoding")
    context = event.get("requestContext")
    method = event.get("httpMethod")
    if method is None and type(context) is dict:
        http = context.get("http")
        method = http.get("method") if type(http) is dict else None
    head = type(method) is str and method.upper() == "HEAD"
    if accept is None:
        return CodingOffer((), head) if head else NO_CODINGS
    return CodingOffer(accepted_codings(accept), head)


def accepted_codings(accept_encoding: str) -> tuple[str, ...]:
    """The supported codings ``accept_encoding`` allows, best first (RFC 9110 section 12.5.3).

    Highest q-value first; among equal ones the runtime's order (:data:`SUPPORTED_CODINGS`). ``*``
    stands for every coding the header does not name; ``q=0`` refuses one. A malformed q-value makes
    its entry count as refused, never as preferred.
    """
    named: dict[str, float] = {}
    wildcard: float | None = None
    for item in accept_encoding.split(","):
        coding, _, parameters = item.partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        quality = _quality(parameters)
        if coding == "*":
            wildcard = quality
        elif coding == "x-gzip":  # RFC 9110 section 8.4.1.3: a synonym of gzip
            named["gzip"] = max(quality, named.get("gzip", 0.0))
        else:
            named[coding] = quality
    ranked = []
    for preference, coding in enumerate(SUPPORTED_CODINGS):
        accepted = named.get(coding, wildcard)
        if accepted is not None and accepted > 0:
            ranked.append((-accepted, preference, coding))
    ranked.sort()
    return tuple(coding for _, _, coding in ranked)


def _quality(parameters: str) -> float:
    """The q-value of one ``Accept-Encoding`` entry's parameters (1 when absent, 0 when malformed)."""
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0


def _header(headers: Any, multi_value_headers: Any, name: str) -> str | None:
    """One request header by its lower-case ``name``, from either header map of the event."""
    if type(headers) is dict:
        value = headers.get(name)
        if value is None:
            value = next((v for k, v in headers.items() if type(k) is str and k.lower() == name), None)
        if type(value) is str:
            return value
    if type(multi_value_headers) is dict:
        for key, values in multi_value_headers.items():
            if type(key) is str and key.lower() == name and type(values) is list:
                return ", ".join(value for value in values if type(value) is str)
    return None


def apply_to_prelude(prelude: bytes, offer: CodingOffer) -> tuple[bytes, Encoder | None]:
    """Decide how the response with this HTTP ``prelude`` is sent to a request that made ``offer``.

    Returns the prelude to send (with ``Vary``, ``Content-Encoding`` and without ``Content-Length``
    when it applies) and the encoder of the body, or None to send the body as written.
    """
    if offer.head:
        return prelude, None
    document = json.loads(prelude)
    status = document.get("statusCode", 200)
    if status in _NO_CONTENT_STATUSES or status == _PARTIAL_CONTENT:
        return prelude, None
    headers: dict[str, str] = document.get("headers") or {}
    multi: dict[str, list[str]] = document.get("multiValueHeaders") or {}
    if _find(headers, multi, "content-encoding") is not None or _find(headers, multi, "content-range"):
        return prelude, None
    if not is_compressible(_find(headers, multi, "content-type")):
        return prelude, None
    _add_vary(headers, multi)
    encoder = None
    if offer.accepted:
        from stream_fn.encoders import first_available_encoder

        encoder = first_available_encoder(offer.accepted)
    if encoder is not None:
        for name in [key for key in headers if key.lower() == "content-length"]:
            del headers[name]
        for name in [key for key in multi if key.lower() == "content-length"]:
            del multi[name]
        headers["content-encoding"] = encoder.coding
        _weaken_etag(headers, multi)
    document["headers"] = headers
    if multi:
        document["multiValueHeaders"] = multi
    return json.dumps(document, separators=(",", ":")).encode(), encoder


def is_compressible(content_type: str | None) -> bool:
    """Whether a body of ``content_type`` is worth compressing (True when there is none)."""
    if not content_type:
        return True
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type in INCOMPRESSIBLE_MEDIA_TYPES:
        return False
    if media_type.startswith(INCOMPRESSIBLE_TOP_LEVEL_TYPES):
        return media_type in _COMPRESSIBLE_EXCEPTIONS
    return True


def _find(headers: dict[str, str], multi: dict[str, list[str]], name: str) -> str | None:
    """The value of response header ``name`` (any case) in the prelude's headers, or None."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    for key, values in multi.items():
        if key.lower() == name:
            return ", ".join(values)
    return None


def _add_vary(headers: dict[str, str], multi: dict[str, list[str]]) -> None:
    """Make ``Vary`` name ``Accept-Encoding`` (caches must not hand a gzip body to another client)."""
    for key, value in headers.items():
        if key.lower() == "vary":
            tokens = {token.strip().lower() for token in value.split(",")}
            if "*" not in tokens and "accept-encoding" not in tokens:
                headers[key] = f"{value}, Accept-Encoding" if value.strip() else "Accept-Encoding"
            return
    for key, values in multi.items():
        if key.lower() == "vary":
            tokens = {token.strip().lower() for value in values for token in value.split(",")}
            if "*" not in tokens and "accept-encoding" not in tokens:
                values.append("Accept-Encoding")
            return
    headers["vary"] = "Accept-Encoding"


def _weaken_etag(headers: dict[str, str], multi: dict[str, list[str]]) -> None:
    """A strong ``ETag`` promises byte-identical representations; the encoded body is not (RFC 9110 8.8.3)."""
    for key, value in headers.items():
        if key.lower() == "etag" and value.startswith('"'):
            headers[key] = "W/" + value
    for key, values in multi.items():
        if key.lower() == "etag":
            multi[key] = ["W/" + value if value.startswith('"') else value for value in values]
