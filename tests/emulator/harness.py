"""Test plumbing: an asyncio loop on a thread (the emulator side) and a raw-socket runtime client.

The runtime client writes the Runtime API protocol byte for byte (chunked bodies, trailers) and reads
answers with h11's client role: it is the protocol contract, not a stand-in for the emulator.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import h11

if TYPE_CHECKING:
    from cdk_stream_fn.emulator.sandboxes.invocation import Invocation

T = TypeVar("T")


class LoopThread:
    """An event loop running on a daemon thread; `run` executes a coroutine on it and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="emulator-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Start a coroutine on the loop without waiting (returns a concurrent future)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[return-value]

    def close(self) -> None:
        async def _cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(_cancel_all(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class RawRuntime:
    """One keep-alive connection to a Runtime API, speaking raw bytes."""

    def __init__(self, address: str, timeout: float = 10) -> None:
        host, port = address.rsplit(":", 1)
        self.address = address
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.h11 = h11.Connection(h11.CLIENT)

    def close(self) -> None:
        self.sock.close()

    def start(self, raw: bytes) -> None:
        """Begin a new request with raw bytes (more may follow with `send`); `read_reply` parses the answer.

        A fresh h11 client, told that a request was sent, parses the reply.
        """
        self.h11 = h11.Connection(h11.CLIENT)
        self.h11.send(h11.Request(method="GET", target="/", headers=[("host", "127.0.0.1")]))
        self.h11.send(h11.EndOfMessage())
        self.sock.sendall(raw)

    def send(self, raw: bytes) -> None:
        self.sock.sendall(raw)

    def read_reply(self) -> Reply:
        status, headers, parts = 0, {}, []
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                self.h11.receive_data(self.sock.recv(65536))
                continue
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                raise TypeError(f"unexpected event {event!r}")
        return Reply(status, headers, b"".join(parts))

    def exchange(self, raw: bytes) -> Reply:
        """Send a raw request and read the answer."""
        self.start(raw)
        return self.read_reply()

    def next(self) -> Reply:
        return self.exchange(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def streaming_head(
    request_id: str,
    content_type: str = "application/vnd.awslambda.http-integration-response",
    *,
    trailers: bool = True,
    mode: str = "streaming",
) -> bytes:
    head = (
        f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Lambda-Runtime-Function-Response-Mode: {mode}\r\n"
        "Transfer-Encoding: chunked\r\n"
    )
    if trailers:
        head += "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"
    return (head + "\r\n").encode()


def buffered(
    request_id: str,
    body: bytes,
    content_type: str = "application/json",
    action: str = "response",
    extra: str = "",
) -> bytes:
    return (
        f"POST /2018-06-01/runtime/invocation/{request_id}/{action} HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


class ServedEmulator:
    """An `Emulator` serving `functions` on ephemeral ports, on its own loop thread."""

    def __init__(self, functions: list, **options: Any) -> None:
        from cdk_stream_fn.emulator.app.service import Emulator

        self.loop = LoopThread()
        self.log_lines: list[tuple[str, str]] = []
        options.setdefault("log_sink", lambda name, line: self.log_lines.append((name, line)))
        self.emulator = Emulator(functions, url_port=0, api_port=0, **options)
        try:
            self.loop.run(self.emulator.start())
        except BaseException:
            self.loop.close()
            raise

    def url(self, name: str) -> str:
        return self.emulator.url_servers[name].url

    def port(self, name: str) -> int:
        return self.emulator.url_servers[name].port

    @property
    def endpoint(self) -> str:
        return self.emulator.api_endpoint

    def warm_all(self, timeout: float = 60) -> None:
        """Start a runtime for every function now, all at once, so no test pays a cold start."""

        async def warm() -> None:
            await asyncio.gather(
                *(pool.warm() for pool in self.emulator.pools.values()), return_exceptions=True
            )

        self.loop.run(warm(), timeout=timeout)

    def lines_of(self, name: str, until: str, timeout: float = 10) -> list[str]:
        """The output lines of function `name` once one of them contains `until` (the runtime's output
        reaches the log sink through its pipes, which may be read after the response was answered)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = [line for function, line in self.log_lines if function == name]
            if any(until in line for line in lines) or time.monotonic() > deadline:
                return lines
            time.sleep(0.01)

    def idle(self, name: str, timeout: float = 10) -> None:
        """Wait until no invocation of `name` is running (the runtime finished, even for a gone client)."""

        async def _wait() -> None:
            pool = self.emulator.pools[name]
            while pool._running:
                await asyncio.sleep(0.01)

        self.loop.run(_wait(), timeout)

    def close(self) -> None:
        try:
            self.loop.run(self.emulator.stop(), timeout=30)
        finally:
            self.loop.close()


def lambda_client(endpoint: str, read_timeout: float = 60) -> Any:
    """boto3's Lambda client against an emulator's Lambda API: unsigned (nothing may reach AWS), no retries."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 0}, read_timeout=read_timeout),
    )


async def outcome(invocation: Invocation) -> tuple[Any, bytes]:
    """(head, body) of an emulator invocation's response, or (InvocationFailed, b"")."""
    from cdk_stream_fn.emulator.sandboxes.invocation import InvocationFailed

    try:
        head = await invocation.head()
    except InvocationFailed as failed:
        return failed, b""
    return head, await invocation.read_all()


def read_blocks(
    port: int,
    path: str,
    *,
    separator: bytes = b"\n\n",
    method: str = "GET",
    body: bytes | None = None,
    timeout: float = 120,
) -> tuple[http.client.HTTPResponse, list[tuple[float, str]]]:
    """Send a request to a function URL on this machine and read the response's `separator`-ended blocks
    (server-sent events by default) as they arrive, each with the seconds from the request to the arrival
    of its last byte, so a test can tell blocks produced apart from blocks delivered together at the end."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        started = time.monotonic()
        connection.request(
            method, path, body=body, headers={"content-type": "application/json"} if body else {}
        )
        response = connection.getresponse()
        blocks: list[tuple[float, str]] = []
        pending = b""
        while chunk := response.read1(65536):
            pending += chunk
            *complete, pending = pending.split(separator)
            blocks += [(time.monotonic() - started, block.decode()) for block in complete]
    finally:
        connection.close()
    return response, blocks


def event_data(block: str) -> Any:
    """The JSON `data:` of one server-sent event."""
    return json.loads(block.split("data: ", 1)[1])


def wait_for_log(caplog: Any, text: str, timeout: float = 10) -> str:
    """The captured log once it contains `text` (servers log a request just after its last byte went out)."""

    deadline = time.monotonic() + timeout
    while text not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.01)
    return str(caplog.text)
