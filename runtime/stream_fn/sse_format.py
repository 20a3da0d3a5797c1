"""Server-sent events as bytes: events, comments and the heartbeat, with a check on every field. No I/O.

What a browser's ``EventSource`` (and any client that follows the standard) reads is defined by the
WHATWG HTML Living Standard, "Server-sent events"
(https://html.spec.whatwg.org/multipage/server-sent-events.html):

* 9.2.5, parsing: the stream is UTF-8; a line ends with CRLF, LF or CR, so none of them can occur
  inside a field; ``name: value`` (the one space after the colon is dropped); a line that starts
  with a colon is a comment; a blank line ends an event.
* 9.2.6, interpreting: each ``data`` line adds its value and an LF to the event's data (the last LF
  is dropped), and a block without a ``data`` line dispatches no event; ``event`` names the type
  (``message`` without it); ``id`` sets the last event ID, which the client sends back as
  ``Last-Event-ID`` when it reconnects, but a value that holds NUL (U+0000) is ignored; ``retry``
  sets the reconnection delay if its value is ASCII digits, and is ignored otherwise.

So events are written with LF line ends and one ``data:`` line per line of data, and whatever a
client would read differently from what was given is refused with
:class:`~stream_fn.errors.InvalidEventError` (a ``ValueError``) that says what to do instead.
"""

from __future__ import annotations

import json

from stream_fn.errors import InvalidEventError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MEDIA_TYPE = "text/event-stream"

HEARTBEAT = b": heartbeat\n\n"
"""The comment sent to keep an idle stream open: clients ignore it, proxies see bytes flow.

The blank line after it keeps every write a whole block, so a heartbeat never joins the next event
(a blank line with no data before it dispatches nothing, 9.2.6).
"""

NO_JSON: Any = object()
"""The default of ``json=``: no JSON (None is a value JSON can send)."""
_encode_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
# Visible ASCII and the space: what survives the trip back in the Last-Event-ID request header.
_ID_CHARS = frozenset(chr(code) for code in range(0x20, 0x7F))


class ServerSentEvent:
    """One server-sent event, checked and encoded when it is made, so a mistake raises where it is made.

    :param data: the event's data, any text. Each line (ended by CRLF, CR or LF) becomes its own
        ``data:`` line, which the client joins again with LF. ``""`` is an event with empty data;
        ``None`` sends no ``data:`` line at all, which is only useful with ``id`` or ``retry``: a
        client dispatches no event without data. Default: None.
    :param json: instead of ``data``: a value sent as its JSON text (always one line).
    :param event: the event type (a browser's ``addEventListener(type, ...)``). Default: none, which
        clients read as ``message``.
    :param id: the event's id: the client keeps the last one it saw and sends it back as
        ``Last-Event-ID`` when it reconnects. An int, or a str of visible ASCII and inner spaces;
        ``""`` clears the client's last event id. Default: none (the client keeps the one before).
    :param retry: how long the client waits before reconnecting, in whole milliseconds. Default: none.
    """

    __slots__ = ("data", "encoded", "event", "id", "retry")

    def __init__(
        self,
        data: str | None = None,
        *,
        json: Any = NO_JSON,
        event: str | None = None,
        id: str | int | None = None,
        retry: int | None = None,
    ) -> None:
        if json is not NO_JSON:
            if data is not None:
                raise InvalidEventError("pass either data (text) or json (a value to encode), not both")
            data = _json_text(json)
        elif data is not None and not isinstance(data, str):
            raise InvalidEventError(
                f"an event's data must be a str, got {type(data).__name__!r}: decode bytes first, or pass "
                "json=value to send a value as JSON"
            )
        lines: list[str] = []
        if id is not None:
            id = check_event_id(id)
            lines.append(f"id: {id}" if id else "id:")
        if event is not None:
            lines.append(f"event: {check_event_type(event)}")
        if retry is not None:
            lines.append(f"retry: {check_retry(retry)}")
        if data is not None:
            lines += [f"data: {line}" if line else "data:" for line in _split_lines(data)]
        elif event is not None:
            raise InvalidEventError(
                f"event {event!r} has no data, and clients dispatch no event without data: pass data='' "
                "for an event with empty data"
            )
        if not lines:
            raise InvalidEventError("an event needs data (or json), an id or a retry; this one has none")
        lines.append("\n")
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry
        self.encoded = _utf8("\n".join(lines), "the event")

    def __repr__(self) -> str:
        fields = [f"{name}={getattr(self, name)!r}" for name in ("data", "event", "id", "retry")]
        return f"ServerSentEvent({', '.join(field for field in fields if not field.endswith('=None'))})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ServerSentEvent) and other.encoded == self.encoded

    def __hash__(self) -> int:
        return hash(self.encoded)


def encode_item(item: Any) -> bytes:
    """The bytes of what a generator handler yields: a :class:`ServerSentEvent`, or a str as its data."""
    if isinstance(item, ServerSentEvent):
        return item.encoded
    if isinstance(item, str):
        return ServerSentEvent(item).encoded
    raise InvalidEventError(
        f"an event stream handler yields ServerSentEvent(...) or a str (the data of a 'message' event), "
        f"got {type(item).__name__!r}; for a value, yield ServerSentEvent(json=value)"
    )


def encode_comment(text: str) -> bytes:
    """A comment block: one ``:`` line per line of ``text``, then a blank line. Clients ignore it."""
    if not isinstance(text, str):
        raise InvalidEventError(f"a comment is a str, got {type(text).__name__!r}")
    lines = [f": {line}" if line else ":" for line in _split_lines(text)]
    return _utf8("\n".join(lines) + "\n\n", "the comment")


def check_event_type(event: Any) -> str:
    """Return ``event`` if it can be sent as an event type, else raise."""
    if not isinstance(event, str):
        raise InvalidEventError(f"an event type is a str, got {type(event).__name__!r}")
    if not event:
        raise InvalidEventError("the event type is empty: leave event=None for the default type 'message'")
    if "\n" in event or "\r" in event:
        raise InvalidEventError(
            f"the event type {event!r} has a line break, which would end the field early; remove it"
        )
    _utf8(event, f"the event type {event!r}")
    return event


def check_event_id(event_id: Any) -> str:
    """Return ``event_id`` as the text of an ``id`` field if a client can send it back unchanged, else raise.

    The client returns it in the ``Last-Event-ID`` request header, so it is held to what a header
    value carries intact: visible ASCII and inner spaces (no leading or trailing whitespace, which
    HTTP drops, RFC 9110 section 5.5). NUL would make browsers ignore the field (9.2.6); CR and LF
    would end it early.
    """
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        return str(event_id)
    if not isinstance(event_id, str):
        raise InvalidEventError(f"an event id is a str or an int, got {type(event_id).__name__!r}")
    if event_id and (not set(event_id) <= _ID_CHARS or event_id != event_id.strip(" ")):
        bad = next((char for char in event_id if char not in _ID_CHARS), " ")
        if bad == "\0":
            reason = "browsers ignore an id field that holds NUL (WHATWG HTML 9.2.6)"
        elif bad in "\r\n":
            reason = "a line break would end the field early"
        elif bad == " ":
            reason = "it has leading or trailing spaces, which the Last-Event-ID header would lose"
        else:
            reason = f"{bad!r} (U+{ord(bad):04X}) would not come back intact in the Last-Event-ID header"
        raise InvalidEventError(
            f"cannot send the event id {event_id!r}: {reason}. Use visible ASCII (letters, digits, "
            "punctuation) and inner spaces, e.g. a counter, a timestamp or a percent-encoded key"
        )
    return event_id


def check_retry(retry: Any) -> int:
    """Return ``retry`` if it is a reconnection delay a client accepts (a whole number of ms, 0 or more)."""
    if type(retry) is not int or retry < 0:
        raise InvalidEventError(
            f"retry is the reconnection delay in whole milliseconds (an int, 0 or more), got {retry!r}; "
            "clients ignore any other value"
        )
    return retry


def _json_text(value: Any) -> str:
    try:
        text: str = _encode_json(value)
    except (TypeError, ValueError) as error:
        raise InvalidEventError(
            f"cannot send {type(value).__name__!r} as JSON: {error}. Convert it to dicts, lists, str, "
            "numbers (finite), bools and None first, or pass data= text"
        ) from None
    return text


def _split_lines(text: str) -> list[str]:
    """The lines of ``text`` as an event stream reads them: CRLF, CR and LF each end a line (9.2.5)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = text[error.start]
        raise InvalidEventError(
            f"{what} has {bad!r} (U+{ord(bad):04X}), a lone surrogate that UTF-8 (the only encoding of an "
            "event stream) cannot encode; it usually comes from bytes decoded with errors='surrogateescape'"
        ) from None
