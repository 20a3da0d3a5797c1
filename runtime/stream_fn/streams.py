"""The response stream a streaming handler writes to, and the HTTP prelude for function URLs.

A :class:`ResponseStream` is one streamed ``POST /runtime/invocation/{id}/response``, seen from the
handler. It is a small state machine, and only that::

    open ──first write, flush() or end()──> started ──end()/close()──> ended
      │                                        │
      └── handler raised before any byte ──────┴── connection lost / error trailers ──> failed

The request head goes out lazily with the first bytes, so a handler that raises before writing
anything is reported through ``POST /invocation/{id}/error``: the platform's normal error path,
counted in the ``Errors`` metric, with the same errorType and stackTrace as the stock runtime
client. (Node.js instead sends ``/response`` with an empty body and error trailers.) Once bytes
were sent, an error travels as the trailers ``Lambda-Runtime-Function-Error-Type`` and
``Lambda-Runtime-Function-Error-Body``.

The request itself belongs to :mod:`stream_fn.runtime_api` (a ``StreamedRequest``: chunk framing,
sending, the reply) and the bytes and checks to :mod:`stream_fn.framing`. Each non-empty ``write``
is handed on as one part: one chunk and one ``sendmsg`` of ``[chunk header, data, CRLF]``, with no
buffering and no copy of the data.

Two things can be slipped between ``write`` and the request, both chosen by the runtime before the
handler runs and both left out entirely otherwise (the hot path of a plain stream is the request's
own ``send_chunk``): compression (:mod:`stream_fn.content_encoding` decides it when the HTTP prelude
is set; every write is then compressed and flushed, so it still leaves at once) and the
per-invocation figures of :mod:`stream_fn.stream_metrics` (a meter counting the body's bytes).
"""

from __future__ import annotations

import _thread  # the lock alone; threading would add its own imports to every cold start
import io

from stream_fn.errors import (
    ContentTypeTooLateError,
    InvalidMetadataError,
    PreludeAlreadySetError,
    StreamConnectionError,
    StreamEndedError,
)
from stream_fn.framing import (
    DEFAULT_CONTENT_TYPE,
    HTTP_INTEGRATION_CONTENT_TYPE,
    PRELUDE_DELIMITER,
    check_content_type,
    encode_prelude,
    prelude_from_mapping,
)
from stream_fn.runtime_api import ConnectionLostError, RuntimeApiError, RuntimeApiUnavailableError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: it would cost every cold start
    from collections.abc import Iterable, Mapping
    from typing import Any, NoReturn

    from _typeshed import ReadableBuffer

    from stream_fn.content_encoding import CodingOffer
    from stream_fn.encoders import Encoder
    from stream_fn.stream_metrics import StreamMeter
    from stream_fn.streaming_protocol import StreamedRequestFactory, StreamedRequestProtocol

_OPEN = 0
_STARTED = 1
_ENDED = 2
_FAILED = 3


class ResponseStream(io.RawIOBase):
    """A writable binary file object whose writes are streamed to the caller as they happen.

    ``write`` takes bytes, bytearray, memoryview (any bytes-like object) or str (sent as UTF-8)
    and sends it at once as one chunk. ``set_content_type`` works until the response has started.
    ``end()`` (or ``close()``) finishes the response; the runtime ends it itself when the handler
    returns. Because it is an ``io.RawIOBase``, ``shutil.copyfileobj``, ``csv.writer``,
    ``json.dump``, ``gzip.GzipFile(fileobj=...)``, ``io.TextIOWrapper`` and ``io.BufferedWriter``
    (to coalesce many tiny writes) work on it.

    Web adapters: :attr:`started` tells whether anything was sent yet; before that, the status,
    headers and cookies can still be set with :meth:`HttpResponseStream.from_` and an error can
    still become a proper error response.
    """

    def __init__(
        self, client: StreamedRequestFactory, request_id: str, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> None:
        super().__init__()
        self._client = client
        self._request_id = request_id
        self._content_type = content_type  # checked by @streamify_response, and again as it is framed
        self._prelude: bytes | None = None
        self._state = _OPEN
        self._finished_message = ""
        self._lock = _thread.allocate_lock()
        self._request: StreamedRequestProtocol | None = None
        self._send_chunk: Any = None  # the started request's send_chunk: the hot path of every write
        self._coding_offer: CodingOffer | None = None
        self._encoder: Encoder | None = None
        self._meter: StreamMeter | None = None

    # -- what handlers use --------------------------------------------------------------------

    @property
    def content_type(self) -> str:
        """The content type the response is sent with."""
        return self._content_type

    @property
    def started(self) -> bool:
        """True once the response (head, HTTP prelude, first bytes) has been sent to the Runtime API."""
        return self._state != _OPEN

    @property
    def closed(self) -> bool:
        """True once the response has ended (normally or with an error)."""
        return self._state >= _ENDED

    def set_content_type(self, content_type: str) -> None:
        """Set the response's content type; only before the first write, flush or end."""
        with self._lock:
            if self._state != _OPEN:
                self._raise_not_open("set the content type")
            if self._prelude is not None:
                raise PreludeAlreadySetError(
                    "the content type of an HTTP response stream is fixed to "
                    f"{HTTP_INTEGRATION_CONTENT_TYPE}: put the body's type in the prelude instead, e.g. "
                    "HttpResponseStream.from_(stream, headers={'content-type': 'text/html'})"
                )
            self._content_type = check_content_type(content_type)

    def write(self, data: ReadableBuffer | str) -> int:
        """Send ``data`` now as one chunk and return its length (characters for str, else bytes)."""
        kind = type(data)
        if kind is bytes or kind is bytearray:
            payload: Any = data
            size = result = len(data)  # type: ignore[arg-type]
        elif kind is str:
            payload = data.encode()  # type: ignore[union-attr]
            size = len(payload)
            result = len(data)  # type: ignore[arg-type]
        else:
            payload, size = _as_byte_view(data)
            result = size
        if not size:
            if self._state >= _ENDED:
                self._raise_not_open("write")
            return 0
        with self._lock:
            if self._state == _STARTED:
                try:
                    self._send_chunk(payload, size)
                except ConnectionLostError as error:
                    self._broken(error)
            else:
                self._start([payload])
        return result

    def flush(self) -> None:
        """Start the response if it has not started (sends the head and any HTTP prelude); writes are never buffered."""
        with self._lock:
            if self._state == _OPEN:
                self._start([])
            elif self._state >= _ENDED:
                self._raise_not_open("flush")

    def end(self, data: ReadableBuffer | str | None = None) -> None:
        """Write ``data`` if given, then finish the response. Ending an ended stream does nothing."""
        if data is not None:
            self.write(data)
        with self._lock:
            if self._state < _ENDED:
                self._end([])

    def close(self) -> None:
        """Finish the response, like :meth:`end`; safe to call more than once."""
        self.end()

    def writable(self) -> bool:
        return True

    def __del__(self) -> None:
        """Do nothing: io.IOBase would call close() here, and the garbage collector must never send a response."""

    def __repr__(self) -> str:
        state = ("open", "started", "ended", "failed")[self._state]
        return f"<ResponseStream request_id={self._request_id!r} content_type={self._content_type!r} {state}>"

    # -- what the runtime uses ------------------------------------------------------------------

    def _set_http_prelude(self, prelude: bytes) -> None:
        with self._lock:
            if self._prelude is not None:
                raise PreludeAlreadySetError(
                    "HttpResponseStream.from_() was already applied to this stream: call it once, with the "
                    "status code, headers and cookies together"
                )
            if self._state != _OPEN:
                self._raise_not_open("set the HTTP status, headers and cookies")
            if self._coding_offer is not None:
                from stream_fn.content_encoding import apply_to_prelude

                prelude, self._encoder = apply_to_prelude(prelude, self._coding_offer)
            self._content_type = HTTP_INTEGRATION_CONTENT_TYPE
            self._prelude = prelude

    def _offer_codings(self, offer: CodingOffer) -> None:
        """Compress the body if the HTTP prelude, once set, allows it for a request that made ``offer``."""
        self._coding_offer = offer

    def _measure(self, meter: StreamMeter) -> None:
        """Fill ``meter`` in with this response's figures (time to first byte, bytes, errors)."""
        self._meter = meter

    def _finish(self) -> None:
        """End the response after the handler returned (an empty body if nothing was written)."""
        with self._lock:
            if self._state < _ENDED:
                self._end([])
            self._finished_message = "the invocation it belonged to has finished"

    def _fail(self, trailers: list[tuple[str, str]]) -> bool:
        """Finish the response after the handler raised; True if nothing was sent and ``/error`` must be used."""
        with self._lock:
            self._finished_message = "the invocation it belonged to has finished"
            if self._state == _OPEN:
                self._state = _FAILED
                return True
            if self._state == _STARTED:
                self._end(trailers)
                self._state = _FAILED
            return False

    # -- internals --------------------------------------------------------------------------------

    def _opening_parts(self) -> list[Any]:
        """The body parts that open the response: the HTTP prelude and its delimiter, if any."""
        return [] if self._prelude is None else [self._prelude, PRELUDE_DELIMITER]

    def _start(self, parts: list[Any]) -> None:
        """Open the request and send the prelude (if any) and ``parts`` with its head; lock held."""
        if self._state != _OPEN:
            self._raise_not_open("write")
        request = self._client.streamed_response(self._request_id, self._content_type)
        send_chunk = request.send_chunk
        if self._encoder is not None or self._meter is not None:
            parts, send_chunk = self._add_stages(parts, send_chunk)
        if self._prelude is not None:
            parts = [self._prelude, PRELUDE_DELIMITER, *parts]
        try:
            request.send(parts)
        except ConnectionLostError as error:
            self._broken(error)
        # Any other failure (no connection could be opened) sent nothing: the stream stays open.
        self._request = request
        self._send_chunk = send_chunk
        self._state = _STARTED

    def _add_stages(self, parts: list[Any], send_chunk: Any) -> tuple[list[Any], Any]:
        """The first body ``parts`` and the hot path, with compression and the meter slipped in."""
        if self._meter is not None:
            self._meter.count_body(sum(len(part) for part in parts))
        if self._encoder is not None:
            encoded = b"".join(self._encoder.encode(part) for part in parts)
            parts = [encoded] if encoded else []
            send_chunk = self._encoder.sender(send_chunk)
        if self._meter is not None:
            send_chunk = self._meter.counting(send_chunk)
        return parts, send_chunk

    def _end(self, trailers: list[tuple[str, str]]) -> None:
        """Send the last chunk (with ``trailers``) and read the Runtime API's reply; lock held."""
        if self._state == _OPEN:
            request = self._client.streamed_response(self._request_id, self._content_type)
            parts = self._opening_parts()
        else:
            request = self._request  # type: ignore[assignment]
            parts = []
        if (
            self._encoder is not None and not trailers
        ):  # a failed body stays truncated, as it is without compression
            parts.append(self._encoder.finish())
        if self._meter is not None:
            self._end_meter(error=bool(trailers))
        self._request = request
        self._state = _ENDED
        try:
            request.finish(parts, trailers)
        except ConnectionLostError as error:
            self._broken(error)
        except (RuntimeApiError, RuntimeApiUnavailableError) as error:
            self._state = _FAILED
            raise StreamConnectionError(
                f"the Runtime API did not accept the streamed response: {error}"
            ) from error

    def _end_meter(self, error: bool) -> None:
        meter = self._meter
        assert meter is not None
        prelude = 0 if self._prelude is None else len(self._prelude) + len(PRELUDE_DELIMITER)
        encoder = self._encoder
        body = meter.body_bytes if encoder is None else encoder.output_bytes
        meter.end(prelude + body, None if encoder is None else encoder.coding, error)

    def _broken(self, error: ConnectionLostError) -> NoReturn:
        if self._meter is not None:
            self._end_meter(error=True)
        self._state = _FAILED
        raise StreamConnectionError(
            f"lost the connection to the Lambda Runtime API while streaming the response: {error}"
        ) from error

    def _raise_not_open(self, action: str) -> NoReturn:
        if self._state == _STARTED:
            raise ContentTypeTooLateError(
                f"cannot {action}, too late: the response has already started (the first write, flush or "
                "end sent it). Set the content type and the HTTP prelude before writing anything."
            )
        reason = self._finished_message or "it has already ended"
        raise StreamEndedError(
            f"cannot {action} on this response stream: {reason}. Write everything before calling end() or "
            "close(), or leave ending the stream to the runtime, which ends it when the handler returns."
        )


class HttpResponseStream:
    """Makes a response stream an HTTP response for function URLs and API Gateway streaming.

    The body becomes: a JSON prelude (``statusCode``, ``headers``, ``cookies``), 8 NUL bytes, then
    the bytes the handler writes, with the content type
    ``application/vnd.awslambda.http-integration-response`` (Node.js's ``awslambda.HttpResponseStream``).
    The prelude and the delimiter are always sent, even when the handler writes nothing.
    """

    @staticmethod
    def from_(
        response_stream: ResponseStream,
        prelude: Mapping[str, Any] | None = None,
        /,
        *,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Iterable[str] | None = None,
    ) -> ResponseStream:
        """Give ``response_stream`` an HTTP status, headers and cookies, and return it.

        Pass Node's prelude dict (``{"statusCode": 201, "headers": {...}, "cookies": [...]}``) or the
        keyword arguments ``status_code`` (default 200), ``headers`` and ``cookies``, not both.
        Must be called once, before the first write.
        """
        if not isinstance(response_stream, ResponseStream):
            raise TypeError(
                "HttpResponseStream.from_() needs the response_stream the runtime passed to the handler, "
                f"got {type(response_stream).__name__!r}"
            )
        if prelude is not None:
            if status_code is not None or headers is not None or cookies is not None:
                raise InvalidMetadataError(
                    "pass either a prelude dict or the keyword arguments status_code/headers/cookies, not both"
                )
            body = prelude_from_mapping(prelude)
        else:
            body = encode_prelude(status_code, headers, cookies)
        response_stream._set_http_prelude(body)
        return response_stream


def _as_byte_view(data: Any) -> tuple[Any, int]:
    """Return a flat byte view of a bytes-like object without copying it (a copy only if non-contiguous)."""
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(
            f"write() takes bytes, bytearray, memoryview or str, not {type(data).__name__!r}"
        ) from None
    if not view.c_contiguous:
        return view.tobytes(), view.nbytes
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view, view.nbytes
