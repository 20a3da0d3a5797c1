"""Error trailers within RAPID's 4 KiB trailer buffer, without a socket: each side of the edge, and hostile reports.

RAPID reads a request's trailer section only within its 4 KiB read buffer; a longer one loses the
error entirely (``Runtime.TruncatedResponse``). The runtime keeps the whole section within
``framing.MAX_TRAILER_SECTION_BYTES`` (4,000) by shortening the report: outer stack frames first,
then the message.
"""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stream_fn.error_reports import ErrorReport
from stream_fn.framing import MAX_TRAILER_SECTION_BYTES, trailer_section_size

pytestmark = pytest.mark.timeout(60)

LIMIT = MAX_TRAILER_SECTION_BYTES
STACK = [
    f'  File "/var/task/app.py", line {line}, in step_{line}\n    step_{line + 1}()\n' for line in range(1, 9)
]


def body_of(trailers: list[tuple[str, str]]) -> dict[str, object]:
    assert [name for name, _ in trailers] == [
        "Lambda-Runtime-Function-Error-Type",
        "Lambda-Runtime-Function-Error-Body",
    ]
    document = json.loads(base64.b64decode(trailers[1][1], validate=True))
    assert isinstance(document, dict)
    return document


def report(message: str, stack: list[str] = STACK, error_type: str = "ValueError") -> ErrorReport:
    return ErrorReport(error_type, message, stack, [])


def natural_size(message_length: int) -> int:
    """The trailer section of a report with a message of this length, were nothing shortened."""
    return trailer_section_size(report("m" * message_length).trailers(limit=10**9))


def test_an_error_report_that_fits_goes_whole_and_one_byte_over_it_is_shortened() -> None:
    longest_whole = max(length for length in range(2000, 3200) if natural_size(length) <= LIMIT)
    shortest_over = longest_whole + 1
    assert (
        LIMIT - 4 < natural_size(longest_whole) <= LIMIT < natural_size(shortest_over)
    )  # base64: steps of 4

    whole = report("m" * longest_whole).trailers()
    assert trailer_section_size(whole) == natural_size(longest_whole)
    assert body_of(whole) == {
        "errorMessage": "m" * longest_whole,
        "errorType": "ValueError",
        "stackTrace": STACK,
    }

    shortened = report("m" * shortest_over).trailers()
    assert trailer_section_size(shortened) <= LIMIT
    body = body_of(shortened)
    assert body["truncated"] is True
    assert body["errorMessage"] == "m" * shortest_over  # the stack trace is shortened first
    kept = body["stackTrace"]
    assert isinstance(kept, list)
    dropped = len(STACK) - (len(kept) - 1)  # a line that counts them replaces the dropped frames
    assert 1 <= dropped <= 3
    frames = "frames" if dropped > 1 else "frame"
    omitted = f"  [{dropped} outer {frames} omitted to fit the 4 KB limit on a streamed error report]\n"
    assert kept == [omitted, *STACK[dropped:]]
    assert shortened[0] == ("Lambda-Runtime-Function-Error-Type", "Function.ValueError")


def test_a_deep_traceback_keeps_its_innermost_frames_and_says_how_many_were_dropped() -> None:
    stack = [
        f'  File "/var/task/app.py", line {n}, in recurse\n    return recurse(depth - 1)\n'
        for n in range(500)
    ]
    trailers = report("depth exceeded", stack).trailers()

    assert trailer_section_size(trailers) <= LIMIT
    body = body_of(trailers)
    kept = body["stackTrace"]
    assert isinstance(kept, list) and 10 < len(kept) < 500
    dropped = 500 - (len(kept) - 1)
    assert kept[0] == f"  [{dropped} outer frames omitted to fit the 4 KB limit on a streamed error report]\n"
    assert kept[1:] == stack[-(len(kept) - 1) :]  # the innermost ones, which locate the error
    assert body["errorMessage"] == "depth exceeded" and body["errorType"] == "ValueError"


def test_a_huge_message_is_cut_after_the_stack_and_the_innermost_frame_stays() -> None:
    message = "too much detail " * 20_000
    trailers = report(message).trailers()

    assert trailer_section_size(trailers) <= LIMIT
    body = body_of(trailers)
    assert body["stackTrace"] == [
        "  [7 outer frames omitted to fit the 4 KB limit on a streamed error report]\n",
        STACK[-1],
    ]
    cut = body["errorMessage"]
    assert isinstance(cut, str)
    note = (
        f" [... message cut from {len(message)} characters to fit the 4 KB limit on a streamed error report]"
    )
    assert cut.endswith(note) and message.startswith(cut.removesuffix(note))
    assert len(cut) > 2000  # the room the frame and the note leave goes to the message
    assert body["truncated"] is True


def test_non_ascii_messages_are_measured_as_their_escaped_json() -> None:
    message = "\u2713\U0001f600" * 5000  # 6 and 12 bytes of JSON per character
    trailers = report(message).trailers()
    assert trailer_section_size(trailers) <= LIMIT
    body = body_of(trailers)
    assert isinstance(body["errorMessage"], str) and body["errorMessage"].startswith("\u2713\U0001f600")


def test_a_hostile_class_name_and_frame_still_fit() -> None:
    error_type = "E" * 10_000
    stack = ['  File "/var/task/app.py", line 1, in f\n    ' + "\u00e9" * 50_000 + "\n"]
    trailers = report("x" * 10_000, stack, error_type).trailers()

    assert trailer_section_size(trailers) <= LIMIT
    assert trailers[0] == ("Lambda-Runtime-Function-Error-Type", "Function." + "E" * 247)
    body = body_of(trailers)
    assert body["errorType"] == "E" * 256 + "..."
    assert body["truncated"] is True


@settings(max_examples=150, deadline=None)
@given(
    message=st.text(max_size=6000),
    stack=st.lists(st.text(max_size=800), max_size=60),
    error_type=st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=1, max_size=400
    ),
)
def test_any_report_fits_and_stays_valid_json_with_its_type(
    message: str, stack: list[str], error_type: str
) -> None:
    trailers = report(message, stack, error_type).trailers()
    assert trailer_section_size(trailers) <= LIMIT
    body = body_of(trailers)
    assert str(body["errorType"]).startswith(error_type[:256])
    whole = {"errorMessage": message, "errorType": error_type, "stackTrace": stack}
    if "truncated" not in body:
        assert body == whole
