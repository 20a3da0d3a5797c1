"""RAPID's lifecycle machine, without sockets: tables of state x event, and the hand-out rules.

Each expected refusal is RAPID's (`internal/lambda/core/states.go`, `rapi/handler/*.go`,
`rapi/rendering/render_error.go`); see `sandboxes/lifecycle.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from cdk_stream_fn.emulator import limits
from cdk_stream_fn.emulator.sandboxes.lifecycle import (
    ACCEPTED,
    Answer,
    InvocationState,
    Lifecycle,
    Phase,
    Rejection,
)

NOT_ALLOWED = "failed for runtime. Error: State transition is not allowed"


@dataclass(frozen=True)
class Item:
    request_id: str


Machine = Lifecycle[Item, str]


def forbidden(current: str, wanted: str) -> Rejection:
    return Rejection(
        403, "InvalidStateTransition", f"State transition from {current} to {wanted} {NOT_ALLOWED}"
    )


INVALID_ID = Rejection(400, "InvalidRequestID", "Invalid request ID")


# -- the sandbox's phases -----------------------------------------------------------------------------


def in_phase(phase: Phase) -> Machine:
    """A machine brought to `phase` the way a runtime gets there."""
    machine: Machine = Lifecycle(snap_start=True)
    if phase is Phase.READY:
        assert machine.next_requested("loop").rejection is None
    elif phase is Phase.INIT_FAILED:
        assert machine.init_error_reported() == ACCEPTED
    elif phase is Phase.RESTORE_READY:
        assert machine.restore_next_requested("loop") is None
    elif phase in (Phase.RESTORING, Phase.RESTORE_FAILED):
        assert machine.restore() is None
        assert machine.restore_next_requested("loop") == ACCEPTED
        if phase is Phase.RESTORE_FAILED:
            assert machine.restore_error_reported() == ACCEPTED
    assert machine.phase is phase
    return machine


# (phase, the refusal or None if allowed, the phase after)
NEXT = [
    (Phase.INITIALIZING, None, Phase.READY),
    (Phase.READY, None, Phase.READY),
    (Phase.RESTORING, None, Phase.READY),
    (Phase.INIT_FAILED, forbidden("InitError", "Ready"), Phase.INIT_FAILED),
    (Phase.RESTORE_READY, forbidden("RestoreReady", "Ready"), Phase.RESTORE_READY),
    (Phase.RESTORE_FAILED, forbidden("RuntimeRestoreErrorState", "Ready"), Phase.RESTORE_FAILED),
]
INIT_ERROR = [
    (Phase.INITIALIZING, None, Phase.INIT_FAILED),
    (Phase.RESTORING, None, Phase.RESTORE_FAILED),  # RAPID's initerror.go: a restore error then
    (Phase.READY, forbidden("Ready", "InitError"), Phase.READY),
    (Phase.INIT_FAILED, forbidden("InitError", "InitError"), Phase.INIT_FAILED),
    (Phase.RESTORE_READY, forbidden("RestoreReady", "InitError"), Phase.RESTORE_READY),
    (Phase.RESTORE_FAILED, forbidden("RuntimeRestoreErrorState", "InitError"), Phase.RESTORE_FAILED),
]
RESTORE_NEXT = [  # RAPID's restorenext.go names Ready as the wanted state
    (Phase.INITIALIZING, None, Phase.RESTORE_READY),
    (Phase.READY, forbidden("Ready", "Ready"), Phase.READY),
    (Phase.INIT_FAILED, forbidden("InitError", "Ready"), Phase.INIT_FAILED),
    (Phase.RESTORE_READY, forbidden("RestoreReady", "Ready"), Phase.RESTORE_READY),
    (Phase.RESTORING, forbidden("Restoring", "Ready"), Phase.RESTORING),
    (Phase.RESTORE_FAILED, forbidden("RuntimeRestoreErrorState", "Ready"), Phase.RESTORE_FAILED),
]
RESTORE_ERROR = [
    (Phase.RESTORING, None, Phase.RESTORE_FAILED),
    (Phase.INITIALIZING, forbidden("Started", "RuntimeRestoreErrorState"), Phase.INITIALIZING),
    (Phase.READY, forbidden("Ready", "RuntimeRestoreErrorState"), Phase.READY),
    (Phase.INIT_FAILED, forbidden("InitError", "RuntimeRestoreErrorState"), Phase.INIT_FAILED),
    (Phase.RESTORE_READY, forbidden("RestoreReady", "RuntimeRestoreErrorState"), Phase.RESTORE_READY),
    (
        Phase.RESTORE_FAILED,
        forbidden("RuntimeRestoreErrorState", "RuntimeRestoreErrorState"),
        Phase.RESTORE_FAILED,
    ),
]


@pytest.mark.parametrize(("phase", "refusal", "after"), NEXT, ids=[row[0].name for row in NEXT])
def test_next_in_each_phase(phase: Phase, refusal: Rejection | None, after: Phase) -> None:
    machine = in_phase(phase)

    verdict = machine.next_requested("another loop")

    assert verdict.rejection == refusal
    assert machine.phase is after
    assert machine.is_waiting("another loop") is (refusal is None)


@pytest.mark.parametrize(("phase", "refusal", "after"), INIT_ERROR, ids=[row[0].name for row in INIT_ERROR])
def test_init_error_in_each_phase(phase: Phase, refusal: Rejection | None, after: Phase) -> None:
    machine = in_phase(phase)

    assert machine.init_error_reported().rejection == refusal
    assert machine.phase is after


@pytest.mark.parametrize(
    ("phase", "refusal", "after"), RESTORE_NEXT, ids=[row[0].name for row in RESTORE_NEXT]
)
def test_restore_next_in_each_phase(phase: Phase, refusal: Rejection | None, after: Phase) -> None:
    machine = in_phase(phase)

    verdict = machine.restore_next_requested("another loop")

    assert (verdict.rejection if verdict is not None else None) == refusal
    assert machine.phase is after


@pytest.mark.parametrize(
    ("phase", "refusal", "after"), RESTORE_ERROR, ids=[row[0].name for row in RESTORE_ERROR]
)
def test_restore_error_in_each_phase(phase: Phase, refusal: Rejection | None, after: Phase) -> None:
    machine = in_phase(phase)

    assert machine.restore_error_reported().rejection == refusal
    assert machine.phase is after


def test_restore_answers_the_waiting_restore_next_and_the_runtime_then_restores() -> None:
    machine: Machine = Lifecycle(snap_start=True)
    assert machine.restore_next_requested("loop") is None

    assert machine.restore() == "loop"
    assert machine.phase is Phase.RESTORING
    assert machine.next_requested("loop").rejection is None
    assert machine.phase is Phase.READY


def test_a_restore_next_that_left_is_not_answered() -> None:
    machine: Machine = Lifecycle(snap_start=True)
    machine.restore_next_requested("loop")

    assert machine.waiter_gone("loop")
    assert machine.restore() is None


def test_restore_after_the_runtime_skipped_the_restore_phase_changes_nothing() -> None:
    machine = in_phase(Phase.READY)

    assert machine.restore() is None
    assert machine.phase is Phase.READY


# -- each invocation's states -------------------------------------------------------------------------


def handed_out(concurrency: int = 1) -> tuple[Machine, Item]:
    machine: Machine = Lifecycle(concurrency=concurrency)
    item = Item("req-1")
    assert machine.submit(item) is None
    assert machine.next_requested("loop").handout == item
    return machine, item


def answering_response(machine: Machine, item: Item) -> None:
    assert machine.answer_started(item.request_id, Answer.RESPONSE, "streaming").item == item


def answering_error(machine: Machine, item: Item) -> None:
    assert machine.answer_started(item.request_id, Answer.ERROR).item == item


def answered(machine: Machine, item: Item) -> None:
    answering_response(machine, item)
    assert machine.answer_finished(item.request_id, Answer.RESPONSE, streaming=True, size=2) == ACCEPTED


def failed_on_mode(machine: Machine, item: Item) -> None:
    assert machine.answer_started(item.request_id, Answer.RESPONSE, "buffered").failure is not None


def failed_on_size(machine: Machine, item: Item) -> None:
    machine.answer_started(item.request_id, Answer.RESPONSE)
    size = limits.MAX_BUFFERED_RESPONSE_BYTES + 1
    assert machine.answer_finished(item.request_id, Answer.RESPONSE, streaming=False, size=size).failure


def cut(machine: Machine, item: Item) -> None:
    answering_response(machine, item)
    assert machine.answer_cut(item.request_id).failure is not None


# (how the invocation got where it is, its state, RAPID's name for the runtime's state there)
ANSWERED_STATES: list[tuple[Callable[[Machine, Item], None], InvocationState, str]] = [
    (answering_response, InvocationState.ANSWERING, "InvocationResponse"),
    (answering_error, InvocationState.ANSWERING, "InvocationErrorResponse"),
    (answered, InvocationState.ANSWERED, "RuntimeResponseSentState"),
    (failed_on_mode, InvocationState.FAILED, "InvocationResponse"),
    (failed_on_size, InvocationState.FAILED, "RuntimeResponseSentState"),
    (cut, InvocationState.FAILED, "RuntimeResponseSentState"),
]
ANSWERS = [(Answer.RESPONSE, None), (Answer.RESPONSE, "streaming"), (Answer.ERROR, None)]


@pytest.mark.parametrize(("answer", "mode"), ANSWERS)
@pytest.mark.parametrize(
    ("reach", "state", "rapid_state"), ANSWERED_STATES, ids=[row[0].__name__ for row in ANSWERED_STATES]
)
def test_a_second_answer_is_403_naming_rapids_states(
    reach: Callable[[Machine, Item], None],
    state: InvocationState,
    rapid_state: str,
    answer: Answer,
    mode: str | None,
) -> None:
    machine, item = handed_out()
    reach(machine, item)
    assert machine.state_of(item.request_id) is state

    verdict = machine.answer_started(item.request_id, answer, mode)

    assert verdict.rejection == forbidden(rapid_state, answer.value)
    assert verdict.item is None and verdict.failure is None
    assert machine.state_of(item.request_id) is state


@pytest.mark.parametrize(("answer", "mode"), ANSWERS)
def test_an_id_that_is_not_handed_out_is_400_and_changes_nothing(answer: Answer, mode: str | None) -> None:
    machine: Machine = Lifecycle()
    queued = Item("queued")
    machine.submit(queued)

    assert machine.answer_started("unknown", answer, mode).rejection == INVALID_ID
    assert machine.answer_started("queued", answer, mode).rejection == INVALID_ID
    assert machine.state_of("queued") is InvocationState.QUEUED


@pytest.mark.parametrize(
    ("answer", "mode", "streaming"),
    [(Answer.RESPONSE, None, False), (Answer.RESPONSE, "streaming", True), (Answer.ERROR, None, False)],
)
def test_a_handed_out_invocation_is_answered(answer: Answer, mode: str | None, streaming: bool) -> None:
    machine, item = handed_out()

    verdict = machine.answer_started(item.request_id, answer, mode)

    assert (verdict.item, verdict.streaming, verdict.rejection) == (item, streaming, None)
    assert machine.state_of(item.request_id) is InvocationState.ANSWERING


@pytest.mark.parametrize("mode", ["buffered", "Streaming", "STREAMING", "stream", " streaming"])
def test_a_response_mode_other_than_exactly_streaming_fails_the_invocation(mode: str) -> None:
    machine, item = handed_out()

    verdict = machine.answer_started(item.request_id, Answer.RESPONSE, mode)

    assert verdict.rejection == Rejection(
        400, "InvalidFunctionResponseMode", "Invalid function response mode"
    )
    assert verdict.failure is not None and verdict.failure.item == item
    assert verdict.failure.error.error_type == "Runtime.InvalidResponseModeHeader"
    assert machine.state_of(item.request_id) is InvocationState.FAILED


def test_an_error_report_does_not_look_at_the_response_mode() -> None:
    machine, item = handed_out()

    assert machine.answer_started(item.request_id, Answer.ERROR, "nonsense").item == item


# (streamed, size, refused)
SIZES = [
    (False, limits.MAX_BUFFERED_RESPONSE_BYTES, False),
    (False, limits.MAX_BUFFERED_RESPONSE_BYTES + 1, True),
    (True, limits.MAX_BUFFERED_RESPONSE_BYTES + 1, False),
    (True, limits.MAX_STREAMED_RESPONSE_BYTES, False),
    (True, limits.MAX_STREAMED_RESPONSE_BYTES + 1, True),
]


@pytest.mark.parametrize(("streaming", "size", "refused"), SIZES)
def test_the_size_limit_applies_when_the_body_ends(streaming: bool, size: int, refused: bool) -> None:
    machine, item = handed_out()
    machine.answer_started(item.request_id, Answer.RESPONSE, "streaming" if streaming else None)

    verdict = machine.answer_finished(item.request_id, Answer.RESPONSE, streaming=streaming, size=size)

    if not refused:
        assert verdict == ACCEPTED
        assert machine.state_of(item.request_id) is InvocationState.ANSWERED
        return
    limit = limits.MAX_STREAMED_RESPONSE_BYTES if streaming else limits.MAX_BUFFERED_RESPONSE_BYTES
    assert verdict.rejection == Rejection(
        413, "RequestEntityTooLarge", f"Exceeded maximum allowed payload size ({limit} bytes)."
    )
    assert verdict.failure is not None
    assert verdict.failure.error.error_type == "Function.ResponseSizeTooLarge"
    assert json.loads(verdict.failure.error.payload) == {
        "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
        f"({limit} bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    assert machine.state_of(item.request_id) is InvocationState.FAILED


def test_an_error_document_over_the_limit_is_still_accepted() -> None:
    machine, item = handed_out()
    machine.answer_started(item.request_id, Answer.ERROR)

    size = limits.MAX_BUFFERED_RESPONSE_BYTES * 2
    assert machine.answer_finished(item.request_id, Answer.ERROR, streaming=False, size=size) == ACCEPTED


def test_a_body_that_never_ends_is_400_truncated_and_fails_the_invocation() -> None:
    machine, item = handed_out()
    answering_response(machine, item)

    verdict = machine.answer_cut(item.request_id)

    assert verdict.rejection == Rejection(400, "TruncatedHTTPRequest", "HTTP request detected as truncated")
    assert verdict.failure is not None and verdict.failure.error.error_type == "Runtime.TruncatedResponse"


# -- handing out, one at a time and several at once ---------------------------------------------------


def test_an_invocation_waits_for_a_next_and_a_next_waits_for_an_invocation() -> None:
    machine: Machine = Lifecycle()
    assert machine.next_requested("loop").handout is None
    assert machine.is_waiting("loop")

    assert machine.submit(Item("a")) == "loop"
    assert machine.state_of("a") is InvocationState.HANDED_OUT
    assert machine.submit(Item("b")) is None
    assert machine.queued == 1


def test_with_one_loop_a_next_gives_up_the_unanswered_invocation() -> None:
    machine, item = handed_out()
    machine.submit(Item("req-2"))

    verdict = machine.next_requested("a new connection")  # a runtime may reconnect for each /next

    assert verdict.abandoned is not None and verdict.abandoned.item == item
    assert verdict.abandoned.error.error_type == "Runtime.InvalidResponse"
    assert verdict.handout == Item("req-2")
    assert machine.state_of(item.request_id) is None
    assert machine.answer_started(item.request_id, Answer.RESPONSE).rejection == INVALID_ID


def test_a_next_while_the_answer_still_streams_gives_up_nothing() -> None:
    machine, item = handed_out()
    answering_response(machine, item)
    machine.submit(Item("req-2"))

    verdict = machine.next_requested("loop")

    assert (verdict.abandoned, verdict.handout) == (None, Item("req-2"))


def test_an_answered_id_is_403_until_the_next_invocation_is_handed_out_then_400() -> None:
    machine, item = handed_out()
    answered(machine, item)
    assert machine.answer_started(item.request_id, Answer.RESPONSE).rejection == forbidden(
        "RuntimeResponseSentState", "InvocationResponse"
    )

    machine.submit(Item("req-2"))
    machine.next_requested("loop")

    assert machine.answer_started(item.request_id, Answer.RESPONSE).rejection == INVALID_ID


def test_several_loops_each_hold_an_invocation_up_to_the_concurrency() -> None:
    machine: Machine = Lifecycle(concurrency=2)
    for loop in ("one", "two", "three"):
        assert machine.next_requested(loop).handout is None
    assert machine.submit(Item("a")) == "one"
    assert machine.submit(Item("b")) == "two"
    assert machine.submit(Item("c")) is None  # two are held: "three" waits

    assert machine.answer_started("b", Answer.RESPONSE).item == Item("b")
    assert machine.next_handout() == ("three", Item("c"))
    assert machine.next_handout() is None
    assert [item.request_id for item in machine.held] == ["a", "b", "c"]


def test_with_several_loops_a_next_gives_up_only_what_that_loop_held() -> None:
    machine: Machine = Lifecycle(concurrency=2)
    machine.submit(Item("a"))
    machine.submit(Item("b"))
    assert machine.next_requested("one").handout == Item("a")
    assert machine.next_requested("two").handout == Item("b")

    verdict = machine.next_requested("two")

    assert verdict.abandoned is not None and verdict.abandoned.item == Item("b")
    assert machine.state_of("a") is InvocationState.HANDED_OUT


def test_a_next_beyond_the_concurrency_gives_up_the_oldest() -> None:
    machine: Machine = Lifecycle(concurrency=2)
    machine.submit(Item("a"))
    machine.submit(Item("b"))
    machine.next_requested("one")
    machine.next_requested("two")

    verdict = machine.next_requested("three")

    assert verdict.abandoned is not None and verdict.abandoned.item == Item("a")


def test_a_waiter_that_left_gets_nothing_and_a_failed_hand_out_goes_back_to_the_front() -> None:
    machine: Machine = Lifecycle()
    machine.next_requested("gone")
    assert machine.waiter_gone("gone")
    assert not machine.waiter_gone("gone")
    assert machine.submit(Item("a")) is None

    machine.submit(Item("b"))
    assert machine.next_requested("loop").handout == Item("a")
    machine.handout_failed(Item("a"))

    assert machine.state_of("a") is InvocationState.QUEUED
    assert machine.next_requested("loop").handout == Item("a")


def test_a_new_runtime_process_starts_over_and_gets_what_was_queued() -> None:
    machine, item = handed_out()
    machine.submit(Item("queued"))

    held = machine.runtime_replaced()

    assert held == [item]
    assert machine.phase is Phase.INITIALIZING
    assert machine.state_of(item.request_id) is None
    assert machine.answer_started(item.request_id, Answer.RESPONSE).rejection == INVALID_ID
    assert machine.next_requested("new loop").handout == Item("queued")


def test_queued_invocations_can_be_dropped() -> None:
    machine: Machine = Lifecycle()
    machine.submit(Item("a"))

    assert machine.drop_queued() == [Item("a")]
    assert machine.state_of("a") is None
    assert machine.next_requested("loop").handout is None


def test_concurrency_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Lifecycle(concurrency=0)


# -- Lambda Managed Instances: several invocations in flight ----------------------------------------


def test_one_invocation_queued_too_long_can_be_withdrawn_alone() -> None:
    machine: Machine = Lifecycle(concurrency=2)
    machine.submit(Item("a"))
    machine.submit(Item("b"))

    assert machine.withdraw(Item("a"))
    assert not machine.withdraw(Item("a"))
    assert machine.state_of("a") is None
    assert machine.next_requested("loop 1").handout == Item("b")
    assert not machine.withdraw(Item("b"))  # handed out: too late to take it back


def test_a_timed_out_invocation_frees_its_place_and_a_late_answer_is_refused() -> None:
    machine: Machine = Lifecycle(concurrency=2)
    for name in ("a", "b", "c"):
        machine.submit(Item(name))
    assert machine.next_requested("loop 1").handout == Item("a")
    assert machine.next_requested("loop 2").handout == Item("b")

    machine.timed_out("a")

    third = machine.next_requested("loop 3")  # loop 1 is still busy with "a": another loop takes its place
    assert (third.handout, third.abandoned) == (Item("c"), None)
    assert machine.state_of("a") is InvocationState.FAILED
    late = machine.answer_started("a", Answer.RESPONSE, "streaming")
    assert late.item is None and late.rejection is not None and late.rejection.status == 403


def test_timing_out_an_invocation_being_answered_lets_its_answer_finish() -> None:
    machine, item = handed_out(concurrency=2)
    answering_response(machine, item)

    machine.timed_out(item.request_id)

    assert machine.state_of(item.request_id) is InvocationState.ANSWERING
    assert machine.answer_finished(item.request_id, Answer.RESPONSE, streaming=True, size=1) == ACCEPTED


def test_a_second_init_error_from_a_sibling_worker_is_403() -> None:
    """The stock client's workers each report a failed import; the first report wins (RAPID's `InitError`)."""
    machine: Machine = Lifecycle(concurrency=3)

    assert machine.init_error_reported() == ACCEPTED
    second = machine.init_error_reported().rejection

    assert second is not None and second.status == 403
    assert second.error_type == "InvalidStateTransition"
