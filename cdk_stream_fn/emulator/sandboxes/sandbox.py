"""One execution environment: a Runtime API listener and the runtime process it serves.

The sandbox starts the runtime as a real subprocess (its own process group, so a runtime that
forks is stopped whole), forwards its output line by line, and supervises each invocation the way
Lambda does: a runtime that exits is reported as `Runtime.ExitError` and started again on the next
invocation; one that overruns the function timeout is killed and reported as `Sandbox.Timedout`
("Task timed out after N.NN seconds", Lambda's wording); an init error is returned to the
invocation that was waiting for it; one whose processes hold more than the function's memory is
killed and reported as `Runtime.OutOfMemory` (see `memory`).

The init phase (until the runtime's first `/next`) has its own limit, 10 s for on-demand functions, and
a runtime that overruns it is started again within the invocation, this time limited by the function's
timeout: "The Init phase is limited to 10 seconds. If all three tasks do not complete within 10
seconds, Lambda retries the Init phase at the time of the first function invocation with the
configured function timeout." (AWS Lambda Developer Guide, "Understanding the Lambda execution
environment lifecycle", Init phase). A timeout then names the function's timeout, the limit that
applied.

With SnapStart (`FunctionConfig.snap_start`) the init ends in a snapshot instead, restored for the first
invocation, with SnapStart's limits (`snap_start`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable

from cdk_stream_fn.contract import MB
from cdk_stream_fn.emulator import limits, platform_errors, stream_records
from cdk_stream_fn.emulator.platform_errors import FunctionError
from cdk_stream_fn.emulator.sandboxes import memory
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig, runtime_launch
from cdk_stream_fn.emulator.sandboxes.invocation import Invocation
from cdk_stream_fn.emulator.sandboxes.lifecycle import Phase
from cdk_stream_fn.emulator.sandboxes.runtime_api import RuntimeApiServer
from cdk_stream_fn.emulator.sandboxes.snap_start import snapshot_and_restore
from cdk_stream_fn.emulator.sandboxes.waits import first_done as _first

log = logging.getLogger("cdk_stream_fn.emulator")

#: Receives each line the runtime prints: (function name, line without its newline).
LogSink = Callable[[str, str], None]

#: How long a runtime gets to exit after SIGTERM before SIGKILL (Lambda's shutdown phase allows 2 s).
STOP_GRACE_SECONDS = 2.0
#: Longest output line forwarded whole; a longer one is forwarded in pieces of this size.
MAX_LOG_LINE_BYTES = 1024 * 1024
#: Bytes of recent output kept per invocation for `LogType: Tail` (Lambda returns the last 4 KB).
LOG_TAIL_BYTES = 4096


def print_log_line(function_name: str, line: str) -> None:
    """The default log sink: the runtime's output on stderr, prefixed with the function's name.

    Lambda runtimes write a multi-line record (a traceback) as one line with CR separators, so
    CloudWatch keeps it together; on a terminal those become indented lines again. The runtime's
    per-invocation stream record (CloudWatch EMF, with `STREAM_FN_METRICS=emf`) is said in words.
    """
    line = stream_records.describe_line(line) or line.replace("\r", "\n    ")
    sys.stderr.write(f"[{function_name}] {line}\n")
    sys.stderr.flush()


class Sandbox:
    """A runtime process and its Runtime API; runs one invocation at a time.

    `init_timeout_seconds` is the init phase's limit (default: the config's, Lambda's 10 s, stretched under
    qemu; shorter in tests);
    `restore_timeout_seconds` SnapStart's limit from the restore to the runtime's first `/next` (10 s).
    """

    def __init__(
        self,
        config: FunctionConfig,
        *,
        shape_bandwidth: bool = False,
        log_sink: LogSink | None = print_log_line,
        index: int = 0,
        init_timeout_seconds: float | None = None,
        restore_timeout_seconds: float = limits.RESTORE_TIMEOUT_SECONDS,
    ) -> None:
        self.config = config
        self.init_timeout_seconds = (
            config.init_timeout_seconds if init_timeout_seconds is None else init_timeout_seconds
        )
        self.restore_timeout_seconds = restore_timeout_seconds
        self.name = f"{config.name}#{index}"
        self.shape_bandwidth = shape_bandwidth
        self.log_sink = log_sink
        self.api: RuntimeApiServer | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        #: Done when the current runtime process exits (one waiter per process, shared by its invocations).
        self._exited: asyncio.Future[int] | None = None
        self._pumps: list[asyncio.Task[None]] = []
        self._log_tail = bytearray()
        self._memory: memory.MemoryWatcher | None = None
        #: `perf_counter()` when the current runtime process started (its init phase began).
        self._started_at = 0.0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def start(self) -> None:
        """Start the Runtime API (once) and the runtime process (again after it died)."""
        if self.api is None:
            self.api = await RuntimeApiServer.start(
                timeout_seconds=self.config.timeout_seconds,
                shape_bandwidth=self.shape_bandwidth,
                snap_start=self.config.snap_start,
                concurrency=self.config.per_environment_concurrency or 1,
                name=f"{self.name} runtime API",
            )
        if self.running:
            return
        if self.process is not None:  # the previous runtime died between invocations
            log.info("%s: runtime exited (code %s); starting a new one", self.name, self.process.returncode)
            self.api.reset(platform_errors.runtime_gone())
            await self.api.close_connections()
            await self._drain_pumps()
        launch = runtime_launch(self.config, self.api.address, extra_environment=self._extra_environment())
        command = launch.command
        output = asyncio.subprocess.PIPE if self.log_sink is not None else None
        try:
            self.process = await asyncio.create_subprocess_exec(
                *command,
                cwd=launch.cwd,
                env=launch.environment,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,
                limit=MAX_LOG_LINE_BYTES,
            )
        except OSError as error:
            raise RuntimeStartError(
                f"{self.config.name}: cannot start the runtime {command}: {error}"
            ) from error
        self.starts += 1
        self._started_at = time.perf_counter()
        self._exited = asyncio.ensure_future(self.process.wait())
        if self.config.enforce_memory and memory.supported():
            self._memory = memory.MemoryWatcher(
                self.process.pid, self.config.memory_mb * MB, name=self.name
            ).start()
        log.debug("%s: started %s (pid %d)", self.name, command, self.process.pid)
        if self.log_sink is not None:
            assert self.process.stdout is not None and self.process.stderr is not None
            self._pumps = [
                asyncio.create_task(self._pump(self.process.stdout)),
                asyncio.create_task(self._pump(self.process.stderr)),
            ]

    def _extra_environment(self) -> dict[str, str]:
        """Variables this kind of sandbox adds to the runtime's Lambda environment (none on demand)."""
        return {}

    async def initialize(self) -> FunctionError | None:
        """Start the runtime and wait for its init to end, within the init limit: None once it asks for its
        first invocation (with SnapStart: once its snapshot can be taken), else what ended the init.

        `serve` tries a new version of a function's code this way before it replaces the old one.
        """
        try:
            await self.start()
        except RuntimeStartError as error:
            return platform_errors.invalid_entrypoint(str(error))
        assert self.api is not None and self._exited is not None
        ready = self.api.restore_ready if self.config.snap_start else self.api.initialized
        left = self.init_timeout_seconds - (time.perf_counter() - self._started_at)
        outcome = await _first(
            {"ready": ready.future, "init_error": self.api.init_failed.future, "exited": self._exited},
            timeout=left,
        )
        if outcome == "ready":
            return None
        if outcome == "timeout":
            return platform_errors.init_timed_out(self.init_timeout_seconds)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._exited), 1.0)
        if self.api.init_error is not None:
            return self.api.init_error
        return platform_errors.init_exit_error(self.process.returncode if self.process else None)

    async def run(self, invocation: Invocation) -> None:
        """Run one invocation to its end: answered, failed, timed out or crashed."""
        try:
            await self.start()
        except RuntimeStartError as error:
            invocation.fail(platform_errors.invalid_entrypoint(str(error)))
            invocation.finish()
            return
        assert self.api is not None and self.process is not None and self._exited is not None
        self._log_tail.clear()
        self.api.submit(invocation)
        try:
            await self._supervise(invocation)
        finally:
            if invocation.log_tail_ready is not None:
                await self._let_output_arrive()
            invocation.log_tail = bytes(self._log_tail)
            if invocation.log_tail_ready is not None:
                invocation.log_tail_ready.set()

    async def _let_output_arrive(self) -> None:
        """Give the output pumps a few turns of the event loop before the log tail is taken: what the
        runtime printed before its last request is in its pipes already (it wrote it first), but the
        request may have been answered before the pipes were read."""
        for _ in range(3):
            await asyncio.sleep(0)

    async def _supervise(self, invocation: Invocation) -> None:
        """Wait for the runtime to pick `invocation` up and finish it, within the limits that apply."""
        assert self.api is not None and self._exited is not None
        timeout = self.config.timeout_seconds
        if self.config.snap_start and self.api.phase is not Phase.READY:
            # The runtime's init ends in a snapshot, restored now for this invocation (`snap_start`).
            failure = await snapshot_and_restore(
                self.api,
                invocation,
                self._exited,
                started_at=self._started_at,
                function_timeout=timeout,
                restore_seconds=self.restore_timeout_seconds,
                name=self.name,
            )
            if failure is not None:
                await self._recycle(invocation, failure.error, reason=failure.reason)
                return
            outcome, remaining = "picked_up", self._remaining(invocation)
        elif self.api.phase is Phase.INITIALIZING:
            # The init phase has its own limit, counted from the runtime's start.
            init_left = self.init_timeout_seconds - (time.perf_counter() - self._started_at)
            outcome = await self._pick_up(invocation, init_left)
            if outcome == "timeout":
                log.warning(
                    "%s: the runtime did not initialize within %g s; starting it again within request %s, "
                    "limited by the function's timeout (%g s), as Lambda does",
                    self.name,
                    self.init_timeout_seconds,
                    invocation.request_id,
                    timeout,
                )
                await self._replace_runtime(platform_errors.timed_out(invocation.request_id, timeout))
                if not self.running:
                    return  # it could not be started again; the invocation has failed
                retried_at = time.perf_counter()
                outcome = await self._pick_up(invocation, timeout)
                if outcome == "timeout":
                    await self._time_out(
                        invocation,
                        f"the runtime did not initialize within the function's timeout, {timeout:g} s",
                    )
                    return
                remaining = timeout - (time.perf_counter() - retried_at)
            else:
                remaining = self._remaining(invocation)
        else:
            outcome = await self._pick_up(invocation, timeout)
            if outcome == "timeout":
                await self._time_out(
                    invocation, f"the runtime did not ask for the next event within {timeout:g} s"
                )
                return
            remaining = self._remaining(invocation)
        if outcome == "init_error":
            assert self._exited is not None
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._exited), 1.0)
            error = self.api.init_error or self._exit_error(invocation)
            await self._recycle(invocation, error, reason=f"init failed: {error.error_type}")
            return
        if outcome == "exited":
            await self._recycle(invocation, self._exit_error(invocation), reason="runtime exited")
            return

        assert self._exited is not None
        outcome = await _first(
            {"finished": invocation.finished.future, "exited": self._exited}, timeout=remaining
        )
        if outcome == "finished":
            return
        if outcome == "exited":
            await self._recycle(invocation, self._exit_error(invocation), reason="runtime exited")
            return
        await self._time_out(invocation, f"Task timed out after {timeout:.2f} seconds")

    async def _time_out(self, invocation: Invocation, reason: str) -> None:
        """Fail `invocation` with the function's timeout (`Sandbox.Timedout`) and replace the runtime."""
        error = platform_errors.timed_out(invocation.request_id, self.config.timeout_seconds)
        await self._recycle(invocation, error, reason=reason)

    async def _pick_up(self, invocation: Invocation, limit: float) -> str:
        """Wait up to `limit` seconds for the runtime to pick `invocation` up: "picked_up", "init_error",
        "exited" or "timeout"."""
        assert self.api is not None and self._exited is not None
        return await _first(
            {
                "picked_up": invocation.picked_up.future,
                "init_error": self.api.init_failed.future,
                "exited": self._exited,
            },
            timeout=limit,
        )

    def _remaining(self, invocation: Invocation) -> float:
        """What is left of the function's timeout since the runtime picked `invocation` up."""
        elapsed = (time.perf_counter_ns() - invocation.timeline.picked_up_ns) / 1e9
        return self.config.timeout_seconds - elapsed

    def _exit_error(self, invocation: Invocation) -> FunctionError:
        process = self.process
        return platform_errors.exit_error(invocation.request_id, process.returncode if process else None)

    async def _replace_runtime(self, error: FunctionError) -> None:
        """Kill the runtime and start a new one for the invocation that waits (it stays queued); if
        that fails, the invocation fails with the start error."""
        await self._kill()
        assert self.api is not None
        self.api.reset(error)
        await self.api.close_connections()
        try:
            await self.start()
        except RuntimeStartError as start_error:
            for invocation in self.api.drop_queued():
                invocation.fail(platform_errors.invalid_entrypoint(str(start_error)))
                invocation.finish()

    async def _recycle(self, invocation: Invocation, error: FunctionError, *, reason: str) -> None:
        """End the invocation with `error` and throw the runtime away; the next invocation starts a new one."""
        if self._memory is not None and self._memory.exceeded:
            error = platform_errors.out_of_memory(invocation.request_id)
        log.warning("%s: request %s: %s (%s)", self.name, invocation.request_id, error.error_type, reason)
        invocation.fail(error)
        await self._kill()
        assert self.api is not None
        self.api.reset(error)
        await self.api.close_connections()
        invocation.finish()

    async def _kill(self) -> None:
        """SIGKILL the runtime's process group (the runtime, or what it left behind if it exited)."""
        process = self.process
        if process is None:
            return
        if self._memory is not None:
            self._memory.stop()
        _signal_group(process.pid, signal.SIGKILL)
        if process.returncode is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), 5)
        await self._drain_pumps()

    async def stop(self) -> None:
        """Stop the runtime (SIGTERM, then SIGKILL after the grace period) and the Runtime API."""
        process = self.process
        if process is not None and process.returncode is None:
            _signal_group(process.pid, signal.SIGTERM)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
        await self._kill()
        if self._exited is not None:
            self._exited.cancel()
        if self.api is not None:
            self.api.reset(platform_errors.shutting_down())
            await self.api.stop()

    async def _drain_pumps(self) -> None:
        pumps, self._pumps = self._pumps, []
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*pumps, return_exceptions=True), 2)
        for pump in pumps:
            pump.cancel()

    async def _pump(self, stream: asyncio.StreamReader) -> None:
        """Forward the runtime's output line by line (and keep the last 4 KB for `LogType: Tail`)."""
        assert self.log_sink is not None
        while True:
            try:
                line = await stream.readuntil(b"\n")
            except asyncio.IncompleteReadError as end:  # the last line has no newline (or there is none)
                line = end.partial
            except asyncio.LimitOverrunError:  # a line longer than the limit: forward what is buffered
                line = await stream.read(MAX_LOG_LINE_BYTES)
            if not line:
                return
            self._log_tail += line
            if len(self._log_tail) > LOG_TAIL_BYTES:
                del self._log_tail[: len(self._log_tail) - LOG_TAIL_BYTES]
            self.log_sink(self.config.name, line.decode("utf-8", "replace").rstrip("\r\n"))


class RuntimeStartError(Exception):
    """The runtime command could not be started (not found, not executable)."""


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
