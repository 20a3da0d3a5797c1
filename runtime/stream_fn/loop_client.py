"""The Runtime API client of one invocation slot, driven by the process's asyncio event loop.

On Lambda Managed Instances one runtime process serves several invocations at once
(:mod:`stream_fn.managed_instances`); async handlers and ASGI apps share the one event loop, and each
slot has its own connection to the Runtime API, as each of the stock client's worker processes does.
This client sends the same requests as :class:`stream_fn.runtime_api.RuntimeApiClient` (whose request
heads, checked once, it uses), but never blocks the loop:

* The socket is non-blocking. A send goes out at once in one ``sendmsg`` when the socket's buffer has
  room, which is the common case for a stream that mostly waits; what does not fit is queued, in
  order, and the loop's writer callback sends it when the socket is writable. Queued parts keep a
  reference to ``bytes`` (immutable) and copy anything else (a ``bytearray`` the handler may reuse
  after ``write`` returned). :attr:`backlog` and :meth:`drained` let a writer that can wait, wait.
* Replies are read by the loop's reader callback into a sans-IO :class:`~stream_fn.reply_parser.ReplyParser`.
* ``GET /next`` is retried with the stock client's backoff for Managed Instances
  (:data:`stream_fn.concurrency.NEXT_RETRY_DELAYS`).
* A streamed response's request (:class:`LoopStreamedRequest`) sends its last chunk and returns; the
  Runtime API's answer is read afterwards with :meth:`stream_reply`, so ending a stream never waits
  on the loop.

The first bytes of a response need the connection to be open: a slot calls :meth:`ready` after each
``/next`` (which reconnects if the Runtime API closed the connection).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import socket
import sys

from stream_fn import framing
from stream_fn.concurrency import NEXT_RETRY_DELAYS
from stream_fn.reply_parser import ReplyParser
from stream_fn.runtime_api import (
    ConnectionLostError,
    InvocationEvent,
    Response,
    RuntimeApiClient,
    RuntimeApiError,
    RuntimeApiUnavailableError,
    describe_early_reply,
    parse_address,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from _typeshed import ReadableBuffer

_RECEIVE_SIZE = 65536
_MAX_BUFFERS_PER_SEND = 512  # well under IOV_MAX (1024 on Linux)


class LoopRuntimeApiClient:
    """One slot's connection to the Runtime API, on ``loop``; one request at a time, as over HTTP/1.1."""

    def __init__(
        self,
        address: str,
        user_agent: str,
        loop: asyncio.AbstractEventLoop,
        *,
        next_retry_delays: tuple[float, ...] = NEXT_RETRY_DELAYS,
    ) -> None:
        self.address = address
        self._host, self._port = parse_address(address)
        self._heads = RuntimeApiClient(address, user_agent)  # builds request heads; never connects
        self._loop = loop
        self._next_retry_delays = next_retry_delays
        self._sock: socket.socket | None = None
        self._parser = ReplyParser()
        self._queue: collections.deque[Any] = collections.deque()
        self._queued_bytes = 0
        self._writing = False
        self._drained: asyncio.Future[None] | None = None
        self._reply: asyncio.Future[Response] | None = None
        self._broken: OSError | None = None
        #: A streamed response sent its last chunk and its answer is still to be read.
        self.reply_pending = False

    # -- what a slot uses ---------------------------------------------------------------------------

    @property
    def backlog(self) -> int:
        """Bytes handed to this client that the socket has not taken yet."""
        return self._queued_bytes

    async def drained(self) -> None:
        """Wait until everything sent so far has gone to the socket (raises if the connection broke)."""
        if self._queued_bytes:
            if self._drained is None or self._drained.done():
                self._drained = self._loop.create_future()
            await asyncio.shield(self._drained)
        if self._broken is not None:
            raise ConnectionLostError(str(self._broken))

    async def next_event(self) -> InvocationEvent:
        """``GET /runtime/invocation/next``, retried with backoff; raise once the last attempt failed."""
        failure: Exception
        for delay in (*self._next_retry_delays, None):
            try:
                head = self._heads.next_head
                response = await self._exchange([head], len(head))
            except (OSError, RuntimeApiUnavailableError) as error:
                self.close()
                failure = RuntimeApiUnavailableError(
                    f"could not get the next invocation from the Runtime API at {self.address}: {error}"
                )
            else:
                if response.status == 200:
                    return InvocationEvent(response.headers, response.body)
                failure = RuntimeApiError("GET /runtime/invocation/next", response.status, response.body)
            if delay is None:
                break
            sys.stderr.write(f"stream_fn: {failure}; trying again in {delay:g} s\n")
            await asyncio.sleep(delay)
        raise failure

    async def ready(self) -> None:
        """Make sure the connection is open, so a response can start without waiting.

        Called right after ``/next`` answered on it, so an open connection is taken as it is (the idle check
        of the other requests would cost a system call per invocation for nothing)."""
        if self._sock is None or self._broken is not None:
            await self._connected()

    async def send_response(self, request_id: str, body: bytes, content_type: str) -> None:
        """Send a buffered response for ``request_id`` and read the answer (202 or an error)."""
        head = self._heads.response_head(request_id, body, content_type)
        await self._post(head, body, "POST /runtime/invocation/{id}/response")

    async def send_invocation_error(
        self, request_id: str, error_document: bytes, error_type: str | None, xray_cause: str | None
    ) -> None:
        """Report that ``request_id`` failed before any response byte was sent."""
        head = self._heads.error_head(request_id, error_document, error_type, xray_cause)
        await self._post(head, error_document, "POST /runtime/invocation/{id}/error")

    def streamed_response(self, request_id: str, content_type: str) -> LoopStreamedRequest:
        """A streamed ``POST /response`` for ``request_id``; its head goes out with its first bytes."""
        return LoopStreamedRequest(self, self._heads.streamed_head(request_id, content_type))

    async def stream_reply(self) -> None:
        """Read the Runtime API's answer to the streamed response that just ended: 202, or raise."""
        self.reply_pending = False
        try:
            response = await self._read_reply()
        except (OSError, RuntimeApiUnavailableError) as error:
            self.close()
            raise RuntimeApiUnavailableError(f"no reply to the streamed response: {error}") from error
        if response.status != 202:
            raise RuntimeApiError(
                "POST /runtime/invocation/{id}/response (streamed)", response.status, response.body
            )

    def close(self) -> None:
        """Drop the connection (and anything queued on it); the next request opens a new one."""
        sock, self._sock = self._sock, None
        if sock is not None:
            if self._writing:
                self._loop.remove_writer(sock.fileno())
            self._loop.remove_reader(sock.fileno())
            sock.close()
        self._writing = False
        self._queue.clear()
        self._queued_bytes = 0
        self._parser = ReplyParser()
        self._broken = None
        self.reply_pending = False
        for waiter in (self._drained, self._reply):
            if waiter is not None and not waiter.done():
                waiter.set_exception(ConnectionLostError("the connection was closed"))
        self._drained = self._reply = None

    # -- sending --------------------------------------------------------------------------------------

    def transmit(self, buffers: list[Any], size: int) -> None:
        """Send ``buffers`` (``size`` bytes) now, as far as the socket takes them; queue the rest in order."""
        sock = self._sock
        if sock is None or self._broken is not None:
            raise ConnectionLostError(
                str(self._broken)
                if self._broken is not None
                else "the connection to the Runtime API is closed"
            )
        if self._queued_bytes:
            self._enqueue(buffers, 0)
            return
        try:
            sent = sock.sendmsg(buffers)
        except BlockingIOError:
            sent = 0
        except OSError as error:
            self._broken = error
            raise ConnectionLostError(f"{error}{self._early_reply()}") from error
        if sent != size:
            self._enqueue(buffers, sent)
            self._start_writing()

    def _enqueue(self, buffers: list[Any], skip: int) -> None:
        """Queue what is left of ``buffers`` after ``skip`` bytes, copying only what could change later."""
        for buffer in buffers:
            view = memoryview(buffer)
            if view.format != "B" or view.ndim != 1:
                view = view.cast("B")
            if skip >= view.nbytes:
                skip -= view.nbytes
                continue
            if skip:
                view, skip = view[skip:], 0
            self._queue.append(view if isinstance(buffer, bytes) else bytes(view))
            self._queued_bytes += view.nbytes

    def _start_writing(self) -> None:
        if not self._writing and self._sock is not None:
            self._writing = True
            self._loop.add_writer(self._sock.fileno(), self._on_writable)

    def _on_writable(self) -> None:
        sock = self._sock
        queue = self._queue
        while queue and sock is not None:
            batch = list(itertools.islice(queue, _MAX_BUFFERS_PER_SEND))
            try:
                sent = sock.sendmsg(batch)
            except BlockingIOError:
                return
            except OSError as error:
                self._broken = error
                self._fail_waiters(ConnectionLostError(str(error)))
                break
            self._queued_bytes -= sent
            while sent:
                first = queue[0]
                size = len(first) if isinstance(first, bytes) else first.nbytes
                if sent >= size:
                    queue.popleft()
                    sent -= size
                else:
                    queue[0] = memoryview(first)[sent:]
                    sent = 0
        if not queue or self._broken is not None:
            if self._writing and sock is not None:
                self._loop.remove_writer(sock.fileno())
            self._writing = False
            if self._drained is not None and not self._drained.done():
                self._drained.set_result(None)

    # -- replies --------------------------------------------------------------------------------------

    async def _post(self, head: bytes, body: bytes, endpoint: str) -> None:
        try:
            response = await self._exchange([head, body], len(head) + len(body))
        except (OSError, RuntimeApiUnavailableError) as error:
            self.close()
            raise RuntimeApiUnavailableError(f"{endpoint} failed: {error}") from error
        if response.status != 202:
            raise RuntimeApiError(endpoint, response.status, response.body)

    async def _exchange(self, buffers: list[Any], size: int) -> Response:
        await self._connected()
        self.transmit(buffers, size)
        return await self._read_reply()

    async def _read_reply(self) -> Response:
        response = self._parser.next_reply()
        if response is None:
            sock = self._sock
            if sock is None:
                raise RuntimeApiUnavailableError("the connection to the Runtime API is closed")
            if self._broken is not None:
                raise ConnectionLostError(str(self._broken))
            self._reply = self._loop.create_future()
            self._loop.add_reader(sock.fileno(), self._on_readable)
            try:
                response = await self._reply
            finally:
                self._reply = None
                if self._sock is sock:
                    self._loop.remove_reader(sock.fileno())
        if not response.keep_alive:
            self.close()
        return response

    def _on_readable(self) -> None:
        reply = self._reply
        sock = self._sock
        if reply is None or reply.done() or sock is None:
            return
        try:
            while True:
                try:
                    data = sock.recv(_RECEIVE_SIZE)
                except BlockingIOError:
                    break
                if not data:
                    self._parser.feed_eof()
                    break
                self._parser.feed(data)
            response = self._parser.next_reply()
        except (OSError, RuntimeApiUnavailableError) as error:
            reply.set_exception(error)
            return
        if response is not None:
            reply.set_result(response)

    def _fail_waiters(self, error: Exception) -> None:
        for waiter in (self._drained, self._reply):
            if waiter is not None and not waiter.done():
                waiter.set_exception(error)

    def _early_reply(self) -> str:
        """What the Runtime API answered before it closed the connection, if anything (never waits)."""
        sock = self._sock
        if sock is None:
            return ""
        try:
            while data := sock.recv(_RECEIVE_SIZE):
                self._parser.feed(data)
            self._parser.feed_eof()
        except OSError:
            pass
        try:
            response = self._parser.next_reply()
        except RuntimeApiUnavailableError:
            return ""
        if response is None:
            return ""
        return describe_early_reply(response)

    # -- the connection -------------------------------------------------------------------------------

    async def _connected(self) -> socket.socket:
        """The open connection, replaced first if it broke or the server closed it while it was idle."""
        sock = self._sock
        if sock is not None and (self._broken is not None or (self._parser.idle and _peer_closed(sock))):
            self.close()
            sock = None
        if sock is None:
            sock = await self._connect()
            self._sock = sock
        return sock

    async def _connect(self) -> socket.socket:
        error: OSError = OSError(f"{self._host} did not resolve to any address")
        lookup_host = self._host.encode("ascii") if self._host.isascii() else self._host
        for family, kind, protocol, _, address in socket.getaddrinfo(
            lookup_host, self._port, 0, socket.SOCK_STREAM
        ):
            sock = socket.socket(family, kind, protocol)
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                await self._loop.sock_connect(sock, address)
            except OSError as failure:
                sock.close()
                error = failure
                continue
            return sock
        raise RuntimeApiUnavailableError(f"cannot connect to the Runtime API at {self.address}: {error}")


def _peer_closed(sock: socket.socket) -> bool:
    """True if an idle connection is readable (on an idle keep-alive connection that means it closed)."""
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True  # end of file, or bytes nobody asked for: either way the connection is unusable


class LoopStreamedRequest:
    """One streamed ``POST /runtime/invocation/{id}/response`` on a :class:`LoopRuntimeApiClient`.

    The same protocol as :class:`stream_fn.runtime_api.StreamedRequest` (``send``, ``send_chunk``,
    ``finish``), so :class:`~stream_fn.streams.ResponseStream` uses it unchanged: each part one chunk,
    the head with the first. ``finish`` sends the last chunk and returns without the answer; the slot
    reads it with :meth:`LoopRuntimeApiClient.stream_reply`.
    """

    __slots__ = ("_client", "_head")

    def __init__(self, client: LoopRuntimeApiClient, head: bytes) -> None:
        self._client = client
        self._head: bytes | None = head

    def send(self, parts: Sequence[ReadableBuffer]) -> None:
        self._transmit(*framing.chunks(parts))

    def send_chunk(self, data: ReadableBuffer, size: int) -> None:
        buffers = framing.chunk(data, size)
        if self._head is None:
            self._client.transmit(buffers, len(buffers[0]) + size + 2)
        else:
            self._transmit(buffers, len(buffers[0]) + size + 2)

    def finish(self, parts: Sequence[ReadableBuffer] = (), trailers: Sequence[tuple[str, str]] = ()) -> None:
        closing = framing.last_chunk(trailers) if trailers else framing.LAST_CHUNK
        buffers, size = framing.chunks(parts) if parts else ([], 0)
        buffers.append(closing)
        self._transmit(buffers, size + len(closing))
        self._client.reply_pending = True

    def _transmit(self, buffers: list[Any], size: int) -> None:
        head = self._head
        if head is not None:
            self._head = None
            buffers = [head, *buffers]
            size += len(head)
        self._client.transmit(buffers, size)
