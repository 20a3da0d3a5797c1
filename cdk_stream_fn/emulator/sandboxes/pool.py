"""The sandboxes of one function: one invocation per sandbox, a bounded number of sandboxes.

Like Lambda, a sandbox serves a single invocation at a time and concurrent requests get more
sandboxes. Unlike Lambda, which throttles at the concurrency limit (429), the emulator queues:
locally a request waiting its turn is more useful than an error. Warm sandboxes are reused first.
"""

from __future__ import annotations

import asyncio
import logging

from cdk_stream_fn.contract import DEFAULT_MAX_SANDBOXES
from cdk_stream_fn.emulator import platform_errors
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig
from cdk_stream_fn.emulator.sandboxes.invocation import Invocation, InvokeRequest
from cdk_stream_fn.emulator.sandboxes.sandbox import LogSink, Sandbox, print_log_line

log = logging.getLogger("cdk_stream_fn.emulator")


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
        self._idle: list[Sandbox] = []
        self._slots = asyncio.Semaphore(max_sandboxes)
        self._running: dict[asyncio.Task[None], Invocation] = {}
        self._stopping = False

    def request(self, payload: bytes, **fields: object) -> InvokeRequest:
        """An `InvokeRequest` addressed to this function."""
        return InvokeRequest(payload=payload, invoked_function_arn=self.config.arn, **fields)  # type: ignore[arg-type]

    async def submit(self, request: InvokeRequest) -> Invocation:
        """Start `request` on a free sandbox (waiting for one if all are busy); read the result from it."""
        if self._stopping:
            raise RuntimeError(f"{self.config.name}: the emulator is shutting down")
        await self._slots.acquire()
        sandbox = self._take_sandbox()
        invocation = Invocation(request)
        task = asyncio.create_task(
            self._run(sandbox, invocation), name=f"{sandbox.name} {request.request_id}"
        )
        self._running[task] = invocation
        return invocation

    async def warm(self) -> None:
        """Start one sandbox ahead of the first request, so it is warm and its init errors show early."""
        await self._slots.acquire()
        try:
            sandbox = self._take_sandbox()
            try:
                await sandbox.start()
            finally:
                self._idle.append(sandbox)
        finally:
            self._slots.release()

    def _take_sandbox(self) -> Sandbox:
        """The most recently used idle sandbox (the warmest), or a new one; the caller holds a slot."""
        if self._idle:
            return self._idle.pop()
        sandbox = Sandbox(
            self.config,
            shape_bandwidth=self.shape_bandwidth,
            log_sink=self.log_sink,
            index=len(self.sandboxes),
        )
        self.sandboxes.append(sandbox)
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
            self._idle.append(sandbox)
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
