"""An HTTP server: a listener, its open connections, the cap on them, and how each one is served.

Connections are served one of two ways: `serve`, a coroutine run for each connection (the front doors),
or `attach`, a callback given each new connection, which then handles its `on_input` itself (the Runtime
API). `ServerSettings` gives the timeouts and the cap. A connection accepted at the cap takes the place of
the oldest idle one, which is closed (as nginx reuses its idle keep-alive connections when it runs short);
when none is idle it waits, unserved, and the listener stops accepting until a connection closes or turns
idle, so later clients wait in the listen backlog rather than being refused (as with Go's
`netutil.LimitListener`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable

from cdk_stream_fn.emulator.http.admission import HostCheck
from cdk_stream_fn.emulator.http.connection import (
    BadRequest,
    ClientGone,
    HttpConnection,
    RequestTimeout,
    SendTimeout,
    reject,
    reject_bad_request,
)
from cdk_stream_fn.emulator.http.listener import Listener
from cdk_stream_fn.emulator.http.settings import ServerSettings

log = logging.getLogger("cdk_stream_fn.emulator")

Handler = Callable[[HttpConnection], Awaitable[None]]

#: How often, at most, reaching the connection cap is logged.
_CAP_LOG_SECONDS = 60.0


class HttpServer:
    """A TCP listener whose connections are served one of two ways, and can all be stopped.

    `serve`: a coroutine run for each connection (errors it raises become 400/408/500 answers);
    `attach`: a callback given each new connection, which then handles its `on_input` itself.
    `settings` default to `ServerSettings.unbounded()`: no timeouts and no cap, which suits only a server
    whose clients are the emulator's own runtime processes. `allowed_hosts`: Host names its `hosts` accept
    besides the loopback names and the address it listens on.
    """

    def __init__(
        self,
        *,
        name: str,
        serve: Handler | None = None,
        attach: Callable[[HttpConnection], object] | None = None,
        settings: ServerSettings | None = None,
        allowed_hosts: tuple[str, ...] = (),
    ) -> None:
        if (serve is None) == (attach is None):
            raise ValueError("give exactly one of serve and attach")
        self._serve_with = serve
        self._attach = attach
        self.name = name
        self.settings = settings or ServerSettings.unbounded()
        self.allowed_hosts = allowed_hosts
        self._hosts: HostCheck | None = None
        self._listener = Listener(name, on_accept=self._accepted)
        #: Open connections, oldest first.
        self._connections: dict[HttpConnection, None] = {}
        #: Idle connections closed to make room, until they are gone.
        self._evicted: set[HttpConnection] = set()
        #: Accepted connections whose transport is being set up.
        self._connecting: dict[HttpConnection, asyncio.Task[None]] = {}
        #: A socket accepted at the cap, waiting for room.
        self._held: socket.socket | None = None
        self._cap_logged_at = -_CAP_LOG_SECONDS

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> HttpServer:
        await self._listener.bind(host, port)
        self._hosts = HostCheck(host, self.port, self.allowed_hosts)
        return self

    @property
    def hosts(self) -> HostCheck:
        """The Host names a request must carry to be served here (known once the server listens)."""
        assert self._hosts is not None, "server not started"
        return self._hosts

    @property
    def port(self) -> int:
        return int(self._first_address()[1])

    @property
    def host(self) -> str:
        return str(self._first_address()[0])

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _first_address(self) -> tuple[str, int]:
        address = self._listener.address
        assert address is not None, "server not started"
        return address

    # -- accepting --------------------------------------------------------------------------------

    def _accepted(self, sock: socket.socket) -> bool:
        """Serve a newly accepted socket if there is room; else hold it and stop accepting."""
        if self._make_room():
            self._start(sock)
            return True
        self._held = sock
        return False

    def _room_freed(self) -> None:
        """A connection closed or turned idle: serve the socket held at the cap, and accept again."""
        held = self._held
        if held is not None:
            if not self._make_room():
                return
            self._held = None
            self._start(held)
        self._listener.resume()

    def _connection_idle(self) -> None:
        if self._held is not None:
            self._room_freed()  # the client held at the cap may take its place

    def _make_room(self) -> bool:
        """Whether one more connection fits under the cap, after closing the oldest idle one if need be."""
        cap = self.settings.max_connections
        if cap is None or len(self._connections) - len(self._evicted) < cap:
            return True
        idle = [c for c in self._connections if c.idle and c not in self._evicted]
        now = time.monotonic()
        if now - self._cap_logged_at >= _CAP_LOG_SECONDS:
            self._cap_logged_at = now
            log.warning(
                "%s: %d connections open, the cap (max_connections): %s",
                self.name,
                cap,
                "closing the longest idle ones to make room"
                if idle
                else "new connections wait until one closes",
            )
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c.idle_since or 0.0)
        log.debug("%s: closing %s:%s, idle, to make room", self.name, *oldest.peer)
        self._evicted.add(oldest)
        oldest.close_idle()
        return True

    def _start(self, sock: socket.socket) -> None:
        connection = HttpConnection(self._open, self.settings)
        if self.settings.max_connections is not None:
            connection.on_idle = self._connection_idle
        self._connections[connection] = None
        connection.closed.add_done_callback(lambda _: self._gone(connection))
        self._connecting[connection] = asyncio.get_running_loop().create_task(self._connect(connection, sock))

    async def _connect(self, connection: HttpConnection, sock: socket.socket) -> None:
        try:
            await asyncio.get_running_loop().connect_accepted_socket(lambda: connection, sock)
        except BaseException as error:
            if not isinstance(error, asyncio.CancelledError):
                log.debug("%s: could not set up an accepted connection: %s", self.name, error)
            sock.close()
            self._gone(connection)
            if not isinstance(error, Exception):
                raise
        finally:
            self._connecting.pop(connection, None)

    def _gone(self, connection: HttpConnection) -> None:
        self._connections.pop(connection, None)
        self._evicted.discard(connection)
        self._room_freed()

    # -- serving ----------------------------------------------------------------------------------

    def _open(self, connection: HttpConnection) -> None:
        if self._attach is not None:
            self._attach(connection)
        else:
            connection.task = asyncio.get_running_loop().create_task(self._serve(connection))

    async def _serve(self, connection: HttpConnection) -> None:
        assert self._serve_with is not None
        try:
            await self._serve_with(connection)
        except SendTimeout as timeout:
            log.warning("%s: %s:%s %s: connection dropped", self.name, *connection.peer, timeout)
        except ClientGone as gone:
            log.debug("%s: %s:%s went away: %s", self.name, *connection.peer, gone)
        except RequestTimeout as timeout:
            if timeout.status is None:
                log.debug("%s: %s:%s %s: connection closed", self.name, *connection.peer, timeout)
            else:
                log.warning("%s: %s:%s %s: %d", self.name, *connection.peer, timeout, timeout.status)
                reject(connection, timeout.status, f"Request Timeout: the client {timeout}\n".encode())
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

    # -- stopping ---------------------------------------------------------------------------------

    async def close_connections(self) -> None:
        """Drop every open connection (the listener stays)."""
        connecting = list(self._connecting.values())
        for task in connecting:
            task.cancel()
        connections = list(self._connections)
        tasks = [c.task for c in connections if c.task is not None and not c.task.done()]
        for task in tasks:
            task.cancel()
        connected = [c for c in connections if c.connected]
        for connection in connected:
            connection.abort()
        await asyncio.gather(*connecting, *tasks, *(c.closed for c in connected), return_exceptions=True)

    async def stop(self) -> None:
        self._listener.close()
        if self._held is not None:
            self._held.close()
            self._held = None
        await self.close_connections()
