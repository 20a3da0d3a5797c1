"""What the Runtime API does with a request body, piece by piece, as a runtime sends it.

A `RuntimeConnection` gives each body piece to the reader of its route the moment it is parsed, and
calls `end` when the body is complete or `cut` when it never will be (malformed framing, the runtime
closed the connection). A reader that cannot take more yet (the front end is behind, or bandwidth
shaping holds it back) returns False from `feed` and calls the connection's `resume` later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from cdk_stream_fn.emulator.http.connection import Request
from cdk_stream_fn.emulator.sandboxes.invocation import FunctionError, Invocation
from cdk_stream_fn.emulator.sandboxes.shaping import TokenBucket

if TYPE_CHECKING:
    from cdk_stream_fn.emulator.sandboxes.runtime_api import RuntimeConnection

log = logging.getLogger("cdk_stream_fn.emulator")

#: The error type of a failed invocation: a header of `/error` and `/init/error`, a trailer of a stream.
ERROR_TYPE_FIELD = b"lambda-runtime-function-error-type"
#: The error document (base64) that follows the error type in a failed stream's trailers.
ERROR_BODY_TRAILER = b"lambda-runtime-function-error-body"


def response_too_large(limit: int) -> FunctionError:
    """What the caller gets when the response passes `limit` (Lambda's `Function.ResponseSizeTooLarge`)."""
    return FunctionError.from_platform(
        "Function.ResponseSizeTooLarge",
        f"Response payload size exceeded maximum allowed payload size ({limit} bytes).",
    )


def truncated_response(request_id: str) -> FunctionError:
    """What the caller gets when the runtime's response never ends (bad framing, a closed connection)."""
    return FunctionError.from_platform(
        "Runtime.TruncatedResponse",
        f"RequestId: {request_id} Error: the runtime's response stream ended without its final chunk",
    )


class BodyReader(Protocol):
    def feed(self, data: bytes) -> bool:
        """Take one body piece; False when the connection must wait for `resume` before the next."""

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        """The body is complete: act on it and answer the runtime."""

    def cut(self) -> None:
        """The body will never be complete."""


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
    """A whole body of at most `limit` bytes (a buffered response, an error document).

    `on_end` gets the body, or None if it passed the limit (the rest is read and dropped); `on_too_large`
    runs as soon as that is known, from a Content-Length or from the bytes received.
    """

    def __init__(
        self,
        request: Request,
        limit: int,
        *,
        on_end: Callable[[bytes | None], None],
        on_too_large: Callable[[], None] | None = None,
        on_cut: Callable[[], None] | None = None,
    ) -> None:
        self._limit = limit
        self._on_end = on_end
        self._on_too_large = on_too_large
        self._on_cut = on_cut
        self._parts: list[bytes] = []
        self._size = 0
        self._too_large = False
        declared = request.content_length
        if declared is not None and declared > limit:
            self._overflow()

    def feed(self, data: bytes) -> bool:
        if not self._too_large:
            self._size += len(data)
            if self._size > self._limit:
                self._overflow()
            else:
                self._parts.append(data)
        return True

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        self._on_end(None if self._too_large else b"".join(self._parts))

    def cut(self) -> None:
        if self._on_cut is not None:
            self._on_cut()

    def _overflow(self) -> None:
        self._too_large = True
        self._parts.clear()
        if self._on_too_large is not None:
            self._on_too_large()


class StreamedResponse:
    """A streamed response, passed on to the invocation piece by piece as it arrives.

    Cut at `limit` bytes (Lambda's 200 MB), delayed by `bucket` when bandwidth is shaped, held back
    while the front end has not taken what it was given; errors in the trailers end the invocation.
    """

    def __init__(
        self,
        connection: RuntimeConnection,
        invocation: Invocation,
        *,
        limit: int,
        bucket: TokenBucket | None,
    ) -> None:
        self._connection = connection
        self._invocation = invocation
        self._limit = limit
        self._bucket = bucket
        self._total = 0
        self._over_limit = False
        self._held: bytes = b""

    def feed(self, data: bytes) -> bool:
        invocation = self._invocation
        if self._over_limit or invocation.ended:
            return True  # read and dropped, so the runtime can finish
        if self._total + len(data) > self._limit:
            self._cut_at_limit(data)
            return True
        self._total += len(data)
        if self._bucket is not None:
            delay = self._bucket.delay_for(len(data))
            if delay > 0:
                self._held = data
                asyncio.get_running_loop().call_later(delay, self._pass_on_held)
                return False
        return self._pass_on(data)

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        self._invocation.end_response(_trailer_error(trailers))
        if self._over_limit:
            self._connection.answer_too_large(self._limit)
        else:
            self._connection.answer_ok()
        self._invocation.finish()

    def cut(self) -> None:
        self._invocation.end_response(truncated_response(self._invocation.request_id))
        self._invocation.finish()

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
            self._connection.resume()

    def _cut_at_limit(self, data: bytes) -> None:
        invocation = self._invocation
        if self._limit > self._total:
            invocation.offer_chunk(data[: self._limit - self._total])
        self._total = self._limit
        self._over_limit = True
        log.warning(
            "%s: request %s streamed more than %d bytes; the response is cut there",
            self._connection.api.name,
            invocation.request_id,
            self._limit,
        )
        invocation.end_response(response_too_large(self._limit))


def _trailer_error(trailers: Iterable[tuple[bytes, bytes]]) -> FunctionError | None:
    fields = dict(trailers)
    error_type = fields.get(ERROR_TYPE_FIELD)
    if error_type is None:
        return None
    body = fields.get(ERROR_BODY_TRAILER)
    return FunctionError.from_trailers(
        error_type.decode("latin-1"), body.decode("latin-1") if body is not None else None
    )
