"""The sandboxes of one function: a bounded number of sandboxes, each taking one invocation or several.

Like Lambda, a sandbox serves a single invocation at a time and concurrent requests get more
sandboxes, up to `max_sandboxes` (`serve --max-concurrency`). Past that the emulator queues where Lambda
would scale out: locally a request waiting its turn is more useful than an error. Warm sandboxes are
reused first. A function on Lambda Managed Instances (`FunctionConfig.per_environment_concurrency`) gets
`ConcurrentSandbox`es that take that many invocations each; a sandbox is filled before another starts.

A new version of the function (`replace`: its code or configuration changed under `serve`) gets fresh
sandboxes: idle ones of the old version stop at once, busy ones when their invocation ends, so a stream
in flight finishes on the code it started with.

A function with reserved concurrency (`ReservedConcurrentExecutions`) is throttled as on Lambda: an
invocation that would make more than that many run (or wait) at once is refused with `Throttled`, which
the front doors answer with 429 (awsdocs/aws-lambda-developer-guide `doc_source/urls-configuration.md`,
"Throttling function URLs": "Whenever your function concurrency exceeds the reserved concurrency, your
function URL returns an HTTP 429 status code"; 0 throttles every request).
"""

from __future__ import annotations

import asyncio
import logging

from cdk_stream_fn.contract import DEFAULT_MAX_SANDBOXES
from cdk_stream_fn.emulator import platform_errors
from cdk_stream_fn.emulator.sandboxes.concurrent_sandbox import ConcurrentSandbox
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig
from cdk_stream_fn.emulator.sandboxes.invocation import Invocation, InvokeRequest
from cdk_stream_fn.emulator.sandboxes.sandbox import LogSink, Sandbox, print_log_line

log = logging.getLogger("cdk_stream_fn.emulator")


class Throttled(Exception):
    """The function's reserved concurrency is used up: the invocation is refused, not queued."""

    def __init__(self, function_name: str, reserved: int) -> None:
        super().__init__(
            f"{function_name}: its reserved concurrency ({reserved}, ReservedConcurrentExecutions) is "
            "used up by invocations already running"
        )
        self.function_name = function_name
        self.reserved = reserved


class FunctionPool:
    """Runs invocations of one function on up to `max_sandboxes` runtime processes."""

    def __init__(
        self,
        config: FunctionConfig,
        *,
        max_sandboxes: int = DEFAULT_MAX_SANDBOXES,
        shape_bandwidth: bool = False,
        log_sink: LogSink | None = print_log_line,
    ) -> None:
        if max_sandboxes < 1:
            raise ValueError(f"max_sandboxes must be at least 1, got {max_sandboxes}")
        self.config = config
        self.max_sandboxes = max_sandboxes
        self.shape_bandwidth = shape_bandwidth
        self.log_sink = log_sink
        self.sandboxes: list[Sandbox] = []
        #: Invocations one sandbox takes at once (1, or the Managed Instances per-environment concurrency).
        self.capacity = config.per_environment_concurrency or 1
        #: A sandbox appears here once for each invocation it could take now (warmest last).
        self._idle: list[Sandbox] = []
        self._slots = asyncio.Semaphore(max_sandboxes * self.capacity)
        self._running: dict[asyncio.Task[None], Invocation] = {}
        #: Invocations submitted and not yet finished, waiting ones included (what reserved concurrency counts).
        self.in_flight = 0
        self._stopping = False
        self._created = 0
        self._retiring: set[asyncio.Task[None]] = set()

    def request(self, payload: bytes, **fields: object) -> InvokeRequest:
        """An `InvokeRequest` addressed to this function."""
        return InvokeRequest(payload=payload, invoked_function_arn=self.config.arn, **fields)  # type: ignore[arg-type]

    async def submit(self, request: InvokeRequest, *, throttle: bool = True) -> Invocation:
        """Start `request` on a free sandbox (waiting for one if all are busy); read the result from it.

        Raises `Throttled` if the function's reserved concurrency is used up (unless `throttle` is False:
        Lambda queues asynchronous invocations instead).
        """
        if self._stopping:
            raise RuntimeError(f"{self.config.name}: the emulator is shutting down")
        if self.config.unavailable is not None:
            unavailable = Invocation(request)
            unavailable.fail(platform_errors.unavailable_locally(self.config.unavailable))
            unavailable.finish()
            return unavailable
        reserved = self.config.reserved_concurrency
        if throttle and reserved is not None and self.in_flight >= reserved:
            raise Throttled(self.config.name, reserved)
        self.in_flight += 1
        try:
            await self._slots.acquire()
        except BaseException:
            self.in_flight -= 1
            raise
        sandbox = self._take_sandbox()
        invocation = Invocation(request)
        task = asyncio.create_task(
            self._run(sandbox, invocation), name=f"{sandbox.name} {request.request_id}"
        )
        self._running[task] = invocation
        return invocation

    async def warm(self) -> None:
        """Start one sandbox ahead of the first request, so it is warm and its init errors show early."""
        if self.config.reserved_concurrency == 0 or self.config.unavailable is not None:
            return  # every invocation is throttled, or fails at once: nothing will run
        await self._slots.acquire()
        try:
            sandbox = self._take_sandbox()
            try:
                await sandbox.start()
            finally:
                self._idle.append(sandbox)
        finally:
            self._slots.release()

    def new_sandbox(
        self, config: FunctionConfig | None = None, *, log_sink: LogSink | None = None
    ) -> Sandbox:
        """A sandbox of this function (of `config`, a version not yet in use, if given), not started; it
        joins the pool when it runs an invocation or is handed to `replace`. `log_sink` takes its output
        instead of the pool's (until it is set back)."""
        config = config or self.config
        kind = ConcurrentSandbox if config.managed_instances else Sandbox
        sandbox = kind(
            config,
            shape_bandwidth=self.shape_bandwidth,
            log_sink=log_sink or self.log_sink,
            index=self._created,
        )
        self._created += 1
        return sandbox

    def replace(self, config: FunctionConfig, *, warm: Sandbox | None = None) -> None:
        """Serve `config` from now on: new invocations go to sandboxes of it (`warm`, one already started
        with it, first); idle sandboxes of the old version stop now, busy ones after their invocation."""
        if config.name != self.config.name:
            raise ValueError(f"a pool serves one function: {self.config.name}, not {config.name}")
        self.config = config
        idle, self._idle = self._idle, []
        for sandbox in idle:
            self._retire(sandbox)
        if warm is not None:
            if warm.config is not config:
                raise ValueError(f"{warm.name} was started for another version of {config.name}")
            self.sandboxes.append(warm)
            self._idle.append(warm)

    def _retire(self, sandbox: Sandbox) -> None:
        """Stop a sandbox of an old version in the background (`stop` waits for it)."""
        if sandbox in self.sandboxes:
            self.sandboxes.remove(sandbox)
        task = asyncio.create_task(sandbox.stop(), name=f"stop {sandbox.name}")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    def _take_sandbox(self) -> Sandbox:
        """A place in the most recently used sandbox with room (the warmest), or in a new one; the caller
        holds a slot."""
        if self._idle:
            return self._idle.pop()
        sandbox = self.new_sandbox()
        self.sandboxes.append(sandbox)
        self._idle[:0] = [sandbox] * (self.capacity - 1)  # its other places, behind the warmer ones
        return sandbox

    async def _run(self, sandbox: Sandbox, invocation: Invocation) -> None:
        try:
            await sandbox.run(invocation)
        except Exception:
            log.exception("%s: request %s failed in the emulator", sandbox.name, invocation.request_id)
            invocation.fail(platform_errors.service_exception())
            invocation.finish()
        finally:
            self._running.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
            self.in_flight -= 1
            if sandbox.config is self.config:
                self._idle.append(sandbox)
            else:
                self._retire(sandbox)  # it ran a version that has been replaced
            self._slots.release()

    async def stop(self) -> None:
        """Fail what is running, stop every runtime process, close every Runtime API."""
        self._stopping = True
        shutdown = platform_errors.shutting_down()
        for task, invocation in list(self._running.items()):
            invocation.fail(shutdown)
            invocation.finish()
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        await asyncio.gather(*(sandbox.stop() for sandbox in self.sandboxes), return_exceptions=True)
        await asyncio.gather(*self._retiring, return_exceptions=True)
