"""A fake Lambda Runtime API for the runtime's tests: a real HTTP/1.1 server on 127.0.0.1:0.

It hands out queued events on ``GET /runtime/invocation/next``, records every request the runtime
makes (head, body, chunk boundaries, trailers, arrival times, and the raw bytes of each
connection), and answers like RAPID: 202 to responses and errors. Faults can be programmed: a
status instead of the next event, a status for responses, a connection closed after a reply or
reset in the middle of a streamed body.
"""

from __future__ import annotations

import json
import queue
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Self

import h11

API = "/2018-06-01/runtime"
RAPID_TRAILER_BUFFER = 4096
"""Go's net/http reads a trailer section only within its read buffer (transfer.go, readTrailer)."""


@dataclass
class RecordedRequest:
    """One request the runtime sent, as the server received it."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    connection_id: int
    started_at: float
    chunks: list[bytearray] = field(default_factory=list)
    chunk_times: list[float] = field(default_factory=list)
    trailers: list[tuple[str, str]] = field(default_factory=list)
    complete: bool = False

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key == name.lower()]
        return ", ".join(values) if values else None

    def trailer(self, name: str) -> str | None:
        values = [value for key, value in self.trailers if key == name.lower()]
        return values[0] if values else None

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class Event:
    """An invocation waiting to be handed out by ``GET /next``."""

    body: bytes
    request_id: str
    headers: list[tuple[str, str]]


class FakeRuntimeApi:
    """The server. Use as a context manager; everything is torn down on exit."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._events: queue.Queue[Event | None] = queue.Queue()
        self._lock = threading.Condition()
        self.requests: list[RecordedRequest] = []
        self.raw_by_connection: dict[int, bytearray] = {}
        self.next_statuses: list[tuple[int, bytes]] = []
        self.response_status: Callable[[RecordedRequest], tuple[int, bytes]] = lambda request: (
            202,
            b'{"status":"OK"}',
        )
        self.close_after_next_reply = False
        self.announce_close = False
        self.chunked_replies = False
        self.reset_after_chunks: int | None = None
        self.reset_done = threading.Event()
        self.results_received = 0
        self._closing = False
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._accept_thread = threading.Thread(target=self._accept_loop, name="fake-runtime-api", daemon=True)

    def __enter__(self) -> Self:
        self._accept_thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._closing = True
        for _ in range(len(self._threads) + 1):
            self._events.put(None)
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() in the accept thread
        except OSError:
            pass
        self._listener.close()
        for sock in list(self._sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in [self._accept_thread, *self._threads]:
            thread.join(timeout=5)

    # -- driving the runtime ------------------------------------------------------------------

    def push(
        self,
        event: object = None,
        *,
        request_id: str | None = None,
        raw_body: bytes | None = None,
        content_type: str | None = "application/json",
        deadline_ms: int | None = None,
        trace_id: str | None = "",
        extra_headers: list[tuple[str, str]] | None = None,
    ) -> str:
        """Queue an invocation and return its request id."""
        request_id = str(uuid.uuid4()) if request_id is None else request_id
        body = raw_body if raw_body is not None else json.dumps(event).encode()
        deadline = deadline_ms if deadline_ms is not None else int(time.time() * 1000) + 30_000
        headers = [
            ("Lambda-Runtime-Aws-Request-Id", request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline)),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:test-fn"),
        ]
        if trace_id is not None:
            headers.append(
                ("Lambda-Runtime-Trace-Id", trace_id or f"Root=1-00000000-{request_id[:24]};Sampled=0")
            )
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        headers += extra_headers or []
        self._events.put(Event(body, request_id, headers))
        return request_id

    def invoke(self, event: object = None, *, timeout: float = 10, **kwargs: object) -> RecordedRequest:
        """Queue an invocation and wait for the runtime's response or error for it."""
        request_id = self.push(event, **kwargs)  # type: ignore[arg-type]
        return self.wait_for_result(request_id, timeout=timeout)

    def wait_for_result(self, request_id: str, *, timeout: float = 10) -> RecordedRequest:
        prefix = f"{API}/invocation/{request_id}/"
        return self.wait_for(
            lambda request: (
                request.complete and request.target.startswith(prefix) and request.method == "POST"
            ),
            timeout=timeout,
            what=f"the result of {request_id}",
        )

    def wait_for(
        self, predicate: Callable[[RecordedRequest], bool], *, timeout: float = 10, what: str = "a request"
    ) -> RecordedRequest:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for request in self.requests:
                    if predicate(request):
                        return request
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"timed out waiting for {what}; requests so far: {self.summary()}")
                self._lock.wait(remaining)

    def wait_for_results(self, count: int, *, timeout: float = 10) -> None:
        """Wait until the runtime has posted ``count`` results (responses or errors) in all."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.results_received < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"only {self.results_received} of {count} results arrived")
                self._lock.wait(remaining)

    def forget_requests(self) -> None:
        """Drop the records kept so far (long runs must not grow the fake's own memory)."""
        with self._lock:
            self.requests.clear()
            for raw in self.raw_by_connection.values():
                raw.clear()

    def wait_for_next_calls(self, count: int, *, timeout: float = 10) -> None:
        """Wait until the runtime has asked for the next invocation ``count`` times."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while sum(1 for request in self.requests if request.target.endswith("/invocation/next")) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"the runtime did not call /next {count} times; requests: {self.summary()}"
                    )
                self._lock.wait(remaining)

    def summary(self) -> list[str]:
        with self._lock:
            return [f"{request.method} {request.target}" for request in self.requests]

    def raw_bytes(self) -> bytes:
        with self._lock:
            return b"".join(bytes(raw) for raw in self.raw_by_connection.values())

    # -- the server -------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        connection_id = 0
        while not self._closing:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            connection_id += 1
            self._sockets.append(sock)
            with self._lock:
                self.raw_by_connection[connection_id] = bytearray()
            thread = threading.Thread(target=self._serve, args=(sock, connection_id), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket, connection_id: int) -> None:
        conn = h11.Connection(h11.SERVER)
        current: RecordedRequest | None = None
        body_chunks = 0
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = sock.recv(65536)
                    with self._lock:
                        self.raw_by_connection[connection_id] += data
                    conn.receive_data(data)
                    continue
                if isinstance(event, h11.ConnectionClosed):
                    return
                if isinstance(event, h11.Request):
                    current = RecordedRequest(
                        method=event.method.decode(),
                        target=event.target.decode(),
                        headers=[(name.decode(), value.decode()) for name, value in event.headers],
                        connection_id=connection_id,
                        started_at=time.monotonic(),
                    )
                    body_chunks = 0
                    with self._lock:
                        self.requests.append(current)
                        self._lock.notify_all()
                elif isinstance(event, h11.Data):
                    assert current is not None
                    with self._lock:
                        if event.chunk_start or not current.chunks:
                            current.chunks.append(bytearray(event.data))
                            current.chunk_times.append(time.monotonic())
                            body_chunks += 1
                        else:
                            current.chunks[-1] += event.data
                        self._lock.notify_all()
                    if self.reset_after_chunks is not None and body_chunks >= self.reset_after_chunks:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        sock.close()
                        self.reset_after_chunks = None
                        self.reset_done.set()
                        return
                elif isinstance(event, h11.EndOfMessage):
                    assert current is not None
                    with self._lock:
                        current.trailers = [(name.decode(), value.decode()) for name, value in event.headers]
                        current.complete = True
                        if current.method == "POST":
                            self.results_received += 1
                        self._lock.notify_all()
                    if not self._reply(conn, sock, current):
                        return
                    if conn.our_state is h11.MUST_CLOSE or self._closing:
                        return
                    conn.start_next_cycle()
        except (OSError, h11.ProtocolError):
            return
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def _reply(self, conn: h11.Connection, sock: socket.socket, request: RecordedRequest) -> bool:
        if request.method == "GET" and request.target == f"{API}/invocation/next":
            if self.next_statuses:
                status, body = self.next_statuses.pop(0)
                self._send(conn, sock, status, [("Content-Type", "application/json")], body)
                return True
            event = self._events.get()
            if event is None:
                return False
            if _peer_has_closed(sock):
                # A runtime killed while it waited for its next event (the tests stop one and start the
                # next): leave the event to the runtime that is meant to get it.
                self._events.put(event)
                return False
            announce = [("Connection", "close")] if self.announce_close else []
            self._send(conn, sock, 200, event.headers + announce, event.body)
            if self.close_after_next_reply:
                sock.close()
                return False
            return True
        if request.trailers and trailer_section_size(request.trailers) > RAPID_TRAILER_BUFFER:
            status, body = (
                400,
                b'{"errorMessage":"HTTP request detected as truncated","errorType":"TruncatedHTTPRequest"}',
            )
        else:
            status, body = self.response_status(request)
        self._send(conn, sock, status, [("Content-Type", "application/json")], body)
        return True

    def _send(
        self,
        conn: h11.Connection,
        sock: socket.socket,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        if self.chunked_replies:  # h11 frames a reply without Content-Length as chunked
            middle = len(body) // 2
            pieces = [conn.send(h11.Response(status_code=status, headers=headers))]
            pieces += [conn.send(h11.Data(data=part)) for part in (body[:middle], body[middle:]) if part]
            sock.sendall(b"".join(pieces) + conn.send(h11.EndOfMessage()))
            return
        response = h11.Response(status_code=status, headers=[*headers, ("Content-Length", str(len(body)))])
        sock.sendall(conn.send(response) + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))


def trailer_section_size(trailers: list[tuple[str, str]]) -> int:
    """The bytes of a trailer section as it was framed: ``name: value`` lines and the final empty line."""
    return sum(len(name) + len(value) + 4 for name, value in trailers) + 2


def _peer_has_closed(sock: socket.socket) -> bool:
    """True if the other end of ``sock`` has closed it (a runtime waiting for an event sends nothing)."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
