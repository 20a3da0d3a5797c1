"""The response side of the ASGI and WSGI adapters: an app's status and headers, held until the body.

Both protocols give the status and headers first (``http.response.start``, ``start_response``) and
the body after; the adapters turn them into the HTTP prelude, applied with the first body bytes so
that an app that fails before its body can still be answered with a plain 500 instead.

The status and headers are checked as the app gives them, by :mod:`stream_fn.framing`'s rules (a
status below 200, an invalid name, a control character or a character outside Latin-1 in a value is
an :class:`~stream_fn.InvalidMetadataError` that names the app's protocol), and kept the way the
prelude carries them: every ``Set-Cookie`` in ``cookies``, other repeated headers joined with
``", "``, the framing headers dropped.
"""

from __future__ import annotations

from stream_fn.errors import InvalidMetadataError
from stream_fn.framing import check_cookie, check_field_name, check_header_value, check_status
from stream_fn.streams import HttpResponseStream

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from stream_fn.streams import ResponseStream

ERROR_BODY = b"Internal Server Error"
ERROR_HEADERS = {"content-type": "text/plain; charset=utf-8", "content-length": str(len(ERROR_BODY))}
#: Framing is the platform's job: ASGI says servers must ignore these from the app, PEP 3333 forbids them.
_FRAMING_HEADERS = frozenset({"transfer-encoding", "connection", "keep-alive"})


class PendingResponse:
    """One request's response: the app's status and headers until the prelude is applied, then the body.

    :attr:`status` is None until the app gives one; :attr:`prelude_applied` is True once the stream
    is an HTTP response with that status (it goes out with the first body bytes).
    """

    #: The app's protocol and the type of its header names and values, for error messages.
    PROTOCOL = "ASGI or WSGI"
    HEADER_PAIRS = "(str, str)"

    __slots__ = ("_cookies", "_headers", "_stream", "prelude_applied", "status")

    def __init__(self, stream: ResponseStream) -> None:
        self._stream = stream
        self._headers: dict[str, str] = {}
        self._cookies: list[str] = []
        self.status: int | None = None
        self.prelude_applied = False

    def set_head(self, status: int, headers: Iterable[tuple[Any, Any]]) -> None:
        """Check ``status`` and ``headers`` and keep them (replacing any kept before) for the prelude."""
        check_status(status, f"the {self.PROTOCOL} app's response status")
        joined: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in headers:
            self._check_header(name, value)
            name = name.lower()
            if name == "set-cookie":
                cookies.append(self._checked(check_cookie, value))
            elif name in _FRAMING_HEADERS:
                continue
            elif name in joined:
                joined[name] = f"{joined[name]}, {value}"
            else:
                joined[name] = value
        self.status, self._headers, self._cookies = status, joined, cookies

    def apply_prelude(self) -> None:
        """Make the stream an HTTP response with the kept status and headers."""
        HttpResponseStream.from_(
            self._stream, status_code=self.status, headers=self._headers, cookies=self._cookies
        )
        self.prelude_applied = True

    def send_error_response(self) -> None:
        """Answer ``500 Internal Server Error`` (the app failed before anything was sent)."""
        HttpResponseStream.from_(self._stream, status_code=500, headers=ERROR_HEADERS)
        self._stream.end(ERROR_BODY)

    def _check_header(self, name: Any, value: Any) -> None:
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidMetadataError(
                f"the {self.PROTOCOL} app's response headers must be {self.HEADER_PAIRS} pairs, "
                f"got ({name!r}, {value!r})"
            )
        self._checked(check_field_name, name)
        if name.lower() != "set-cookie":
            self._checked(check_header_value, name, value)

    def _checked(self, check: Any, *args: Any) -> str:
        """Run one of :mod:`stream_fn.framing`'s checks; its error names the app's protocol."""
        try:
            result: str = check(*args)
        except InvalidMetadataError as error:
            raise InvalidMetadataError(f"the {self.PROTOCOL} app's response: {error}") from None
        return result
