"""``@streamify_response``: marks a handler as streaming, in either of two styles.

* ``def handler(event, response_stream, context)`` (or ``async def``): writes to the stream itself.
* ``def handler(event, context)`` as a generator (or async generator): each yielded chunk is
  written as soon as it is produced.

The decorator returns the handler unchanged, only marked, so it can still be called directly in
unit tests. Options set the content type (``content_type="text/event-stream"``), make the
response an HTTP response (``status_code``, ``headers``, ``cookies``) or compress it
(``compress=True``, see :mod:`stream_fn.content_encoding`); they are checked here, at import time,
so a mistake is an init error that names the option.
"""

from __future__ import annotations

import functools

from stream_fn.errors import InvalidMetadataError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time; these overloads are for type checkers only
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any, TypeVar, overload

    Handler = TypeVar("Handler", bound=Callable[..., Any])

    @overload  # type: ignore[no-overload-impl]
    def streamify_response(handler: Handler, /) -> Handler: ...
    @overload
    def streamify_response(
        handler: None = None,
        /,
        *,
        content_type: str | None = None,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Iterable[str] | None = None,
        compress: bool = False,
    ) -> Callable[[Handler], Handler]: ...


STREAMING_MARK = "__stream_fn_streaming__"

_CO_VARARGS = 0x04
_CO_GENERATOR = 0x20
_CO_COROUTINE = 0x80
_CO_ASYNC_GENERATOR = 0x200


class StreamingOptions:
    """How the runtime drives a streaming handler; stored on the handler by the decorator."""

    __slots__ = ("compress", "content_type", "generator", "http_prelude")

    def __init__(
        self, content_type: str | None, http_prelude: bytes | None, generator: bool, compress: bool = False
    ) -> None:
        self.content_type = content_type
        self.http_prelude = http_prelude
        self.generator = generator
        self.compress = compress


def streamify_response(  # type: ignore[no-redef]
    handler: Handler | None = None,
    /,
    *,
    content_type: str | None = None,
    status_code: int | None = None,
    headers: Mapping[str, str] | None = None,
    cookies: Iterable[str] | None = None,
    compress: bool = False,
) -> Any:
    """Mark ``handler`` as a streaming handler; use bare or with options.

    :param content_type: the response's content type. Default: ``application/octet-stream``.
    :param status_code: makes the response an HTTP response (function URLs) with this status.
        Default: 200 when ``headers`` or ``cookies`` is given, else not an HTTP response.
    :param headers: HTTP response headers (str to str). Default: none.
    :param cookies: ``Set-Cookie`` strings. Default: none.
    :param compress: compress HTTP responses with the best coding the request's ``Accept-Encoding``
        allows (zstd where the interpreter has it, br if a brotli module is importable, gzip,
        deflate), flushing every write so nothing is held back. Responses that set their own
        ``Content-Encoding``, compressed media (images, audio, video, archives), statuses without a
        body and ``HEAD`` requests are sent as written; a non-HTTP stream (no prelude) is never
        compressed. Costs CPU: about 17 ms per MB of content with gzip (level 6) on the
        benchmark machine, against 0.4 ms/MB uncompressed (``./dev bench --only compression``).
        Default: False.
    """
    if type(compress) is not bool:
        raise TypeError(f"streamify_response: compress must be True or False, got {compress!r}")
    http = status_code is not None or headers is not None or cookies is not None
    if http and content_type is not None:
        raise InvalidMetadataError(
            "streamify_response: content_type cannot be combined with status_code/headers/cookies; for an "
            "HTTP response put the type in headers, e.g. headers={'content-type': 'text/event-stream'}"
        )
    checked_type = prelude = None
    if content_type is not None or http:
        # Checked by the response stream's own rules (stream_fn.framing, which the runtime loads at
        # start-up anyway): the stream module itself is loaded only for a streaming handler.
        from stream_fn.framing import check_content_type, encode_prelude

        checked_type = check_content_type(content_type) if content_type is not None else None
        prelude = encode_prelude(status_code, headers, cookies) if http else None

    def mark(function: Handler) -> Handler:
        if not callable(function):
            raise TypeError(f"streamify_response needs a function, got {type(function).__name__!r}")
        generator = _is_generator_function(function)
        _check_parameters(function, 2 if generator else 3)
        options = StreamingOptions(checked_type, prelude, generator, compress)
        try:
            setattr(function, STREAMING_MARK, options)
        except AttributeError:  # e.g. a bound method: mark a thin wrapper instead
            original = function

            def marked(*args: Any) -> Any:
                return original(*args)

            # Seen through by is_async_function, so an async method's event loop is made at init too.
            marked.__wrapped__ = original  # type: ignore[attr-defined]
            setattr(marked, STREAMING_MARK, options)
            return marked  # type: ignore[return-value]
        return function

    if handler is not None:
        return mark(handler)
    return mark


def streaming_options(handler: Any) -> StreamingOptions | None:
    """The options ``@streamify_response`` stored on ``handler``, or None for a buffered handler."""
    options = getattr(handler, STREAMING_MARK, None)
    return options if isinstance(options, StreamingOptions) else None


def is_async_function(function: Any) -> bool:
    """True for ``async def`` functions and async generators (seen through decorators and partials)."""
    return bool(_code_flags(function) & (_CO_COROUTINE | _CO_ASYNC_GENERATOR))


def _is_generator_function(function: Any) -> bool:
    return bool(_code_flags(function) & (_CO_GENERATOR | _CO_ASYNC_GENERATOR))


def _code_flags(function: Any) -> int:
    code = _code_of(function)
    return code.co_flags if code is not None else 0


def _code_of(function: Any) -> Any:
    for _ in range(10):
        wrapped = (
            function.func
            if isinstance(function, functools.partial)
            else getattr(function, "__wrapped__", None)
        )
        if wrapped is None or not callable(wrapped):
            break
        function = wrapped
    code = getattr(function, "__code__", None)
    if code is None:  # a callable object: look at its __call__ method
        code = getattr(type(function).__call__, "__code__", None) if callable(function) else None
    return code


def _check_parameters(function: Any, expected: int) -> None:
    """Refuse a plain function whose positional parameters cannot take the handler's arguments."""
    if getattr(function, "__wrapped__", None) is not None or not hasattr(function, "__code__"):
        return  # wrappers and callable objects: trust them
    code = function.__code__
    if code.co_flags & _CO_VARARGS:
        return
    bound = 1 if hasattr(function, "__self__") else 0
    positional = code.co_argcount - bound
    required = positional - len(function.__defaults__ or ())
    if required <= expected <= positional:
        return
    name = getattr(function, "__qualname__", repr(function))
    if expected == 3:
        raise TypeError(
            f"@streamify_response handler {name} must take (event, response_stream, context), or be a "
            f"generator taking (event, context); it takes {positional} positional parameters"
        )
    raise TypeError(
        f"@streamify_response generator {name} must take (event, context); it takes {positional} positional parameters"
    )
