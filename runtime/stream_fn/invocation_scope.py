"""Which invocation the running code serves: its request id, X-Ray trace id and tenant id.

Log records read the request and tenant ids from here, so each one names the invocation that wrote
it. The loop enters an :class:`InvocationScope` per invocation (:func:`enter_invocation`) and code
asks :func:`current_invocation`. Nothing here is ever mutated: a scope is made per invocation and
replaced, never edited, so a reader holding one cannot see another invocation's ids.

Two ways of holding the current scope, as AWS's own runtime clients do (``@aws/lambda-invoke-store``,
awslabs/aws-lambda-invoke-store: ``InvokeStoreSingle`` keeps the one current context,
``InvokeStoreMulti`` an ``AsyncLocalStorage`` per request, loaded only for Lambda Managed Instances
"to improve startup performance"):

* **One invocation at a time** (the default, and what Lambda does outside Managed Instances): the
  process holds the one current scope. Every thread sees it, so a thread the handler started logs
  with the request id, as under the stock runtime client (whose ``_GLOBAL_AWS_REQUEST_ID`` this
  replaces). It is kept after the invocation until the next one replaces it, as there.
* **Concurrent invocations** (Lambda Managed Instances: several invocations in one process, on
  threads or asyncio tasks), after :func:`use_concurrent_invocations`: a ``ContextVar``, so each
  thread and each asyncio task sees only the scope entered in its own context. An asyncio task
  copies its creator's context; a new thread starts with none, so code that hands work to a thread
  pool passes the context on (``contextvars.copy_context().run``, or ``asyncio.to_thread``, which
  does). The ``_contextvars`` extension is loaded only then: it is a shared library in CPython's
  builds (about 0.2 ms to load here), a cost a function serving one invocation at a time never pays.

The ``_X_AMZN_TRACE_ID`` environment variable (:mod:`stream_fn.trace_id`) is one per process and
cannot follow concurrent invocations: with several in flight, :attr:`InvocationScope.trace_id` is
the one that belongs to the calling code.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class InvocationScope:
    """One invocation's identity, as code running for it (and its log records) may ask for it."""

    __slots__ = ("request_id", "tenant_id", "trace_id")

    def __init__(self, request_id: str, trace_id: str | None = None, tenant_id: str | None = None) -> None:
        self.request_id = request_id
        self.trace_id = trace_id
        self.tenant_id = tenant_id

    def __repr__(self) -> str:
        return f"InvocationScope(request_id={self.request_id!r}, trace_id={self.trace_id!r}, tenant_id={self.tenant_id!r})"


_sole: InvocationScope | None = None  # one invocation at a time: the one in flight (or the last one)
_per_context: Any = None  # concurrent invocations: a ContextVar[InvocationScope | None]


def current_invocation() -> InvocationScope | None:
    """The scope of the invocation the calling code serves, or None outside any invocation."""
    if _per_context is not None:
        scope: InvocationScope | None = _per_context.get()
        return scope
    return _sole


def enter_invocation(scope: InvocationScope) -> Any:
    """Make ``scope`` the current invocation's; return the token :func:`leave_invocation` takes.

    With concurrent invocations it is current in the calling thread's or task's context only.
    """
    global _sole
    if _per_context is not None:
        return _per_context.set(scope)
    _sole = scope
    return None


def leave_invocation(token: Any) -> None:
    """End the scope :func:`enter_invocation` entered (one invocation at a time: it stays until replaced)."""
    if token is not None:
        _per_context.reset(token)


def use_concurrent_invocations() -> None:
    """Hold the current scope per thread and per asyncio task from now on (Lambda Managed Instances).

    Called once at start-up, before the first invocation, by a loop that runs several at once.
    """
    global _per_context, _sole
    if _per_context is None:
        from _contextvars import ContextVar  # what contextvars re-exports, without its Python module

        _per_context = ContextVar("stream_fn.current_invocation", default=None)
        _sole = None
