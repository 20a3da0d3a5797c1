"""A TCP listener whose HTTP connections are served one of two ways, and can all be stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from cdk_stream_fn.emulator.http.connection import (
    BadRequest,
    ClientGone,
    HttpConnection,
    reject,
    reject_bad_request,
)

log = logging.getLogger("cdk_stream_fn.emulator")

Handler = Callable[[HttpConnection], Awaitable[None]]


class HttpServer:
    """A TCP listener on loopback whose connections are served one of two ways, and can all be stopped.

    `serve`: a coroutine run for each connection (errors it raises become 400/500 answers);
    `attach`: a callback given each new connection, which then handles its `on_input` itself.
    """

    def __init__(
        self,
        *,
        name: str,
        serve: Handler | None = None,
        attach: Callable[[HttpConnection], object] | None = None,
    ) -> None:
        if (serve is None) == (attach is None):
            raise ValueError("give exactly one of serve and attach")
        self._serve_with = serve
        self._attach = attach
        self.name = name
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[HttpConnection] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> HttpServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: HttpConnection(self._open), host, port)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def host(self) -> str:
        assert self._server is not None, "server not started"
        return str(self._server.sockets[0].getsockname()[0])

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _open(self, connection: HttpConnection) -> None:
        self._connections.add(connection)
        connection.closed.add_done_callback(lambda _: self._connections.discard(connection))
        if self._attach is not None:
            self._attach(connection)
        else:
            connection.task = asyncio.get_running_loop().create_task(self._serve(connection))

    async def _serve(self, connection: HttpConnection) -> None:
        assert self._serve_with is not None
        try:
            await self._serve_with(connection)
        except ClientGone as gone:
            log.debug("%s: %s:%s went away: %s", self.name, *connection.peer, gone)
        except BadRequest as error:
            reject_bad_request(connection, error)
        except asyncio.CancelledError:
            # Stopped by close_connections(); this task is the connection's root, so it ends here quietly.
            connection.abort()
        except Exception:
            log.exception("%s: unexpected error while serving %s:%s", self.name, *connection.peer)
            reject(connection, 500, b"Internal Server Error")
        finally:
            await connection.close()

    async def close_connections(self) -> None:
        """Drop every open connection (the listener stays)."""
        connections = list(self._connections)
        tasks = [c.task for c in connections if c.task is not None and not c.task.done()]
        for connection in connections:
            if connection.task is not None:
                connection.task.cancel()
            connection.abort()
        await asyncio.gather(*tasks, *(c.closed for c in connections), return_exceptions=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self.close_connections()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
