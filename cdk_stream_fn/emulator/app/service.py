"""The whole local Lambda service: a pool per function, a URL server per function URL, one Lambda API."""

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
from cdk_stream_fn.emulator.sandboxes.sandbox import LogSink, print_log_line

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
        self.pools = {
            f.name: FunctionPool(
                f, max_sandboxes=max_sandboxes, shape_bandwidth=shape_bandwidth, log_sink=log_sink
            )
            for f in functions
        }
        self.url_servers: dict[str, FunctionUrlServer] = {}
        self.api: LambdaApiServer | None = None
        self._stopped = asyncio.Event()

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
            next_port = self.url_port
            for function in self.functions:
                if not function.has_url:
                    continue
                if next_port and next_port == self.api_port:
                    next_port += 1
                signatures = None
                if self.signing_credentials is not None:
                    signatures = SignatureCheck(self.signing_credentials, function.region)
                server = FunctionUrlServer(
                    self.pools[function.name],
                    allowed_hosts=self.allowed_hosts,
                    signatures=signatures,
                    settings=self.http_settings,
                )
                self.url_servers[function.name] = await _listen(server, self.host, next_port)
                next_port = next_port + 1 if next_port else 0
            if warm:
                await asyncio.gather(*(pool.warm() for pool in self.pools.values()))
        except BaseException:
            await self.stop()
            raise

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
