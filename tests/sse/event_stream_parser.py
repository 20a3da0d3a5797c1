"""An event stream read the way a browser's EventSource reads it, for the tests to check what clients see.

A plain transcription of the WHATWG HTML Living Standard, "Server-sent events": 9.2.5 (parsing: UTF-8,
CRLF/CR/LF line ends, a leading BOM dropped, fields and comments) and 9.2.6 (interpreting: the data,
event type and last event ID buffers, dispatch on a blank line, ``id`` with NUL ignored, ``retry``
digits only). It shares no code with the runtime's encoder, so a test that round-trips through it
checks the encoder against the standard rather than against itself.
"""

from __future__ import annotations

import codecs
import time
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class ParsedEvent:
    """One dispatched event, as ``MessageEvent`` shows it, and when its blank line arrived."""

    type: str
    data: str
    last_event_id: str
    arrived: float = 0.0


@dataclass(frozen=True)
class Comment:
    text: str
    arrived: float = 0.0


class EventStreamParser:
    """Feed it the body's bytes as they arrive; it keeps the events and comments it has read."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = ""
        self._started = False
        self._data = ""
        self._type = ""
        self._id_buffer = ""
        self.last_event_id = ""
        self.retry: int | None = None
        self.events: list[ParsedEvent] = []
        self.comments: list[Comment] = []
        #: Every dispatched event and comment in the order read, for checks of what came between what.
        self.sequence: list[ParsedEvent | Comment] = []

    def feed(self, chunk: bytes, arrived: float = 0.0) -> None:
        text = self._decoder.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        self._pending += text
        while True:
            cut = _line_end(self._pending)
            if cut is None:
                return
            end, after = cut
            line, self._pending = self._pending[:end], self._pending[after:]
            self._line(line, arrived)

    def _line(self, line: str, arrived: float) -> None:
        if not line:
            self._dispatch(arrived)
        elif line.startswith(":"):
            comment = Comment(line[1:], arrived)
            self.comments.append(comment)
            self.sequence.append(comment)
        else:
            name, colon, value = line.partition(":")
            if colon and value.startswith(" "):
                value = value[1:]
            self._field(name, value)

    def _field(self, name: str, value: str) -> None:
        if name == "event":
            self._type = value
        elif name == "data":
            self._data += value + "\n"
        elif name == "id" and "\0" not in value:  # an id with NUL is ignored
            self._id_buffer = value
        elif name == "retry" and value and all("0" <= char <= "9" for char in value):
            self.retry = int(value)

    def _dispatch(self, arrived: float) -> None:
        self.last_event_id = self._id_buffer
        if not self._data:
            self._type = ""
            return
        event = ParsedEvent(
            self._type or "message", self._data.removesuffix("\n"), self.last_event_id, arrived
        )
        self.events.append(event)
        self.sequence.append(event)
        self._data = self._type = ""


def _line_end(text: str) -> tuple[int, int] | None:
    """Where the first line of ``text`` ends and the next begins; None until a whole line is there.

    A CR at the very end may be the first half of a CRLF, so it waits for the next byte.
    """
    for index, char in enumerate(text):
        if char == "\n":
            return index, index + 1
        if char == "\r":
            if index + 1 == len(text):
                return None
            return index, index + (2 if text[index + 1] == "\n" else 1)
    return None


def parse(body: bytes) -> EventStreamParser:
    """Read a whole body at once."""
    parser = EventStreamParser()
    parser.feed(body)
    return parser


@dataclass
class StreamRead:
    """One GET of an event stream with httpx: the response head, what was read, and how it ended."""

    status: int
    headers: httpx.Headers
    parser: EventStreamParser
    #: True if the body ended properly (its last chunk came); False if the connection was cut.
    complete: bool
    error: str = ""
    body: bytes = b""
    chunks: list[tuple[float, bytes]] = field(default_factory=list)

    @property
    def events(self) -> list[ParsedEvent]:
        return self.parser.events


def read_stream(url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> StreamRead:
    """GET ``url`` and read its event stream as it arrives, noting when each part came."""
    parser = EventStreamParser()
    chunks: list[tuple[float, bytes]] = []
    started = time.monotonic()
    with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(timeout)) as response:
        complete, error = True, ""
        try:
            for chunk in response.iter_raw():
                arrived = time.monotonic() - started
                chunks.append((arrived, chunk))
                parser.feed(chunk, arrived)
        except httpx.RemoteProtocolError as cut:
            complete, error = False, str(cut)
        return StreamRead(
            response.status_code,
            response.headers,
            parser,
            complete,
            error,
            b"".join(chunk for _, chunk in chunks),
            chunks,
        )
