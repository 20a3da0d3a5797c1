"""RAPID's lifecycle of a sandbox's Runtime API as a pure state machine: events in, verdicts out.

Modelled on h11's `_state.py`: no sockets, no clock, no tasks. The Runtime API's connections
(`runtime_api.py`) tell the machine what the runtime asked for and carry out what it answers; the
sandbox tells it what the platform did (an invocation arrived, the runtime process was replaced, the
snapshot was restored). Every rule and every refusal lives here, so a table of state x event tests
them all without a socket.

The rules are RAPID's (aws/aws-lambda-runtime-interface-emulator, `internal/lambda/core/states.go` for
the runtime's states, `internal/lambda/rapi/handler/*.go` and `rapi/middleware` for the checks,
`rapi/rendering/render_error.go` for the refusals):

- Sandbox phases: `INITIALIZING` (RAPID's `Started`: the runtime runs its init, `/next` ends it),
  `INIT_FAILED` (`POST /runtime/init/error`), `READY` (the runtime has asked for events), and for
  SnapStart `RESTORE_READY` (`GET /runtime/restore/next` waits for the snapshot to be restored),
  `RESTORING` (it was answered; the after-restore hooks run, `/next` ends them) and `RESTORE_FAILED`
  (`POST /runtime/restore/error`, or `/init/error` while restoring, as RAPID's `initerror.go` maps it).
- Invocations, keyed by request id: `QUEUED`, `HANDED_OUT` (its event answered a `/next`),
  `ANSWERING` (its `/response` or `/error` body is arriving), `ANSWERED`, `FAILED`. Up to
  `concurrency` invocations are handed out at once (Lambda Managed Instances run several `/next`
  loops in one sandbox); 1, Lambda's on-demand model, is the default.
- Checks in RAPID's order: the request id first (400 `InvalidRequestID` for an id that is not handed
  out, before any state changes: `middleware.AwsRequestIDValidator`), then the state transition (403
  `InvalidStateTransition`, with RAPID's message naming both states), then the response mode (400
  `InvalidFunctionResponseMode`, which also fails the invocation with `Runtime.InvalidResponseModeHeader`),
  then the size at the end of the body (413 `RequestEntityTooLarge`).

Two rules are the emulator's own, not RAPID's: a `/next` from a runtime that still holds an unanswered
invocation fails that invocation at once (`Runtime.InvalidResponse`) instead of leaving it to time out; and
with several invocations in flight (Managed Instances, whose Runtime API is not public), one that timed out
frees its place at once and a late answer to it is refused with 403 (`timed_out`).
"""

from __future__ import annotations

import collections
import enum
import json
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from cdk_stream_fn.emulator import limits, platform_errors
from cdk_stream_fn.emulator.platform_errors import FunctionError


class Phase(enum.Enum):
    """Where the sandbox's runtime is in its life; the value is RAPID's name for the state."""

    INITIALIZING = "Started"
    RESTORE_READY = "RestoreReady"
    RESTORING = "Restoring"
    INIT_FAILED = "InitError"
    RESTORE_FAILED = "RuntimeRestoreErrorState"
    READY = "Ready"

    @property
    def rapid_name(self) -> str:
        return str(self.value)


class InvocationState(enum.Enum):
    QUEUED = "queued"
    HANDED_OUT = "handed out"
    ANSWERING = "answering"
    ANSWERED = "answered"
    FAILED = "failed"


class Answer(enum.Enum):
    """Which report a runtime sends for an invocation, with RAPID's name for the state it leads to."""

    RESPONSE = "InvocationResponse"
    ERROR = "InvocationErrorResponse"


# RAPID's names for the states a 403 message can name (`core/runtime_state_names.go`).
_RUNNING = "Running"
_RESPONSE_SENT = "RuntimeResponseSentState"
_INIT_ERROR = "InitError"
_RESTORE_ERROR = "RuntimeRestoreErrorState"


@dataclass(frozen=True, slots=True)
class Rejection:
    """What the Runtime API answers a request it refuses: a status and RAPID's error document."""

    status: int
    error_type: str
    message: str

    def body(self) -> bytes:
        return json.dumps({"errorMessage": self.message, "errorType": self.error_type}).encode()


def invalid_request_id() -> Rejection:
    """400 for an id that is not handed out (`rendering.RenderInvalidRequestID`)."""
    return Rejection(400, "InvalidRequestID", "Invalid request ID")


def invalid_state_transition(current: str, wanted: str) -> Rejection:
    """403 for a request the runtime's state does not allow (`rendering.RenderForbiddenWithTypeMsg` with
    `handler.StateTransitionFailedForRuntimeMessageFormat` and `core.ErrNotAllowed`)."""
    return Rejection(
        403,
        "InvalidStateTransition",
        f"State transition from {current} to {wanted} failed for runtime. "
        "Error: State transition is not allowed",
    )


def invalid_response_mode() -> Rejection:
    """400 for a `Lambda-Runtime-Function-Response-Mode` other than `streaming`
    (`rendering.RenderInvalidFunctionResponseMode`)."""
    return Rejection(400, "InvalidFunctionResponseMode", "Invalid function response mode")


def request_entity_too_large(limit: int) -> Rejection:
    """413 for a response over `limit` bytes (`rendering.RenderRequestEntityTooLarge`, which always names
    `interop.MaxPayloadSize`, 6291556; here the limit that applied, which is that for a buffered one)."""
    return Rejection(413, "RequestEntityTooLarge", f"Exceeded maximum allowed payload size ({limit} bytes).")


def truncated_http_request() -> Rejection:
    """400 for a response body that could not be read to its end
    (`rendering.RenderTruncatedHTTPRequestError`)."""
    return Rejection(400, "TruncatedHTTPRequest", "HTTP request detected as truncated")


class Item(Protocol):
    """What the machine holds for an invocation: anything with a request id (an `Invocation`)."""

    @property
    def request_id(self) -> str: ...


T = TypeVar("T", bound=Item)
W = TypeVar("W", bound=Hashable)


# The verdicts are plain (not frozen) dataclasses: a frozen one's `__init__` costs three times as much,
# and one is made for nearly every request. Treat them as values all the same.


@dataclass(slots=True)
class Failure(Generic[T]):
    """An invocation the platform must fail now, and the error its caller gets."""

    item: T
    error: FunctionError


@dataclass(slots=True)
class NextVerdict(Generic[T]):
    """The answer to `GET /next`: an event to hand out now, or (neither set) wait for one; `abandoned`
    is an invocation the runtime gave up by asking again."""

    handout: T | None = None
    abandoned: Failure[T] | None = None
    rejection: Rejection | None = None


@dataclass(slots=True)
class AnswerVerdict(Generic[T]):
    """The answer to the head of `POST /invocation/{id}/response|error`: read the body into `item`
    (streamed or buffered), or refuse with `rejection` (and fail `failure`'s invocation if set)."""

    item: T | None = None
    streaming: bool = False
    rejection: Rejection | None = None
    failure: Failure[T] | None = None


@dataclass(slots=True)
class ReportVerdict(Generic[T]):
    """The answer to a request that ends without a hand-out: 202 `{"status":"OK"}` unless `rejection`;
    `failure` is an invocation the platform must fail."""

    rejection: Rejection | None = None
    failure: Failure[T] | None = None


#: Accept the request (202, or 200 for `/restore/next`).
ACCEPTED: ReportVerdict[Any] = ReportVerdict()
#: Wait for an invocation to hand out.
WAIT: NextVerdict[Any] = NextVerdict()

# Hot-path names for the states (an enum member lookup is a class attribute lookup each time).
_QUEUED = InvocationState.QUEUED
_HANDED_OUT = InvocationState.HANDED_OUT
_ANSWERING = InvocationState.ANSWERING
_ANSWERED = InvocationState.ANSWERED
_FAILED = InvocationState.FAILED
_RESPONSE = Answer.RESPONSE
_READY = Phase.READY


class _Entry(Generic[T, W]):
    """One invocation's record."""

    __slots__ = ("answer", "holder", "item", "rapid_state", "state")

    # Set as the invocation gets there (one is made for every invocation, so `__init__` does little):
    #: The waiter (runtime connection) whose `/next` it answered (from `HANDED_OUT`).
    holder: W
    #: The report the runtime sends (from `ANSWERING`).
    answer: Answer
    #: RAPID's name for the runtime's state once the invocation failed, for 403 messages (`FAILED`).
    rapid_state: str

    def __init__(self, item: T) -> None:
        self.item = item
        self.state = _QUEUED


class Lifecycle(Generic[T, W]):
    """The Runtime API's lifecycle for one sandbox; `T` is an invocation, `W` whatever identifies a
    waiting `/next` (a connection).

    `snap_start`: the sandbox's runtime was started for SnapStart (RAPID's `InitCaching` init type), so
    the restore routes exist. `max_buffered_bytes` / `max_streamed_bytes`: the response size limits.
    """

    def __init__(
        self,
        *,
        concurrency: int = 1,
        snap_start: bool = False,
        max_buffered_bytes: int = limits.MAX_BUFFERED_RESPONSE_BYTES,
        max_streamed_bytes: int = limits.MAX_STREAMED_RESPONSE_BYTES,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.concurrency = concurrency
        self.snap_start = snap_start
        self.max_buffered_bytes = max_buffered_bytes
        self.max_streamed_bytes = max_streamed_bytes
        self.phase = Phase.INITIALIZING
        #: The snapshot was restored (`restore`): `/restore/next` answers at once.
        self.restored = False
        self._entries: dict[str, _Entry[T, W]] = {}
        self._queue: collections.deque[T] = collections.deque()
        self._waiters: collections.deque[W] = collections.deque()
        self._handed_out: list[_Entry[T, W]] = []
        #: Ids of answered or failed invocations, kept so a second answer gets 403 rather than 400.
        self._finished: collections.deque[str] = collections.deque()
        self._restore_waiter: W | None = None

    # -- what the machine knows -------------------------------------------------------------------

    def state_of(self, request_id: str) -> InvocationState | None:
        """An invocation's state, or None once it is forgotten (or was never submitted)."""
        entry = self._entries.get(request_id)
        return entry.state if entry is not None else None

    @property
    def held(self) -> list[T]:
        """The invocations the runtime holds: handed out or being answered, oldest first."""
        busy = (InvocationState.HANDED_OUT, InvocationState.ANSWERING)
        return [entry.item for entry in self._entries.values() if entry.state in busy]

    @property
    def queued(self) -> int:
        return len(self._queue)

    def is_waiting(self, waiter: W) -> bool:
        return waiter in self._waiters or waiter == self._restore_waiter

    # -- the platform's events --------------------------------------------------------------------

    def submit(self, item: T) -> W | None:
        """An invocation arrived: the waiter to hand it to now, or None (it is queued)."""
        self._entries[item.request_id] = _Entry(item)
        self._queue.append(item)
        if not self._waiters or len(self._handed_out) >= self.concurrency:
            return None
        waiter = self._waiters.popleft()
        self._hand_out(waiter)
        return waiter

    def next_handout(self) -> tuple[W, T] | None:
        """A queued invocation and the waiting `/next` to give it to, while the runtime has room."""
        if not self._queue or not self._waiters or len(self._handed_out) >= self.concurrency:
            return None
        waiter = self._waiters.popleft()
        return waiter, self._hand_out(waiter)

    def handout_failed(self, item: T) -> None:
        """`item` could not be handed out (the waiting connection had just closed): it goes back to the
        front of the queue."""
        entry = self._entries.get(item.request_id)
        if entry is None or entry.state is not InvocationState.HANDED_OUT:
            return
        self._handed_out.remove(entry)
        entry.state = _QUEUED
        self._queue.appendleft(item)

    def withdraw(self, item: T) -> bool:
        """Take `item` back if no runtime has picked it up yet (it timed out waiting); True if it was queued."""
        entry = self._entries.get(item.request_id)
        if entry is None or entry.state is not _QUEUED:
            return False
        self._queue.remove(item)
        del self._entries[item.request_id]
        return True

    def timed_out(self, request_id: str) -> None:
        """The platform failed a handed-out invocation at its deadline without stopping the runtime (Lambda
        Managed Instances): its place is free for another, and an answer that comes later is refused (403).
        One that is being answered is left to finish: what arrives of it is discarded."""
        entry = self._entries.get(request_id)
        if entry is not None and entry.state is _HANDED_OUT:
            self._handed_out.remove(entry)
            self._finish(entry, _FAILED)

    def drop_queued(self) -> list[T]:
        """Forget every queued invocation (no runtime will take them) and return them to be failed."""
        dropped = list(self._queue)
        self._queue.clear()
        for item in dropped:
            self._entries.pop(item.request_id, None)
        return dropped

    def runtime_replaced(self) -> list[T]:
        """A new runtime process starts (the old one died or was killed): it begins its init, and the
        invocations the old one held are returned to be failed. Queued ones stay."""
        held = self.held
        for request_id in [
            rid for rid, entry in self._entries.items() if entry.state is not InvocationState.QUEUED
        ]:
            del self._entries[request_id]
        self._handed_out.clear()
        self._finished.clear()
        self._waiters.clear()
        self._restore_waiter = None
        self.phase = Phase.INITIALIZING
        self.restored = False
        return held

    def restore(self) -> W | None:
        """The snapshot was restored: the waiting `/restore/next` to answer 200 now, if any (else the
        next one is answered at once)."""
        self.restored = True
        waiter, self._restore_waiter = self._restore_waiter, None
        if waiter is not None and self.phase is Phase.RESTORE_READY:
            self.phase = Phase.RESTORING
            return waiter
        return None

    # -- the runtime's requests -------------------------------------------------------------------

    def next_requested(self, waiter: W) -> NextVerdict[T]:
        """`GET /runtime/invocation/next` (RAPID's `Ready` transition)."""
        phase = self.phase
        if phase is not Phase.READY:
            if phase is Phase.INITIALIZING or phase is Phase.RESTORING:
                self.phase = Phase.READY
            else:
                return NextVerdict(
                    rejection=invalid_state_transition(phase.rapid_name, Phase.READY.rapid_name)
                )
        abandoned = self._abandoned_by(waiter)
        if self._queue and len(self._handed_out) < self.concurrency:
            return NextVerdict(handout=self._hand_out(waiter), abandoned=abandoned)
        self._waiters.append(waiter)
        return NextVerdict(abandoned=abandoned)

    def waiter_gone(self, waiter: W) -> bool:
        """The connection of a waiting `/next` (or `/restore/next`) closed; return whether it waited."""
        if waiter == self._restore_waiter:
            self._restore_waiter = None
            return True
        try:
            self._waiters.remove(waiter)
        except ValueError:
            return False
        return True

    def answer_started(self, request_id: str, answer: Answer, mode: str | None = None) -> AnswerVerdict[T]:
        """The head of `POST /invocation/{id}/response` (with its `Lambda-Runtime-Function-Response-Mode`,
        None if absent) or `/error` arrived."""
        entry = self._entries.get(request_id)
        if entry is None or entry.state is _QUEUED:
            return AnswerVerdict(rejection=invalid_request_id())
        if entry.state is not _HANDED_OUT:
            return AnswerVerdict(rejection=invalid_state_transition(_rapid_state(entry), answer.value))
        self._handed_out.remove(entry)
        entry.answer = answer
        streaming = False
        if mode is not None and answer is _RESPONSE:
            if mode != "streaming":
                # RAPID's `invocationresponse.go`: the state has moved on, the invocation fails, the
                # runtime is refused.
                self._finish(entry, _FAILED, rapid_state=_RESPONSE.value)
                failure = Failure(entry.item, platform_errors.invalid_response_mode(request_id, mode))
                return AnswerVerdict(rejection=invalid_response_mode(), failure=failure)
            streaming = True
        entry.state = _ANSWERING
        return AnswerVerdict(entry.item, streaming)

    def answer_finished(
        self, request_id: str, answer: Answer, streaming: bool, size: int
    ) -> ReportVerdict[T]:
        """The body of an accepted answer ended after `size` bytes."""
        entry = self._entries.get(request_id)
        if entry is None or entry.state is not _ANSWERING:
            return ACCEPTED  # forgotten meanwhile (the runtime was replaced)
        if answer is _RESPONSE:
            limit = self.max_streamed_bytes if streaming else self.max_buffered_bytes
            if size > limit:
                self._finish(entry, _FAILED)
                failure = Failure(entry.item, platform_errors.response_too_large(limit, size))
                return ReportVerdict(rejection=request_entity_too_large(limit), failure=failure)
        entry.state = _ANSWERED
        self._finished.append(request_id)
        return ACCEPTED

    def answer_cut(self, request_id: str) -> ReportVerdict[T]:
        """The body of an accepted answer will never end (malformed framing, oversized trailers, a
        closed connection): RAPID's `ErrTruncatedResponse`."""
        entry = self._entries.get(request_id)
        if entry is None or entry.state is not InvocationState.ANSWERING:
            return ReportVerdict(rejection=truncated_http_request())
        self._finish(entry, InvocationState.FAILED)
        failure = Failure(entry.item, platform_errors.truncated_response(request_id))
        return ReportVerdict(rejection=truncated_http_request(), failure=failure)

    def init_error_reported(self) -> ReportVerdict[T]:
        """`POST /runtime/init/error` (RAPID's `InitError` transition; while restoring, `RestoreError`)."""
        phase = self.phase
        if phase is Phase.INITIALIZING:
            self.phase = Phase.INIT_FAILED
            return ACCEPTED
        if phase is Phase.RESTORING:
            self.phase = Phase.RESTORE_FAILED
            return ACCEPTED
        return ReportVerdict(rejection=invalid_state_transition(self._runtime_state_name(), _INIT_ERROR))

    def restore_next_requested(self, waiter: W) -> ReportVerdict[T] | None:
        """`GET /runtime/restore/next` (RAPID's `RestoreReady`): ACCEPTED to answer 200 now, None to
        wait for `restore`, or a refusal (RAPID names `Ready` as the wanted state, as here)."""
        if self.phase is not Phase.INITIALIZING:
            return ReportVerdict(
                rejection=invalid_state_transition(self._runtime_state_name(), Phase.READY.rapid_name)
            )
        if self.restored:
            self.phase = Phase.RESTORING
            return ACCEPTED
        self.phase = Phase.RESTORE_READY
        self._restore_waiter = waiter
        return None

    def restore_error_reported(self) -> ReportVerdict[T]:
        """`POST /runtime/restore/error` (RAPID's `RestoreError`: allowed only while restoring)."""
        if self.phase is Phase.RESTORING:
            self.phase = Phase.RESTORE_FAILED
            return ACCEPTED
        return ReportVerdict(rejection=invalid_state_transition(self._runtime_state_name(), _RESTORE_ERROR))

    # -- internals --------------------------------------------------------------------------------

    def _hand_out(self, waiter: W) -> T:
        item = self._queue.popleft()
        finished = self._finished
        while len(finished) >= self.concurrency:
            self._entries.pop(finished.popleft(), None)
        entry = self._entries[item.request_id]
        entry.state = _HANDED_OUT
        entry.holder = waiter
        self._handed_out.append(entry)
        return item

    def _abandoned_by(self, waiter: W) -> Failure[T] | None:
        """The invocation a `/next` from `waiter` gives up: the one it holds unanswered, or, when the
        runtime already holds as many as it may, the oldest (with one `/next` loop, any `/next` means the
        loop is done with its event, whichever connection it comes on)."""
        if not self._handed_out:
            return None
        given_up = next((entry for entry in self._handed_out if entry.holder == waiter), None)
        if given_up is None:
            if len(self._handed_out) < self.concurrency:
                return None
            given_up = self._handed_out[0]
        self._handed_out.remove(given_up)
        del self._entries[given_up.item.request_id]
        return Failure(given_up.item, platform_errors.next_without_answer(given_up.item.request_id))

    def _finish(
        self, entry: _Entry[T, W], state: InvocationState, *, rapid_state: str = _RESPONSE_SENT
    ) -> None:
        entry.state = state
        entry.rapid_state = rapid_state
        self._finished.append(entry.item.request_id)

    def _runtime_state_name(self) -> str:
        """RAPID's name for the runtime's state as a whole, for 403 messages about the sandbox phase."""
        if self.phase is not Phase.READY:
            return self.phase.rapid_name
        return _RUNNING if self._handed_out else Phase.READY.rapid_name


def _rapid_state(entry: _Entry[Any, Any]) -> str:
    """RAPID's name for the runtime's state as far as an invocation that was answered goes."""
    if entry.state is _ANSWERING:
        return str(entry.answer.value)
    if entry.state is _FAILED:
        return entry.rapid_state
    return _RESPONSE_SENT
