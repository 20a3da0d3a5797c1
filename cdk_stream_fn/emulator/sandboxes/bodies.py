"""What the Runtime API does with a request body, piece by piece, as a runtime sends it.

The connection that routed a request gives each body piece to the request's reader the moment it is
parsed, and calls `end` when the body is complete or `cut` when it never will be (malformed framing,
oversized trailers, the runtime closed the connection). A reader that cannot take more yet (the front
end is behind, or bandwidth shaping holds it back) returns False from `feed` and calls its exchange's
`resume` later. Readers know the connection only through the small `ResponseExchange` protocol.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from cdk_stream_fn.emulator import platform_errors
from cdk_stream_fn.emulator.platform_errors import FunctionError
from cdk_stream_fn.emulator.sandboxes.invocation import Invocation
from cdk_stream_fn.emulator.sandboxes.shaping import TokenBucket

log = logging.getLogger("cdk_stream_fn.emulator")

#: The error type of a failed invocation: a header of `/error` and `/init/error`, a trailer of a stream.
ERROR_TYPE_FIELD = b"lambda-runtime-function-error-type"
#: The error document (base64) that follows the error type in a failed stream's trailers.
ERROR_BODY_TRAILER = b"lambda-runtime-function-error-body"


class BodyReader(Protocol):
    def feed(self, data: bytes) -> bool:
        """Take one body piece; False when the connection must wait for `resume` before the next."""

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        """The body is complete: act on it and answer the runtime."""

    def cut(self) -> None:
        """The body will never be complete."""


class ResponseExchange(Protocol):
    """What a streamed response's reader needs from the request it serves."""

    @property
    def name(self) -> str:
        """The Runtime API's name, for the log."""

    def resume(self) -> None:
        """Go on reading the body after `feed` returned False."""

    def conclude(self, size: int) -> None:
        """The body ended after `size` bytes: settle the answer and reply to the runtime."""

    def truncated(self) -> None:
        """The body will never end: the invocation is cut short."""


class DiscardedBody:
    """A body read only so the runtime can finish sending it; then `answer` is sent."""

    def __init__(self, answer: Callable[[], None]) -> None:
        self._answer = answer

    def feed(self, data: bytes) -> bool:
        return True

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        self._answer()

    def cut(self) -> None:
        pass


class CollectedBody:
    """A whole body, kept up to `limit` bytes (a buffered response, an error document).

    `on_end` gets the body, or None if it passed the limit (the rest is counted and dropped), and its
    full size in bytes.
    """

    def __init__(
        self,
        limit: int,
        *,
        on_end: Callable[[bytes | None, int], None],
        on_cut: Callable[[], None] | None = None,
    ) -> None:
        self._limit = limit
        self._on_end = on_end
        self._on_cut = on_cut
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> bool:
        self._size += len(data)
        if self._size <= self._limit:
            self._parts.append(data)
        elif self._parts:
            self._parts.clear()
        return True

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        self._on_end(b"".join(self._parts) if self._size <= self._limit else None, self._size)

    def cut(self) -> None:
        if self._on_cut is not None:
            self._on_cut()


class StreamedResponse:
    """A streamed response, passed on to the invocation piece by piece as it arrives.

    Cut at `limit` bytes (Lambda's 200 MB), delayed by `bucket` when bandwidth is shaped, held back
    while the front end has not taken what it was given; errors in the trailers end the invocation.
    """

    def __init__(
        self,
        exchange: ResponseExchange,
        invocation: Invocation,
        *,
        limit: int,
        bucket: TokenBucket | None,
    ) -> None:
        self._exchange = exchange
        self._invocation = invocation
        self._limit = limit
        self._bucket = bucket
        self._total = 0
        self._held: bytes = b""

    def feed(self, data: bytes) -> bool:
        invocation = self._invocation
        total = self._total + len(data)
        self._total = total
        if invocation.ended:
            return True  # read and dropped (cut at the limit, abandoned...), so the runtime can finish
        if total > self._limit:
            self._cut_at_limit(data, total)
            return True
        if self._bucket is not None:
            delay = self._bucket.delay_for(len(data))
            if delay > 0:
                self._held = data
                asyncio.get_running_loop().call_later(delay, self._pass_on_held)
                return False
        return self._pass_on(data)

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        self._invocation.end_response(_trailer_error(trailers))
        self._exchange.conclude(self._total)

    def cut(self) -> None:
        self._exchange.truncated()

    def _pass_on(self, data: bytes) -> bool:
        """Offer `data` to the invocation; if the front end is behind, hold it until there is room."""
        if self._invocation.offer_chunk(data):
            return True
        self._held = data
        self._invocation.when_ready_for_more(self._pass_on_held)
        return False

    def _pass_on_held(self) -> None:
        data, self._held = self._held, b""
        if self._invocation.ended or self._pass_on(data):
            self._exchange.resume()

    def _cut_at_limit(self, data: bytes, total: int) -> None:
        invocation = self._invocation
        room = self._limit - (total - len(data))
        if room > 0:
            invocation.offer_chunk(data[:room])
        log.warning(
            "%s: request %s streamed more than %d bytes; the response is cut there",
            self._exchange.name,
            invocation.request_id,
            self._limit,
        )
        invocation.end_response(platform_errors.response_too_large(self._limit, total))


def _trailer_error(trailers: Iterable[tuple[bytes, bytes]]) -> FunctionError | None:
    fields = dict(trailers)
    error_type = fields.get(ERROR_TYPE_FIELD)
    if error_type is None:
        return None
    body = fields.get(ERROR_BODY_TRAILER)
    return FunctionError.from_trailers(
        error_type.decode("latin-1"), body.decode("latin-1") if body is not None else None
    )
