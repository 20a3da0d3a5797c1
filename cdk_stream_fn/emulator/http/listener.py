"""Listening sockets and the accept loop, which a server can pause and which survives running out of
file descriptors.

asyncio's own server accepts whenever a socket is readable and cannot be told to stop at a cap. This one
stops when `on_accept` says so, until the server calls `resume`: meanwhile new connections wait in the
kernel's listen backlog. When accept() fails for lack of descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM) it stops
accepting, logs once, and tries again when the server says a connection closed (`resume`) or after a
back-off (5 ms doubling up to 1 s, as Go's net/http does), in case descriptors were freed elsewhere; the
connections already open are served throughout.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable

log = logging.getLogger("cdk_stream_fn.emulator")

#: accept() errors that mean "no descriptors or memory for now", not "this connection failed".
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: The listen backlog: nginx's on Linux (the kernel caps it at net.core.somaxconn).
BACKLOG = 511
#: Connections accepted per wake-up at most, so one busy listener cannot starve the rest of the loop.
_ACCEPTS_PER_WAKE = 64
_FIRST_RETRY_SECONDS = 0.005
_LAST_RETRY_SECONDS = 1.0


class Listener:
    """The listening sockets of one server: hands each accepted socket to `on_accept`, which returns
    whether to go on accepting (False pauses the listener until `resume`)."""

    def __init__(self, name: str, *, on_accept: Callable[[socket.socket], bool]) -> None:
        self.name = name
        self._on_accept = on_accept
        self.sockets: list[socket.socket] = []
        #: The address of the first socket (host, port), once bound.
        self.address: tuple[str, int] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._accepting = False
        self._closed = False
        self._retry: asyncio.TimerHandle | None = None
        self._retry_seconds = 0.0
        #: accept() ran out of descriptors and the backlog has not been emptied since.
        self._short_of_descriptors = False

    async def bind(self, host: str, port: int) -> None:
        """Listen on every address `host` resolves to (as asyncio's `create_server` does), and accept."""
        loop = self._loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        seen = set()
        try:
            for family, kind, protocol, _, address in infos:
                if (family, address) in seen:
                    continue
                seen.add((family, address))
                try:
                    sock = socket.socket(family, kind, protocol)
                except OSError as error:  # e.g. IPv6 switched off: serve the other addresses
                    log.warning("%s: cannot listen on %s: %s", self.name, address[0], error)
                    continue
                self.sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    sock.bind(address)
                except OSError as error:
                    raise OSError(
                        error.errno, f"cannot listen on {host} port {port}: {error.strerror}"
                    ) from None
                sock.listen(BACKLOG)
                sock.setblocking(False)
        except BaseException:
            self.close()
            raise
        if not self.sockets:
            raise OSError(f"{host} resolves to no address this machine can listen on")
        host_name, port_number = self.sockets[0].getsockname()[:2]
        self.address = (str(host_name), int(port_number))
        self.resume()

    def resume(self) -> None:
        """Accept again (after `on_accept` said to stop, or accept() ran out of descriptors)."""
        if self._accepting or self._closed or self._loop is None:
            return
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self._accepting = True
        for sock in self.sockets:
            self._loop.add_reader(sock.fileno(), self._accept, sock)
        if self._short_of_descriptors:
            for sock in self.sockets:  # find out now whether descriptors are back, backlog or not
                if self._accepting:
                    self._accept(sock)

    def close(self) -> None:
        """Stop accepting and close the listening sockets (open connections are the server's)."""
        self._pause()
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        for sock in self.sockets:
            sock.close()

    def pause(self) -> None:
        """Stop accepting until `resume`."""
        self._pause()

    def _pause(self) -> None:
        if self._accepting and self._loop is not None:
            self._accepting = False
            for sock in self.sockets:
                if sock.fileno() >= 0:
                    self._loop.remove_reader(sock.fileno())

    def _accept(self, listening: socket.socket) -> None:
        for _ in range(_ACCEPTS_PER_WAKE):
            try:
                sock, _ = listening.accept()
            except (BlockingIOError, InterruptedError):
                if self._short_of_descriptors:
                    self._short_of_descriptors = False
                    log.info("%s: accepting connections again", self.name)
                return
            except OSError as error:
                if error.errno in _OUT_OF_RESOURCES:
                    self._out_of_descriptors(error)
                    return
                # The peer gave up before we accepted it (ECONNABORTED, EPROTO): nothing to serve.
                log.debug("%s: accept() failed: %s", self.name, error)
                continue
            self._retry_seconds = 0.0
            sock.setblocking(False)
            if not self._on_accept(sock):
                self._pause()  # the server calls `resume` when it has room again
                return

    def _out_of_descriptors(self, error: OSError) -> None:
        if not self._short_of_descriptors:
            self._short_of_descriptors = True
            log.warning(
                "%s: cannot accept connections: %s; serving the open ones and accepting again as soon as "
                "descriptors free up (raise the limit with `ulimit -n`)",
                self.name,
                error.strerror or error,
            )
        self._pause()
        self._retry_seconds = min(max(self._retry_seconds * 2, _FIRST_RETRY_SECONDS), _LAST_RETRY_SECONDS)
        assert self._loop is not None
        self._retry = self._loop.call_later(self._retry_seconds, self.resume)
