"""Watching a response stream arrive: a function by name (InvokeWithResponseStream) or a function URL.

Bytes are written to `out` the moment they arrive; `StreamStats` says when the first one came, how
many there were and how fast. The response's status and headers go to `head` (stderr): a function
URL's from its HTTP response, a function's from the HTTP prelude of an
`application/vnd.awslambda.http-integration-response` stream, which is decoded so that only the body
reaches `out`. A local endpoint (127.0.0.1, localhost) is called unsigned without looking for
credentials (no lookup may reach AWS) unless `sign` asks for it (`serve --verify-sigv4`); anything else
is signed with SigV4 when credentials are available, and sent plain otherwise (a public `AuthType:
NONE` URL).

boto3 and botocore are imported inside the functions that use them, so the CLI starts fast.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import time
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import urlsplit

from cdk_stream_fn.emulator.limits import HTTP_INTEGRATION_CONTENT_TYPE

_URL_REGION = re.compile(r"\.lambda-url\.(?P<region>[a-z0-9-]+)\.on\.aws$")
#: Most bytes taken from a function URL's response at a time (less is written on as soon as it arrives).
READ_SIZE = 64 * 1024


@dataclass
class StreamStats:
    """What one streamed invocation looked like from the client."""

    started: float = field(default_factory=time.perf_counter)
    first_byte_at: float | None = None
    ended_at: float | None = None
    bytes: int = 0
    status: str = ""
    error: str | None = None

    def received(self, size: int) -> None:
        if self.first_byte_at is None and size:
            self.first_byte_at = time.perf_counter()
        self.bytes += size

    @property
    def time_to_first_byte(self) -> float | None:
        return None if self.first_byte_at is None else self.first_byte_at - self.started

    @property
    def duration(self) -> float:
        return (self.ended_at or time.perf_counter()) - self.started

    @property
    def throughput(self) -> float:
        """Bytes per second from the first byte to the end (the time to first byte is reported apart)."""
        start = self.first_byte_at or self.started
        elapsed = (self.ended_at or time.perf_counter()) - start
        return self.bytes / elapsed if elapsed > 0 else 0.0

    def summary(self) -> str:
        """One line: status, time to first byte, size, duration and throughput."""
        ttfb = self.time_to_first_byte
        parts = [
            self.status,
            f"first byte {ttfb * 1000:.0f} ms" if ttfb is not None else "no bytes",
            f"{format_size(self.bytes)} in {self.duration:.2f} s",
            f"{format_size(self.throughput)}/s",
        ]
        return " · ".join(part for part in parts if part)


class ProgressLine:
    """A live `bytes · rate · elapsed` line on a terminal, redrawn at most ten times a second."""

    def __init__(self, stream: IO[str], *, enabled: bool, after: float = 1.0) -> None:
        self.stream = stream
        self.enabled = enabled
        self.after = after
        self._last_draw = 0.0
        self._drawn = False

    def update(self, stats: StreamStats) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - stats.started < self.after or now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self._drawn = True
        line = f"  {format_size(stats.bytes)} · {format_size(stats.throughput)}/s · {stats.duration:.1f} s"
        self.stream.write(f"\r\033[K{line}")
        self.stream.flush()

    def clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()


def format_size(size: float) -> str:
    """A byte count in decimal units, as a person says it: `999 B`, `4.0 MB`."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def is_local(host: str | None) -> bool:
    """Loopback (or this machine's unspecified address): the emulator, never AWS."""
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def invoke_function(
    name: str,
    payload: bytes,
    *,
    out: IO[bytes],
    endpoint_url: str | None = None,
    region: str | None = None,
    progress: ProgressLine | None = None,
    head: IO[str] | None = None,
) -> StreamStats:
    """`InvokeWithResponseStream` on `name`, writing each `PayloadChunk` to `out` as it arrives.

    An HTTP integration response (what a function behind a function URL streams) has its prelude
    decoded: its status and headers go to `head`, and only the body to `out`.
    """
    import boto3  # type: ignore[import-untyped]
    from botocore import UNSIGNED  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    from cdk_stream_fn.emulator.front_doors.prelude import PreludeDecoder, PreludeError

    unsigned = endpoint_url is not None and is_local(urlsplit(endpoint_url).hostname)
    config = Config(
        retries={"max_attempts": 0},
        read_timeout=900,
        connect_timeout=10,
        **({"signature_version": UNSIGNED} if unsigned else {}),
    )
    client = boto3.client(
        "lambda", endpoint_url=endpoint_url, region_name=region or _default_region(), config=config
    )
    stats = StreamStats()
    response = client.invoke_with_response_stream(FunctionName=name, Payload=payload)
    stats.status = f"HTTP {response['StatusCode']}"
    content_type = str(response.get("ResponseStreamContentType") or "")
    decoder = PreludeDecoder() if is_http_integration(content_type) else None
    for event in response["EventStream"]:
        if "PayloadChunk" in event:
            data = event["PayloadChunk"]["Payload"]
            if decoder is not None:
                try:
                    decoded = decoder.feed(data)
                except PreludeError as error:
                    stats.error = f"the function's HTTP prelude is malformed: {error}"
                    break
                if decoded is None:
                    continue
                decoder = None
                prelude, data = decoded
                stats.status = f"HTTP {prelude.status_code}"
                fields = prelude.headers + [("set-cookie", cookie) for cookie in prelude.cookies]
                _print_head(head, stats.status, fields)
            _forward(data, out, stats, progress)
        elif "InvokeComplete" in event:
            complete = event["InvokeComplete"]
            if complete.get("ErrorCode"):
                stats.error = f"{complete['ErrorCode']}: {complete.get('ErrorDetails', '')}".rstrip(": ")
    if decoder is not None and stats.error is None:
        stats.error = "the stream ended before its HTTP prelude was complete (no 8 NUL bytes)"
    stats.ended_at = time.perf_counter()
    return stats


def is_http_integration(content_type: str) -> bool:
    """Whether a stream is an HTTP integration response: JSON prelude, 8 NUL bytes, body."""
    return content_type.split(";", 1)[0].strip().lower() == HTTP_INTEGRATION_CONTENT_TYPE


def _print_head(head: IO[str] | None, status: str, fields: list[tuple[str, str]]) -> None:
    """Status and headers, `curl -v` style (`< name: value`), before the body starts on stdout."""
    if head is None:
        return
    head.write("".join(f"< {line}\n" for line in [status, *(f"{n}: {v}" for n, v in fields)]))
    head.flush()


def invoke_url(
    url: str,
    payload: bytes | None,
    *,
    out: IO[bytes],
    region: str | None = None,
    progress: ProgressLine | None = None,
    method: str | None = None,
    head: IO[str] | None = None,
    sign: bool = False,
) -> StreamStats:
    """Request a function URL (POST with `payload`, else GET) and write its body to `out` as it arrives.

    `sign`: sign with SigV4 even a local URL (for `serve --verify-sigv4`)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    method = method or ("POST" if payload is not None else "GET")
    headers = {"user-agent": "cdk-stream-fn", "accept": "*/*"}
    if payload is not None:
        headers["content-type"] = "application/json"
    if sign or not is_local(parts.hostname):
        headers = _signed_headers(method, url, payload, headers, region, required=sign)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname, parts.port, timeout=900)
    stats = StreamStats()
    try:
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        connection.request(method, target, body=payload, headers=headers)
        response = connection.getresponse()
        stats.status = f"HTTP {response.status} {response.reason}".rstrip()
        _print_head(head, stats.status, response.getheaders())
        try:
            while data := response.read1(READ_SIZE):
                _forward(data, out, stats, progress)
        except http.client.IncompleteRead as truncated:
            stats.error = f"the response was cut short after {stats.bytes + len(truncated.partial)} bytes"
        except (ConnectionError, http.client.HTTPException) as error:
            stats.error = f"the connection broke after {stats.bytes} bytes: {error}"
        if response.status >= 500 and stats.error is None:
            stats.error = f"the function URL answered {response.status}"
    finally:
        connection.close()
    stats.ended_at = time.perf_counter()
    return stats


def _forward(data: bytes, out: IO[bytes], stats: StreamStats, progress: ProgressLine | None) -> None:
    """Write a piece of the stream through to `out` at once, and count it."""
    stats.received(len(data))
    out.write(data)
    out.flush()
    if progress is not None:
        progress.update(stats)


def _signed_headers(
    method: str,
    url: str,
    payload: bytes | None,
    headers: dict[str, str],
    region: str | None,
    *,
    required: bool = False,
) -> dict[str, str]:
    """SigV4 headers for a function URL (service `lambda`) when credentials are available (a
    `ValueError` if they are not and signing is `required`)."""
    import botocore.session  # type: ignore[import-untyped]
    from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
    from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]

    session = botocore.session.get_session()
    credentials = session.get_credentials()
    if credentials is None:
        if required:
            raise ValueError("--sign needs AWS credentials, and none were found")
        return headers
    host = urlsplit(url).hostname or ""
    match = _URL_REGION.search(host)
    signing_region = (match["region"] if match else None) or region or session.get_config_variable("region")
    request = AWSRequest(method=method, url=url, data=payload or b"", headers=headers)
    SigV4Auth(credentials, "lambda", signing_region or "us-east-1").add_auth(request)
    return dict(request.headers.items())


def _default_region() -> str:
    import botocore.session

    region = botocore.session.get_session().get_config_variable("region")
    return region if isinstance(region, str) else "us-east-1"
