"""A TCP proxy that drops a response that goes quiet, as the proxies in front of a Lambda function do.

CloudFront gives up on an origin that sends nothing for its response timeout (30 s by default) and
API Gateway ends an idle stream (30 s edge-optimized, 5 min regional). This proxy does the same with
a timeout short enough for a test: bytes from the server are relayed as they come, and when none
came for ``idle_seconds`` both sides are closed, mid-response or not. Like CloudFront, it names the
origin in the Host header it sends (the emulator answers only to its own names).
"""

from __future__ import annotations

import socket
import threading


class IdleTimeoutProxy:
    """Listens on 127.0.0.1:``port`` and relays each connection to 127.0.0.1:``target_port``."""

    def __init__(self, target_port: int, idle_seconds: float) -> None:
        self.target_port = target_port
        self.idle_seconds = idle_seconds
        self.dropped = 0  # connections closed because the server went quiet
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="idle-proxy", daemon=True).start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                _close(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._relay_requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._relay_responses, args=(upstream, client), daemon=True).start()

    def _relay_requests(self, client: socket.socket, upstream: socket.socket) -> None:
        """Relay each request head with its Host set to the server's, as CloudFront names the origin.

        Only body-less requests (GET) are relayed: all an event stream needs.
        """
        pending = b""
        try:
            while data := client.recv(65536):
                pending += data
                while b"\r\n\r\n" in pending:
                    head, pending = pending.split(b"\r\n\r\n", 1)
                    upstream.sendall(_with_host(head, f"127.0.0.1:{self.target_port}") + b"\r\n\r\n")
        except OSError:
            pass
        _close(upstream)

    def _relay_responses(self, upstream: socket.socket, client: socket.socket) -> None:
        upstream.settimeout(self.idle_seconds)
        try:
            while data := upstream.recv(65536):
                client.sendall(data)
        except TimeoutError:
            with self._lock:
                self.dropped += 1
        except OSError:
            pass
        _close(client)
        _close(upstream)


def _with_host(head: bytes, host: str) -> bytes:
    lines = head.split(b"\r\n")
    kept = [line for line in lines[1:] if not line.lower().startswith(b"host:")]
    return b"\r\n".join([lines[0], b"Host: " + host.encode(), *kept])


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
