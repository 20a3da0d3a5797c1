"""One Lambda Managed Instances execution environment: one runtime taking several invocations at once.

A function with `PerExecutionEnvironmentMaxConcurrency` (`FunctionConfig.per_environment_concurrency`)
runs in sandboxes of this kind. Its runtime is started with the variables Lambda sets for Managed
Instances (`config.managed_instances_environment`: `AWS_LAMBDA_MAX_CONCURRENCY`,
`AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances`, JSON logs) and `_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET`,
a Unix socket whose every connection is read as more of the runtime's output (the stock client connects each
worker process's stdout and stderr to it: awslambdaric 4.x `lambda_multi_concurrent_utils.py`). Its Runtime
API hands out up to that many invocations at once, one per waiting `GET /next`, whatever connection it
comes on: one process with several connections (stream_fn) or several processes (the stock client).

How the environment behaves follows AWS Lambda Developer Guide, "Understanding the Lambda Managed Instances
execution environment":

- Init: "The Init phase is considered complete when extensions have initialized and at least one runtime
  worker has called /runtime/invocation/next"; it may take the longer of 130 s and the function's timeout
  (`limits.MANAGED_INSTANCES_MIN_INIT_TIMEOUT_SECONDS`). A failed init (an `/init/error`, an exit, or no
  `/next` in time) fails every invocation waiting for the environment; the next one starts a new runtime.
- "Independent timeouts": an invocation that runs past the function's timeout fails with `Sandbox.Timedout`,
  "but does not interrupt other running invocations or terminate the execution environment"; the runtime is
  not stopped ("Lambda Managed Instances do not enforce the timeout, your code continues running"). Its place
  is free again, and an answer that comes later is refused (`Lifecycle.timed_out`).
- A runtime process that exits fails what it held and what waited for it.

Locally an invocation waits for a free place rather than being refused ("Backpressure handling": Lambda
rejects it), and waits at most the function's timeout to be picked up once the runtime has initialized.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from cdk_stream_fn.emulator import limits, platform_errors
from cdk_stream_fn.emulator.platform_errors import FunctionError
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig
from cdk_stream_fn.emulator.sandboxes.invocation import Invocation
from cdk_stream_fn.emulator.sandboxes.sandbox import (
    MAX_LOG_LINE_BYTES,
    LogSink,
    RuntimeStartError,
    Sandbox,
    print_log_line,
)
from cdk_stream_fn.emulator.sandboxes.waits import first_done

log = logging.getLogger("cdk_stream_fn.emulator")

#: The socket the stock client's worker processes connect their stdout and stderr to.
LOG_SOCKET_VARIABLE = "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET"
#: How long a runtime that reported an init error gets to exit on its own (each worker reports and exits).
INIT_ERROR_EXIT_SECONDS = 2.0


def managed_instances_init_timeout(config: FunctionConfig) -> float:
    """The init phase's limit on Managed Instances: the longer of 130 s and the function's timeout."""
    return max(limits.MANAGED_INSTANCES_MIN_INIT_TIMEOUT_SECONDS, config.timeout_seconds)


class ConcurrentSandbox(Sandbox):
    """A runtime process and its Runtime API taking up to `capacity` invocations at once."""

    def __init__(
        self,
        config: FunctionConfig,
        *,
        shape_bandwidth: bool = False,
        log_sink: LogSink | None = print_log_line,
        index: int = 0,
        init_timeout_seconds: float | None = None,
    ) -> None:
        super().__init__(
            config,
            shape_bandwidth=shape_bandwidth,
            log_sink=log_sink,
            index=index,
            init_timeout_seconds=(
                managed_instances_init_timeout(config)
                if init_timeout_seconds is None
                else init_timeout_seconds
            ),
        )
        assert config.per_environment_concurrency is not None
        self.capacity = config.per_environment_concurrency
        self._starting = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None
        self._log_server: asyncio.AbstractServer | None = None
        self._log_dir: Path | None = None
        self._log_connections: set[asyncio.Task[None]] = set()
        self._log_writers: set[asyncio.StreamWriter] = set()
        self._stopping = False

    @property
    def log_socket(self) -> Path | None:
        """The socket given to the runtime as `_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET` (None without a log sink)."""
        return self._log_dir / "logs.sock" if self._log_dir is not None else None

    def _extra_environment(self) -> dict[str, str]:
        return {LOG_SOCKET_VARIABLE: str(self.log_socket)} if self.log_socket is not None else {}

    async def start(self) -> None:
        """Start the runtime if it is not running (once, however many invocations ask at the same time)."""
        async with self._starting:
            if self.running:
                return
            if self.log_sink is not None and self._log_server is None:
                await self._serve_log_socket()
            await super().start()
            assert self.process is not None and self._exited is not None
            self._watcher = asyncio.create_task(
                self._watch(self._exited), name=f"{self.name} pid {self.process.pid}"
            )

    async def run(self, invocation: Invocation) -> None:
        """Run one invocation, alongside the others the runtime holds, to its end."""
        try:
            await self.start()
        except RuntimeStartError as error:
            invocation.fail(platform_errors.invalid_entrypoint(str(error)))
            invocation.finish()
            return
        try:
            await self._supervise_one(invocation)
        finally:
            if invocation.log_tail_ready is not None:
                await self._let_output_arrive()
            invocation.log_tail = self._tail_of(invocation.request_id)
            if invocation.log_tail_ready is not None:
                invocation.log_tail_ready.set()

    async def _supervise_one(self, invocation: Invocation) -> None:
        api = self.api
        assert api is not None
        timeout = self.config.timeout_seconds
        initialized = api.initialized.future
        api.submit(invocation)
        picked_up = invocation.picked_up.future
        finished = invocation.finished.future
        if not initialized.done():  # while the runtime initializes, the watcher sets the limits
            await _either(initialized, finished, None)
            if finished.done():
                return
        in_time = await _either(picked_up, finished, timeout)
        if not in_time and api.lifecycle.withdraw(invocation):
            log.warning(
                "%s: request %s: no slot of the runtime came free within %g s",
                self.name,
                invocation.request_id,
                timeout,
            )
            invocation.fail(platform_errors.timed_out(invocation.request_id, timeout))
            invocation.finish()
            return
        if finished.done():
            return
        if not picked_up.done():
            await _either(picked_up, finished, None)
            if finished.done():
                return
        elapsed = (time.perf_counter_ns() - invocation.timeline.picked_up_ns) / 1e9
        if await _either(finished, finished, timeout - elapsed):  # (one future, twice)
            return
        log.warning(
            "%s: request %s: Sandbox.Timedout after %g s; the runtime goes on (Lambda Managed Instances do "
            "not stop a timed-out invocation's code)",
            self.name,
            invocation.request_id,
            timeout,
        )
        api.lifecycle.timed_out(invocation.request_id)
        invocation.fail(platform_errors.timed_out(invocation.request_id, timeout))
        invocation.finish()

    async def _watch(self, exited: asyncio.Future[int]) -> None:
        """Watch one runtime process: its init (error, exit, overrun) and, once it is ready, its exit."""
        api = self.api
        assert api is not None
        outcome = await first_done(
            {"ready": api.initialized.future, "init_error": api.init_failed.future, "exited": exited},
            timeout=self.init_timeout_seconds,
        )
        if outcome == "ready":
            await asyncio.shield(exited)
            outcome = "exited"
        if self._stopping:
            return
        if outcome == "init_error":
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(exited), INIT_ERROR_EXIT_SECONDS)
            error = api.init_error
            self._fail_everything(lambda invocation: error or self._exit_error(invocation))
            reason = f"init failed: {error.error_type if error else 'the runtime exited'}"
        elif outcome == "timeout":
            limit = self.init_timeout_seconds
            self._fail_everything(lambda invocation: platform_errors.timed_out(invocation.request_id, limit))
            reason = f"the runtime did not initialize within {limit:g} s"
        else:
            init_error = api.init_error
            self._fail_everything(lambda invocation: init_error or self._exit_error(invocation))
            reason = "the runtime exited"
        log.warning("%s: %s; the next invocation starts a new runtime", self.name, reason)
        await self._kill()
        api.reset(platform_errors.runtime_gone())
        await api.close_connections()

    def _fail_everything(self, error_of: Any) -> None:
        """Fail what the runtime holds and what waits for it, each with `error_of(invocation)`."""
        assert self.api is not None
        for invocation in [*self.api.held, *self.api.drop_queued()]:
            error: FunctionError = error_of(invocation)
            invocation.fail(error)
            invocation.finish()

    async def stop(self) -> None:
        self._stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
        await super().stop()
        if self._log_server is not None:
            self._log_server.close()
            # The runtime's processes are gone, so their connections end; what still reads is cut short.
            connections = list(self._log_connections)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*connections, return_exceptions=True), 2)
            for writer in list(self._log_writers):
                writer.close()
            await asyncio.gather(*self._log_connections, return_exceptions=True)
            self._log_server = None
        if self._log_dir is not None:
            shutil.rmtree(self._log_dir, ignore_errors=True)
            self._log_dir = None

    # -- the log socket --------------------------------------------------------------------------------

    async def _serve_log_socket(self) -> None:
        self._log_dir = Path(tempfile.mkdtemp(prefix="cdk-stream-fn-logs-"))

        async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._log_connections.add(task)
            self._log_writers.add(writer)
            try:
                await self._pump(reader)
            finally:
                self._log_connections.discard(task)
                self._log_writers.discard(writer)
                writer.close()

        self._log_server = await asyncio.start_unix_server(
            on_connection, path=str(self.log_socket), limit=MAX_LOG_LINE_BYTES
        )

    def _tail_of(self, request_id: str) -> bytes:
        """The lines of the environment's recent output that name `request_id` (JSON logs carry it)."""
        needle = request_id.encode()
        return b"".join(line for line in bytes(self._log_tail).splitlines(keepends=True) if needle in line)


async def _either(first: asyncio.Future[Any], second: asyncio.Future[Any], timeout: float | None) -> bool:
    """Wait until `first` or `second` is done (True), or `timeout` seconds pass (False)."""
    if first.done() or second.done():
        return True
    done, _ = await asyncio.wait(
        {first, second},
        timeout=None if timeout is None else max(timeout, 0),
        return_when=asyncio.FIRST_COMPLETED,
    )
    return bool(done)
