"""A client for the Lambda Runtime API on one persistent HTTP/1.1 connection.

``http.client`` cannot send trailers, so this module speaks HTTP/1.1 on a plain socket: one
keep-alive connection to ``AWS_LAMBDA_RUNTIME_API`` with ``TCP_NODELAY``, request heads assembled
from parts checked once, and replies parsed just far enough for the Runtime API (status, headers,
a Content-Length or chunked body). A connection the server closed while it was idle is replaced;
``GET /next`` and buffered posts are sent again if it closed as they went out (a streamed response
cannot be: its bytes are gone).

Endpoints (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
``GET /runtime/invocation/next``, ``POST /runtime/invocation/{id}/response`` (buffered, or streamed
with ``Lambda-Runtime-Function-Response-Mode: streaming``), ``POST /runtime/invocation/{id}/error``
and ``POST /runtime/init/error``; for SnapStart, ``GET /runtime/restore/next`` and ``POST
/runtime/restore/error`` (awslambdaric ``lambda_runtime_client.py``, ``restore_next`` and
``report_restore_error``). A 5xx answer means "non-recoverable state, exit promptly".

A streamed response is a :class:`StreamedRequest`: it owns the request from its head to the
Runtime API's reply, frames each body part as one chunk (:mod:`stream_fn.framing`) and sends it at
once, and when a send fails it reads the early reply that explains why. The bytes of every request
come from :mod:`stream_fn.framing`; this module only sends them and reads replies.
"""

from __future__ import annotations

import _socket  # the C module: socket.py would add enum and selectors to every cold start, for nothing used here
import select
import time

from stream_fn import framing

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, NoReturn

    from _typeshed import ReadableBuffer


API_PREFIX = "/2018-06-01/runtime"
_API_PREFIX_BYTES = API_PREFIX.encode()
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
"""The error type of a failed invocation: a header of ``/error`` and ``/init/error``, a trailer of a stream."""
ERROR_BODY_TRAILER = "Lambda-Runtime-Function-Error-Body"
STREAMING_TRAILERS = f"{ERROR_TYPE_HEADER}, {ERROR_BODY_TRAILER}"
XRAY_ERROR_CAUSE_HEADER = "Lambda-Runtime-Function-XRay-Error-Cause"

_RECEIVE_SIZE = 65536
_MAX_HEAD_SIZE = 65536
_SAFE_PATH_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:@!$&'()*+,;="
)


class RuntimeApiError(Exception):
    """The Runtime API answered a request with an unexpected status."""

    def __init__(self, endpoint: str, status: int, body: bytes) -> None:
        self.endpoint = endpoint
        self.status = status
        self.body = body
        text = body[:500].decode("utf-8", "replace")
        super().__init__(f"the Runtime API answered {endpoint} with HTTP {status}: {text}")

    @property
    def fatal(self) -> bool:
        """True for a 5xx answer, after which the runtime must exit (the documented contract)."""
        return self.status >= 500


class RuntimeApiUnavailableError(Exception):
    """The Runtime API cannot be reached, or it closed the connection in the middle of a reply."""


class ConnectionLostError(RuntimeApiUnavailableError):
    """The connection broke while a streamed request was being sent; its bytes are gone.

    The message ends with the Runtime API's early reply when it sent one before closing (for
    instance a 413 for a response over the size limit), which says why.
    """


class InvocationEvent:
    """One event from ``GET /runtime/invocation/next``: its body and the platform's headers."""

    __slots__ = (
        "body",
        "client_context",
        "cognito_identity",
        "content_type",
        "deadline_ms",
        "invoked_function_arn",
        "request_id",
        "tenant_id",
        "trace_id",
    )

    def __init__(self, headers: dict[str, str], body: bytes) -> None:
        self.request_id = headers.get("lambda-runtime-aws-request-id", "")
        deadline = headers.get("lambda-runtime-deadline-ms", "")
        self.deadline_ms = int(deadline) if deadline.isdigit() else 0
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn")
        self.trace_id = headers.get("lambda-runtime-trace-id")
        self.client_context = headers.get("lambda-runtime-client-context")
        self.cognito_identity = headers.get("lambda-runtime-cognito-identity")
        self.tenant_id = headers.get("lambda-runtime-aws-tenant-id")
        self.content_type = headers.get("content-type")
        self.body = body


class Response:
    """A Runtime API reply: status, lower-cased headers, body, and whether the connection stays open."""

    __slots__ = ("body", "headers", "keep_alive", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes, keep_alive: bool) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive


class Connection:
    """One TCP connection to the Runtime API with a receive buffer for parsing replies."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = _connect(host, port)
        self.used = False
        self.reply_started = False
        self._buffer = bytearray()
        # ``poll`` rather than ``select``: a process with many open files can hand out descriptors
        # above 1023, which ``select`` cannot watch.
        self._idle_poller = select.poll()
        self._idle_poller.register(self.sock, select.POLLIN)

    def close(self) -> None:
        self.sock.close()

    def peer_has_closed(self) -> bool:
        """True if the idle connection became readable, which on an idle keep-alive connection means EOF."""
        return bool(self._idle_poller.poll(0))

    def send(self, buffers: list[Any], size: int) -> None:
        """Send ``buffers`` (``size`` bytes in all) without joining them: one ``sendmsg``, more only
        after a short write (a signal or a socket timeout can stop a blocking ``sendmsg`` early)."""
        sent = self.sock.sendmsg(buffers)
        if sent != size:
            self._send_rest(buffers, sent, size)

    def _send_rest(self, buffers: list[Any], sent: int, size: int) -> None:
        """Send what a short ``sendmsg`` left of ``buffers``, without copying the data."""
        views = [memoryview(buffer).cast("B") for buffer in buffers]
        while sent < size:
            size -= sent
            while sent >= views[0].nbytes:
                sent -= views.pop(0).nbytes
            views[0] = views[0][sent:]
            sent = self.sock.sendmsg(views)

    def read_response(self) -> Response:
        """Read one complete reply (skipping interim 1xx replies)."""
        while True:
            status, headers, keep_alive = parse_reply_head(self._read_line_block(b"\r\n\r\n", _MAX_HEAD_SIZE))
            if status >= 200:
                break
        if status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked_body()
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise RuntimeApiUnavailableError(
                    f"invalid Content-Length {headers['content-length']!r}"
                ) from None
            body = self._read_exactly(length)
        else:
            body = self._read_to_eof()
            keep_alive = False
        return Response(status, headers, body, keep_alive)

    def _fill(self) -> bool:
        chunk = self.sock.recv(_RECEIVE_SIZE)
        if not chunk:
            return False
        self.reply_started = True
        self._buffer += chunk
        return True

    def _read_line_block(self, terminator: bytes, limit: int) -> bytes:
        start = 0
        while True:
            end = self._buffer.find(terminator, start)
            if end >= 0:
                block = bytes(self._buffer[:end])
                del self._buffer[: end + len(terminator)]
                return block
            if len(self._buffer) > limit:
                raise RuntimeApiUnavailableError("the Runtime API sent a reply head that is too large")
            start = max(0, len(self._buffer) - len(terminator) + 1)
            if not self._fill():
                raise RuntimeApiUnavailableError("the Runtime API closed the connection before replying")

    def _read_exactly(self, length: int) -> bytes:
        if len(self._buffer) >= length:
            body = bytes(self._buffer[:length])
            del self._buffer[:length]
            return body
        body_buffer = bytearray(length)
        view = memoryview(body_buffer)
        filled = len(self._buffer)
        view[:filled] = self._buffer
        self._buffer.clear()
        while filled < length:
            received = self.sock.recv_into(view[filled:])
            if not received:
                raise RuntimeApiUnavailableError(
                    "the Runtime API closed the connection in the middle of a reply"
                )
            filled += received
        return bytes(body_buffer)

    def _read_chunked_body(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = parse_chunk_size(self._read_line_block(b"\r\n", 1024))
            if size == 0:
                while self._read_line_block(b"\r\n", _MAX_HEAD_SIZE):
                    pass  # trailer fields of a reply carry nothing the runtime needs
                return b"".join(parts)
            parts.append(self._read_exactly(size))
            if self._read_exactly(2) != b"\r\n":
                raise RuntimeApiUnavailableError("a chunk in a reply was not followed by CRLF")

    def _read_to_eof(self) -> bytes:
        while self._fill():
            pass
        body = bytes(self._buffer)
        self._buffer.clear()
        return body


def parse_reply_head(head: bytes) -> tuple[int, dict[str, str], bool]:
    """A reply head (without the empty line that ends it): its status, its header fields with lower-cased
    names (repeated fields joined with ", ") and whether the connection stays open after the reply.

    Shared by the blocking client and :class:`stream_fn.reply_parser.ReplyParser`, so both read a head alike.
    """
    status_line, _, field_block = head.decode("latin-1").partition("\r\n")
    version, _, rest = status_line.partition(" ")
    status = rest[:3]
    if not version.startswith("HTTP/1.") or not status.isdigit():
        raise RuntimeApiUnavailableError(f"the Runtime API sent an invalid status line {status_line[:100]!r}")
    headers: dict[str, str] = {}
    for line in field_block.split("\r\n"):
        name, separator, value = line.partition(":")
        if separator:
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
    keep_alive = version != "HTTP/1.0" and "close" not in headers.get("connection", "").lower()
    return int(status), headers, keep_alive


def parse_chunk_size(line: bytes) -> int:
    """The size of a reply's chunk from its size line (extensions ignored)."""
    size_text = line.split(b";", 1)[0].strip()
    try:
        return int(size_text, 16)
    except ValueError:
        raise RuntimeApiUnavailableError(f"invalid chunk size {size_text[:20]!r} in a reply") from None


def describe_early_reply(response: Response) -> str:
    """How a send failure's message names the reply the Runtime API sent before it closed the connection."""
    return f" (the Runtime API answered HTTP {response.status}: {response.body[:300].decode('utf-8', 'replace')})"


def _connect(host: str, port: int) -> _socket.socket:
    """Open a TCP connection with Nagle's algorithm off, trying each address ``host`` resolves to."""
    error: OSError = OSError(f"{host} did not resolve to any address")
    # Given a str, getaddrinfo encodes it with the "idna" codec, whose import (encodings.idna,
    # stringprep, unicodedata) would be part of every cold start; the Runtime API's host is ASCII.
    lookup_host = host.encode("ascii") if host.isascii() else host
    for family, kind, protocol, _, address in _socket.getaddrinfo(lookup_host, port, 0, _socket.SOCK_STREAM):
        sock = _socket.socket(family, kind, protocol)
        try:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            sock.connect(address)
        except OSError as failure:
            sock.close()
            error = failure
            continue
        return sock
    raise error


def parse_address(address: str) -> tuple[str, int]:
    """Split ``AWS_LAMBDA_RUNTIME_API`` (``host:port`` or ``[v6]:port``) into host and port."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"AWS_LAMBDA_RUNTIME_API must be host:port, e.g. 127.0.0.1:9001, got {address!r}")
    return host.strip("[]"), int(port)


def path_segment(value: str) -> str:
    """Percent-encode ``value`` for use as one path segment (request ids are UUIDs; anything else is escaped)."""
    if set(value) <= _SAFE_PATH_CHARS:
        return value
    return "".join(
        char if char in _SAFE_PATH_CHARS else "".join(f"%{byte:02X}" for byte in char.encode())
        for char in value
    )


class RuntimeApiClient:
    """The runtime's side of the Runtime API, on one persistent connection.

    Request heads are assembled from parts checked once, here; per invocation only the request id
    (percent-encoded if it is not a plain UUID-like token) and the content type change.
    """

    def __init__(
        self, address: str, user_agent: str, *, reconnect_delays: tuple[float, ...] = (0.01, 0.04, 0.16, 0.64)
    ) -> None:
        self.address = address
        self._reconnect_delays = reconnect_delays
        self._host, self._port = parse_address(address)
        self._common_fields = framing.encode_fields([("Host", address), ("User-Agent", user_agent)])
        self._next_request = (
            framing.request_line("GET", f"{API_PREFIX}/invocation/next") + self._common_fields + framing.CRLF
        )
        self._streaming_fields = framing.encode_fields(
            [
                ("Lambda-Runtime-Function-Response-Mode", "streaming"),
                ("Transfer-Encoding", "chunked"),
                ("Trailer", STREAMING_TRAILERS),
            ]
        )
        self._connection: Connection | None = None
        self._content_type_line: tuple[str, bytes] = ("", b"")

    @property
    def next_head(self) -> bytes:
        """The whole ``GET /runtime/invocation/next`` request (the request heads serve other transports too:
        :mod:`stream_fn.loop_client`)."""
        return self._next_request

    def close(self) -> None:
        """Close the connection; the next request opens a new one."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def next_invocation(self) -> InvocationEvent:
        """Wait for the next event; on a dropped connection, reconnect after each of the reconnect delays."""
        for delay in (*self._reconnect_delays, None):
            connection = self._ready_connection(check_idle=False)
            try:
                connection.send([self._next_request], len(self._next_request))
                response = connection.read_response()
            except (OSError, RuntimeApiUnavailableError) as error:
                self.close()
                if delay is None:
                    raise RuntimeApiUnavailableError(
                        f"could not get the next invocation from the Runtime API at {self.address}: {error}"
                    ) from error
                time.sleep(delay)
                continue
            self._after_response(response)
            if response.status != 200:
                raise RuntimeApiError("GET /runtime/invocation/next", response.status, response.body)
            return InvocationEvent(response.headers, response.body)
        raise AssertionError("unreachable")

    def post_response(self, request_id: str, body: bytes, content_type: str) -> None:
        """Send a buffered response for ``request_id``."""
        head = self.response_head(request_id, body, content_type)
        self._post(head, body, "POST /runtime/invocation/{id}/response", expected=202)

    def post_invocation_error(
        self, request_id: str, error_document: bytes, error_type: str | None, xray_cause: str | None
    ) -> None:
        """Report that the invocation ``request_id`` failed before any response byte was sent."""
        head = self.error_head(request_id, error_document, error_type, xray_cause)
        self._post(head, error_document, "POST /runtime/invocation/{id}/error", expected=202)

    def post_init_error(self, error_document: bytes, error_type: str) -> None:
        """Report that the function could not be initialised."""
        self._post_error_document("/init/error", error_document, error_type)

    def restore_next(self) -> None:
        """SnapStart: wait in ``GET /runtime/restore/next`` until the snapshot is restored (200).

        The connection is closed afterwards, whatever the answer: it was opened before the snapshot,
        and "the state of connections that your function establishes during the initialization phase
        isn't guaranteed when Lambda resumes your function from a snapshot" (AWS Lambda Developer
        Guide, "Improving startup performance with Lambda SnapStart", network connections). The next
        request opens a new one.
        """
        request = (
            framing.request_line("GET", f"{API_PREFIX}/restore/next") + self._common_fields + framing.CRLF
        )
        connection = self._ready_connection(check_idle=False)
        try:
            connection.send([request], len(request))
            response = connection.read_response()
        except (OSError, RuntimeApiUnavailableError) as error:
            raise RuntimeApiUnavailableError(f"GET /runtime/restore/next failed: {error}") from error
        finally:
            self.close()
        if response.status != 200:
            raise RuntimeApiError("GET /runtime/restore/next", response.status, response.body)

    def post_restore_error(self, error_document: bytes, error_type: str) -> None:
        """SnapStart: report that the after-restore hooks failed (``POST /runtime/restore/error``)."""
        self._post_error_document("/restore/error", error_document, error_type)

    def _post_error_document(self, endpoint: str, error_document: bytes, error_type: str) -> None:
        fields = framing.encode_fields(
            [
                ("Content-Type", "application/json"),
                (ERROR_TYPE_HEADER, error_type),
                ("Content-Length", str(len(error_document))),
            ]
        )
        head = self._head(b"POST ", f"{API_PREFIX}{endpoint}".encode(), fields)
        self._post(head, error_document, f"POST /runtime{endpoint}", expected=202)

    def streamed_response(self, request_id: str, content_type: str) -> StreamedRequest:
        """A streamed ``POST /response`` for ``request_id`` with ``content_type``; nothing is sent yet.

        Its head goes out with its first body bytes, in one ``sendmsg``.
        """
        return StreamedRequest(self, self.streamed_head(request_id, content_type))

    def _post(self, head: bytes, body: bytes, endpoint: str, expected: int) -> None:
        for attempt in (1, 2):
            connection = self._ready_connection()
            reused = connection.used
            connection.used = True
            connection.reply_started = False
            try:
                connection.send([head, body], len(head) + len(body))
                response = connection.read_response()
            except (OSError, RuntimeApiUnavailableError) as error:
                self.close()
                if attempt == 1 and reused and not connection.reply_started:
                    continue  # the server closed the idle connection as the request went out: send it again
                raise RuntimeApiUnavailableError(f"{endpoint} failed: {error}") from error
            self._after_response(response)
            if response.status != expected:
                raise RuntimeApiError(endpoint, response.status, response.body)
            return

    def response_head(self, request_id: str, body: bytes, content_type: str) -> bytes:
        """The head of a buffered ``POST /invocation/{id}/response`` carrying ``body``."""
        return self._head(
            b"POST ",
            self._invocation_path(request_id, b"/response"),
            self._content_type_field(content_type) + b"Content-Length: %d\r\n" % len(body),
        )

    def streamed_head(self, request_id: str, content_type: str) -> bytes:
        """The head of a streamed ``POST /invocation/{id}/response`` (chunked, with the error trailers)."""
        return self._head(
            b"POST ",
            self._invocation_path(request_id, b"/response"),
            self._content_type_field(content_type) + self._streaming_fields,
        )

    def error_head(
        self, request_id: str, error_document: bytes, error_type: str | None, xray_cause: str | None
    ) -> bytes:
        """The head of ``POST /invocation/{id}/error`` carrying ``error_document``."""
        headers = [("Content-Type", "application/json")]
        if error_type:
            headers.append((ERROR_TYPE_HEADER, error_type))
        if xray_cause:
            headers.append((XRAY_ERROR_CAUSE_HEADER, xray_cause))
        headers.append(("Content-Length", str(len(error_document))))
        return self._head(
            b"POST ", self._invocation_path(request_id, b"/error"), framing.encode_fields(headers)
        )

    def _content_type_field(self, content_type: str) -> bytes:
        """The checked ``Content-Type`` line; the last one is kept, as a function rarely changes it."""
        last, line = self._content_type_line
        if content_type != last or not line:
            line = framing.encode_fields([("Content-Type", content_type)])
            self._content_type_line = (content_type, line)
        return line

    def _head(self, method: bytes, target: bytes, fields: bytes) -> bytes:
        return b"".join((method, target, b" HTTP/1.1\r\n", self._common_fields, fields, framing.CRLF))

    @staticmethod
    def _invocation_path(request_id: str, endpoint: bytes) -> bytes:
        return b"%s/invocation/%s%s" % (_API_PREFIX_BYTES, path_segment(request_id).encode("ascii"), endpoint)

    def _ready_connection(self, check_idle: bool = True) -> Connection:
        """Return an open connection, replacing one the server has closed while it was idle.

        ``GET /next`` skips the check: it is retried on a new connection if the old one fails.
        """
        connection = self._connection
        if check_idle and connection is not None and connection.used and connection.peer_has_closed():
            self.close()
            connection = None
        if connection is None:
            try:
                connection = Connection(self._host, self._port)
            except OSError as error:
                raise RuntimeApiUnavailableError(
                    f"cannot connect to the Runtime API at {self.address}: {error}"
                ) from error
            self._connection = connection
        return connection

    def _after_response(self, response: Response) -> None:
        if self._connection is not None:
            self._connection.used = True
        if not response.keep_alive:
            self.close()

    def _discard(self, connection: Connection) -> None:
        """Forget ``connection`` (broken, or answered out of turn) so the next request opens a new one."""
        if self._connection is connection:
            self._connection = None
        connection.close()


class StreamedRequest:
    """One streamed ``POST /runtime/invocation/{id}/response``, from its head to the Runtime API's reply.

    Each body part goes out at once as one chunk: :func:`stream_fn.framing.chunk`'s buffers in one
    ``sendmsg``, the data not copied (``TCP_NODELAY`` is on). The request head goes out with the first
    send, on the client's connection (replaced first if the server closed it while it was idle). A
    streamed request cannot be sent again: once its first bytes are gone a failure is final, and the
    Runtime API's early reply, if it sent one, says why.
    """

    __slots__ = ("_client", "_connection", "_head")

    def __init__(self, client: RuntimeApiClient, head: bytes) -> None:
        self._client = client
        self._head: bytes | None = head
        self._connection: Connection | None = None

    def send(self, parts: Sequence[ReadableBuffer]) -> None:
        """Send each of ``parts`` (flat, non-empty byte buffers) as one chunk, all in one ``sendmsg``."""
        self._transmit(*framing.chunks(parts))

    def send_chunk(self, data: ReadableBuffer, size: int) -> None:
        """Send ``data`` (``size`` bytes, at least one) as one chunk; the hot path of every write."""
        buffers = framing.chunk(data, size)
        connection = self._connection
        if connection is None:
            self._transmit(buffers, len(buffers[0]) + size + 2)
            return
        try:
            connection.send(buffers, len(buffers[0]) + size + 2)
        except OSError as error:
            self._lost(connection, error)

    def finish(self, parts: Sequence[ReadableBuffer] = (), trailers: Sequence[tuple[str, str]] = ()) -> None:
        """Send ``parts`` and the last chunk (with ``trailers``), then read the reply: 202 or an error."""
        closing = framing.last_chunk(trailers) if trailers else framing.LAST_CHUNK
        if parts:
            buffers, size = framing.chunks(parts)
            buffers.append(closing)
            self._transmit(buffers, size + len(closing))
        else:
            self._transmit([closing], len(closing))
        connection = self._connection
        assert connection is not None  # _transmit connected or raised
        try:
            response = connection.read_response()
        except OSError as error:
            self._client._discard(connection)
            raise RuntimeApiUnavailableError(f"no reply to the streamed response: {error}") from error
        except RuntimeApiUnavailableError:
            self._client._discard(connection)
            raise
        self._client._after_response(response)
        if response.status != 202:
            raise RuntimeApiError(
                "POST /runtime/invocation/{id}/response (streamed)", response.status, response.body
            )

    def _transmit(self, buffers: list[Any], size: int) -> None:
        """Send ``buffers``, with the request head in front if this is the first send."""
        connection = self._connection
        head = self._head
        if head is not None:
            connection = self._client._ready_connection()
            connection.used = True
            self._connection = connection
            self._head = None
            buffers = [head, *buffers]
            size += len(head)
        assert connection is not None
        try:
            connection.send(buffers, size)
        except OSError as error:
            self._lost(connection, error)

    def _lost(self, connection: Connection, error: OSError) -> NoReturn:
        """The connection broke mid-request: read any early reply, drop the connection, and raise."""
        detail = _early_reply(connection)
        self._client._discard(connection)
        raise ConnectionLostError(f"{error}{detail}") from error


def _early_reply(connection: Connection) -> str:
    """Describe a reply the Runtime API sent before a request was complete, if any; never waits long.

    After a send failed, the server may have rejected the request and closed the connection, and
    its answer explains why.
    """
    try:
        connection.sock.settimeout(0.2)
        response = connection.read_response()
    except (OSError, RuntimeApiUnavailableError):
        return ""
    return describe_early_reply(response)
