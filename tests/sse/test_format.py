"""The bytes of server-sent events (sans-IO): exact encodings, refusals, and round trips through a client's parser."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stream_fn import InvalidEventError, ResponseStreamError, ServerSentEvent
from stream_fn.sse_format import HEARTBEAT, encode_comment, encode_item

from .event_stream_parser import parse


@pytest.mark.parametrize(
    ("event", "wire"),
    [
        (ServerSentEvent("hello"), b"data: hello\n\n"),
        (ServerSentEvent(""), b"data:\n\n"),
        (ServerSentEvent("two\nlines"), b"data: two\ndata: lines\n\n"),
        (ServerSentEvent("cr\rlf\r\nand\nmixed"), b"data: cr\ndata: lf\ndata: and\ndata: mixed\n\n"),
        (ServerSentEvent("ends with a line break\n"), b"data: ends with a line break\ndata:\n\n"),
        (ServerSentEvent(" leading space"), b"data:  leading space\n\n"),
        (ServerSentEvent("a: colon"), b"data: a: colon\n\n"),
        (ServerSentEvent("caf\u00e9 \u2603"), "data: caf\u00e9 \u2603\n\n".encode()),
        (ServerSentEvent("u2028\u2028stays"), "data: u2028\u2028stays\n\n".encode()),
        (ServerSentEvent("nul\0is data"), b"data: nul\0is data\n\n"),
        (
            ServerSentEvent("x", event="tick", id=7, retry=1500),
            b"id: 7\nevent: tick\nretry: 1500\ndata: x\n\n",
        ),
        (ServerSentEvent(json={"n": 1, "s": "a\nb"}), b'data: {"n":1,"s":"a\\nb"}\n\n'),
        (ServerSentEvent(json=None), b"data: null\n\n"),
        (ServerSentEvent(json="caf\u00e9"), 'data: "caf\u00e9"\n\n'.encode()),
        (ServerSentEvent(id="abc-1"), b"id: abc-1\n\n"),
        (ServerSentEvent(id=""), b"id:\n\n"),
        (ServerSentEvent(retry=0), b"retry: 0\n\n"),
    ],
)
def test_events_are_encoded_as_the_standard_reads_them(event: ServerSentEvent, wire: bytes) -> None:
    assert event.encoded == wire


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"data": b"bytes"}, "data must be a str, got 'bytes'"),
        ({"data": {"a": 1}}, "pass json=value"),
        ({"data": "x", "json": 1}, "either data (text) or json"),
        ({"json": float("nan")}, "cannot send 'float' as JSON"),
        ({"json": {1, 2}}, "cannot send 'set' as JSON"),
        ({"data": "\ud800"}, "lone surrogate"),
        ({"data": "x", "event": "a\nb"}, "has a line break"),
        ({"data": "x", "event": "a\rb"}, "has a line break"),
        ({"data": "x", "event": ""}, "leave event=None"),
        ({"data": "x", "event": 3}, "an event type is a str"),
        ({"event": "done"}, "pass data=''"),
        ({"data": "x", "id": "a\nb"}, "a line break would end the field"),
        ({"data": "x", "id": "a\0b"}, "browsers ignore an id field that holds NUL"),
        ({"data": "x", "id": " 7"}, "leading or trailing spaces"),
        ({"data": "x", "id": "7 "}, "leading or trailing spaces"),
        ({"data": "x", "id": "caf\u00e9"}, "would not come back intact"),
        ({"data": "x", "id": "tab\there"}, "would not come back intact"),
        ({"data": "x", "id": True}, "an event id is a str or an int"),
        ({"data": "x", "id": 1.5}, "an event id is a str or an int"),
        ({"data": "x", "retry": -1}, "whole milliseconds"),
        ({"data": "x", "retry": 1.5}, "whole milliseconds"),
        ({"data": "x", "retry": True}, "whole milliseconds"),
        ({}, "needs data (or json), an id or a retry"),
    ],
)
def test_what_a_client_would_read_differently_is_refused_with_the_reason(
    fields: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidEventError) as raised:
        ServerSentEvent(**fields)
    assert reason in str(raised.value)
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, ResponseStreamError)


def test_comments_and_the_heartbeat_dispatch_nothing() -> None:
    body = encode_comment("one\ntwo") + HEARTBEAT + encode_comment("") + ServerSentEvent("after").encoded

    parsed = parse(body)

    assert encode_comment("one\ntwo") == b": one\n: two\n\n"
    assert [comment.text for comment in parsed.comments] == [" one", " two", " heartbeat", ""]
    assert [(event.type, event.data) for event in parsed.events] == [("message", "after")]


def test_generators_may_yield_events_or_text() -> None:
    assert encode_item(ServerSentEvent("x", event="e")) == b"event: e\ndata: x\n\n"
    assert encode_item("plain text") == b"data: plain text\n\n"
    with pytest.raises(InvalidEventError, match=r"yield ServerSentEvent\(json=value\)"):
        encode_item({"n": 1})


def test_the_last_event_id_persists_until_an_id_field_changes_or_clears_it() -> None:
    body = b"".join(
        event.encoded
        for event in (
            ServerSentEvent("a", id=1),
            ServerSentEvent("b"),
            ServerSentEvent(id="2"),  # an id alone: no event, but the client's last event id moves on
            ServerSentEvent("c"),
            ServerSentEvent("d", id=""),
        )
    )

    assert [(event.data, event.last_event_id) for event in parse(body).events] == [
        ("a", "1"),
        ("b", "1"),
        ("c", "2"),
        ("d", ""),
    ]


def test_equal_events_compare_by_their_bytes() -> None:
    assert ServerSentEvent("x", id=1) == ServerSentEvent("x", id="1")
    assert ServerSentEvent("x") != ServerSentEvent("y")
    assert repr(ServerSentEvent("x", event="e")) == "ServerSentEvent(data='x', event='e')"


# Any text UTF-8 can encode; event types and ids within what the encoder accepts.
texts = st.text(st.characters(exclude_categories=("Cs",)))
event_types = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\r\n"), min_size=1)
event_ids = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1).filter(
    lambda value: value == value.strip(" ")
)


@given(data=texts, event_type=event_types, event_id=event_ids)
def test_any_event_round_trips_through_a_standard_parser(data: str, event_type: str, event_id: str) -> None:
    normalized = data.replace("\r\n", "\n").replace("\r", "\n")  # every line end reads as LF (9.2.6)

    parsed = parse(ServerSentEvent(data, event=event_type, id=event_id).encoded)

    assert [(e.type, e.data, e.last_event_id) for e in parsed.events] == [(event_type, normalized, event_id)]


@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts,
        lambda children: st.lists(children) | st.dictionaries(texts, children),
        max_leaves=20,
    )
)
def test_json_data_is_one_line_that_decodes_to_the_value(value: Any) -> None:
    import json

    parsed = parse(ServerSentEvent(json=value).encoded)

    assert len(parsed.events) == 1
    assert json.loads(parsed.events[0].data) == value
