"""How long a server waits for its clients, and how many connections it holds open.

The defaults are nginx's, the classic server facing clients it cannot trust (its `ngx_http_core_module`
documentation): `client_header_timeout 60s` (the whole head within 60 s, else 408),
`client_body_timeout 60s` (no body bytes for 60 s, else 408), `keepalive_timeout 75s`, `send_timeout 60s`
(the client reads nothing of the response for 60 s, then the connection is closed). uvicorn and Node.js
close idle keep-alive connections sooner (5 s); a longer wait costs nothing here, because idle connections
are the first to go when the cap is reached, and it spares clients whose pools keep connections longer
(aiohttp 15 s, Go 90 s) a request on a connection the server is closing. Go's net/http and uvicorn set no
header or body timeout by default; without them a few hundred idle or slow sockets made the emulator
unresponsive.

The cap on open connections is the emulator's own: nginx's `worker_connections` defaults to 512 for a
whole worker; 128 per server keeps one busy server below macOS's default descriptor limit (256) with room
for the runtime processes' pipes and sockets, and far above what browsers open (6 per host).
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ServerSettings:
    """Timeouts (seconds) and the connection cap of one HTTP server; None turns each one off.

    :param header_timeout: a request's whole head must arrive within this many seconds of its first
        byte (of connecting, for a connection's first request); else 408, or a quiet close if nothing came.
    :param body_timeout: the longest pause between two pieces of a request body; else 408.
    :param keep_alive_timeout: how long a connection may sit idle between requests; then it is closed.
    :param send_timeout: the longest a client may read nothing of a response; then the connection is
        dropped (the function runs on, as on Lambda).
    :param max_connections: open connections at most; beyond it the oldest idle one is closed to make
        room, and if none is idle the server stops accepting (clients wait in the listen backlog) until
        one closes.
    """

    header_timeout: float | None = 60.0
    body_timeout: float | None = 60.0
    keep_alive_timeout: float | None = 75.0
    send_timeout: float | None = 60.0
    max_connections: int | None = 128

    def __post_init__(self) -> None:
        problems = [
            f"{field.name} must be positive or None, got {value!r}"
            for field in fields(self)
            if (value := getattr(self, field.name)) is not None and not value > 0
        ]
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def unbounded(cls) -> ServerSettings:
        """No timeouts and no cap: for the Runtime API, whose one client is the runtime process, which may
        rightly wait in `GET /next` for minutes."""
        return cls(
            header_timeout=None,
            body_timeout=None,
            keep_alive_timeout=None,
            send_timeout=None,
            max_connections=None,
        )
