"""The whole local Lambda service: a pool per function, a URL server per function URL, one Lambda API.

While it serves, functions can be replaced (a new version: new invocations get fresh sandboxes, streams
in flight finish on the old ones), added (a URL on the next free port) and removed, so `serve` follows
edits to the code and the CDK app without moving the ports of the functions that stay.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from cdk_stream_fn.contract import DEFAULT_API_PORT, DEFAULT_MAX_SANDBOXES, DEFAULT_URL_PORT
from cdk_stream_fn.emulator.front_doors.function_url import FunctionUrlServer
from cdk_stream_fn.emulator.front_doors.iam_auth import SignatureCheck, SigningCredentials
from cdk_stream_fn.emulator.front_doors.lambda_api import LambdaApiServer
from cdk_stream_fn.emulator.http.settings import ServerSettings
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig
from cdk_stream_fn.emulator.sandboxes.pool import FunctionPool
from cdk_stream_fn.emulator.sandboxes.sandbox import LogSink, Sandbox, print_log_line

log = logging.getLogger("cdk_stream_fn.emulator")


class PortInUseError(OSError):
    """A port the emulator was asked to listen on is taken."""


@dataclass(frozen=True)
class Endpoint:
    """Where one function is served."""

    function: FunctionConfig
    url: str | None


class Emulator:
    """Serves `functions` on `host`: URLs from `url_port` upward (0: any free port), the Lambda API on `api_port`.

    `allowed_hosts`: Host names the servers accept besides the loopback names and `host` itself;
    `signing_credentials`: check the SigV4 signatures of `AWS_IAM` function URLs against these (None: not
    checked, but browser pages of other origins are refused).
    `http_settings` are the timeouts and connection cap of the URL servers and the Lambda API
    (`ServerSettings()`'s defaults unless given); the Runtime API has none.
    """

    def __init__(
        self,
        functions: Sequence[FunctionConfig],
        *,
        host: str = "127.0.0.1",
        url_port: int = DEFAULT_URL_PORT,
        api_port: int = DEFAULT_API_PORT,
        max_sandboxes: int = DEFAULT_MAX_SANDBOXES,
        shape_bandwidth: bool = False,
        log_sink: LogSink | None = print_log_line,
        allowed_hosts: Sequence[str] = (),
        signing_credentials: SigningCredentials | None = None,
        http_settings: ServerSettings | None = None,
    ) -> None:
        names = [f.name for f in functions]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"function names must be unique, got {', '.join(duplicates)} more than once")
        self.functions = list(functions)
        self.host = host
        self.url_port = url_port
        self.api_port = api_port
        self.allowed_hosts = tuple(allowed_hosts)
        self.signing_credentials = signing_credentials
        self.http_settings = http_settings or ServerSettings()
        self.max_sandboxes = max_sandboxes
        self.shape_bandwidth = shape_bandwidth
        self.log_sink = log_sink
        self.pools = {f.name: self._pool(f) for f in functions}
        self.url_servers: dict[str, FunctionUrlServer] = {}
        self.api: LambdaApiServer | None = None
        self._stopped = asyncio.Event()
        self._next_url_port = url_port

    def _pool(self, function: FunctionConfig) -> FunctionPool:
        return FunctionPool(
            function,
            max_sandboxes=self.max_sandboxes,
            shape_bandwidth=self.shape_bandwidth,
            log_sink=self.log_sink,
        )

    @property
    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint(f, self.url_servers[f.name].url if f.name in self.url_servers else None)
            for f in self.functions
        ]

    @property
    def api_endpoint(self) -> str:
        assert self.api is not None, "emulator not started"
        return self.api.endpoint_url

    async def start(self, *, warm: bool = False) -> None:
        """Listen on every port; with `warm`, start one runtime per function ahead of the first request."""
        try:
            by_name = dict(self.pools)
            for function in self.functions:
                by_name.update((alias, self.pools[function.name]) for alias in function.aliases)
            region = self.functions[0].region if self.functions else "us-east-1"
            api = LambdaApiServer(
                by_name, region=region, allowed_hosts=self.allowed_hosts, settings=self.http_settings
            )
            self.api = await _listen(api, self.host, self.api_port)
            for function in self.functions:
                if function.has_url:
                    await self._open_url(function)
            if warm:
                await asyncio.gather(*(pool.warm() for pool in self.pools.values()))
        except BaseException:
            await self.stop()
            raise

    async def _open_url(self, function: FunctionConfig, *, any_free_port: bool = False) -> None:
        """Listen for `function`'s URL on the next port (the API's skipped), or on any free one."""
        port = 0 if any_free_port else self._next_url_port
        if port and port == self.api_port:
            port += 1
        signatures = None
        if self.signing_credentials is not None:
            signatures = SignatureCheck(self.signing_credentials, function.region)
        server = FunctionUrlServer(
            self.pools[function.name],
            allowed_hosts=self.allowed_hosts,
            signatures=signatures,
            settings=self.http_settings,
        )
        self.url_servers[function.name] = await _listen(server, self.host, port)
        self._next_url_port = port + 1 if port else 0

    async def replace_function(self, function: FunctionConfig, *, warm: Sandbox | None = None) -> None:
        """Serve a new version of a function already served (same name), its URL on the same port: new
        invocations run on fresh sandboxes (`warm`, one already started for it, first), and streams in
        flight finish on the sandboxes they started on."""
        pool = self.pools[function.name]
        self._unregister_aliases(pool.config)
        pool.replace(function, warm=warm)
        self._register(function)
        self.functions = [function if f.name == function.name else f for f in self.functions]
        server = self.url_servers.get(function.name)
        if server is not None and not function.has_url:
            del self.url_servers[function.name]
            await server.stop()
        elif server is None and function.has_url:
            await self._open_url_anywhere(function)

    async def add_function(self, function: FunctionConfig) -> None:
        """Serve one more function (a new name), its URL on the next free port."""
        if function.name in self.pools:
            raise ValueError(f"{function.name} is served already; replace it instead")
        self.pools[function.name] = self._pool(function)
        self.functions.append(function)
        self._register(function)
        if function.has_url:
            await self._open_url_anywhere(function)

    async def remove_function(self, name: str) -> None:
        """Stop serving a function: its URL closes, what it runs fails, its runtimes stop."""
        pool = self.pools.pop(name)
        self._unregister_aliases(pool.config)
        self.functions = [f for f in self.functions if f.name != name]
        server = self.url_servers.pop(name, None)
        if server is not None:
            await server.stop()
        await pool.stop()

    async def _open_url_anywhere(self, function: FunctionConfig) -> None:
        """The next port, or any free one if that is taken: a function added while serving must not fail
        because something else took the port meanwhile."""
        try:
            await self._open_url(function)
        except PortInUseError:
            await self._open_url(function, any_free_port=True)

    def _register(self, function: FunctionConfig) -> None:
        """Let the Lambda API find `function` by its name and aliases."""
        if self.api is not None:
            pool = self.pools[function.name]
            self.api.pools.update((name, pool) for name in (function.name, *function.aliases))

    def _unregister_aliases(self, function: FunctionConfig) -> None:
        if self.api is not None:
            for name in (function.name, *function.aliases):
                self.api.pools.pop(name, None)

    async def serve_until_stopped(self) -> None:
        await self._stopped.wait()

    def request_stop(self) -> None:
        """Ask `serve_until_stopped` to return (safe to call from a signal handler)."""
        self._stopped.set()

    async def stop(self) -> None:
        """Stop listening, fail what is in flight, stop every runtime process."""
        self._stopped.set()
        servers: list[FunctionUrlServer | LambdaApiServer] = list(self.url_servers.values())
        if self.api is not None:
            servers.append(self.api)
        await asyncio.gather(*(server.stop() for server in servers), return_exceptions=True)
        await asyncio.gather(*(pool.stop() for pool in self.pools.values()), return_exceptions=True)


ServerT = TypeVar("ServerT", FunctionUrlServer, LambdaApiServer)


async def _listen(server: ServerT, host: str, port: int) -> ServerT:
    try:
        return await server.start(host, port)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise PortInUseError(
                error.errno, f"port {port} on {host} is already in use; choose another with --port/--api-port"
            ) from None
        raise
