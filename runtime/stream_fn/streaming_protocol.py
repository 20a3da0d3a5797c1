"""The protocol between a response stream and the streamed request that carries it (for type checkers).

:class:`stream_fn.streams.ResponseStream` keeps the state of a response; the request itself, its
framing and its socket belong to :mod:`stream_fn.runtime_api` (``RuntimeApiClient`` and
``StreamedRequest`` implement these protocols; the state machine's tests use a recording peer).
Only type checkers import this module: at run time it would be one more file compiled at every
cold start, for nothing the runtime executes.
"""

from __future__ import annotations

from typing import Protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from _typeshed import ReadableBuffer


class StreamedRequestProtocol(Protocol):
    """One streamed ``POST /runtime/invocation/{id}/response``, as a response stream drives it.

    Every part is a flat, non-empty byte buffer (bytes, bytearray, a one-dimensional ``B``
    memoryview) that goes out as one chunk, not copied. A failed send raises
    ``runtime_api.ConnectionLostError`` (with the Runtime API's early reply, if any); a reply other
    than 202 to :meth:`finish` raises ``runtime_api.RuntimeApiError``, no reply
    ``runtime_api.RuntimeApiUnavailableError``. If no connection can be opened at the first send,
    ``RuntimeApiUnavailableError`` is raised and nothing was sent.
    """

    def send(self, parts: Sequence[ReadableBuffer]) -> None:
        """Send each part as one chunk, all at once (the request head goes with the first send)."""

    def send_chunk(self, data: ReadableBuffer, size: int) -> None:
        """Send ``data`` (``size`` bytes) as one chunk: the hot path of every write."""

    def finish(self, parts: Sequence[ReadableBuffer] = (), trailers: Sequence[tuple[str, str]] = ()) -> None:
        """Send ``parts``, then the last chunk with ``trailers``, and read the Runtime API's reply."""


class StreamedRequestFactory(Protocol):
    """Where a response stream gets its request once it starts (``RuntimeApiClient`` is one)."""

    def streamed_response(self, request_id: str, content_type: str) -> StreamedRequestProtocol:
        """A streamed ``POST /response`` for ``request_id``; nothing is sent before its first send."""
