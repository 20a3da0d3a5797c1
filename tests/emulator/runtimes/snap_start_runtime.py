"""A runtime that plays SnapStart's part by hand on raw sockets, to show what the emulator enforces.

Usage (as the emulator starts a `--runtime-command`): `python snap_start_runtime.py <scenario>`.

- `reuse`: waits in `/restore/next`, then asks for its first event on that same connection, as a runtime
  that keeps a socket from before the snapshot would. The emulator has closed it, so this fails and the
  runtime exits 3, saying so on stderr.
- `skip`: never calls `/restore/next` (a client without SnapStart support): its first `/next` ends the
  init, and it answers each event with `{"runtime": "skip"}`.
"""

from __future__ import annotations

import json
import os
import socket
import sys

API = "/2018-06-01/runtime"


def request(
    sock: socket.socket, method: str, path: str, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """Send one request and read its Content-Length reply."""
    host = os.environ["AWS_LAMBDA_RUNTIME_API"]
    head = f"{method} {API}{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n\r\n"
    sock.sendall(head.encode() + body)
    data = b""
    while b"\r\n\r\n" not in data:
        received = sock.recv(65536)
        if not received:
            raise ConnectionError("the Runtime API closed the connection")
        data += received
    head_bytes, _, rest = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        received = sock.recv(65536)
        if not received:
            raise ConnectionError("the Runtime API closed the connection in a reply")
        rest += received
    return int(lines[0].split()[1]), headers, rest[:length]


def connect() -> socket.socket:
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
    return socket.create_connection((host, int(port)))


def serve(scenario: str, sock: socket.socket) -> None:
    while True:
        _, headers, _ = request(sock, "GET", "/invocation/next")
        request_id = headers["lambda-runtime-aws-request-id"]
        body = json.dumps({"runtime": scenario}).encode()
        request(sock, "POST", f"/invocation/{request_id}/response", body)


def main() -> int:
    scenario = sys.argv[1]
    sock = connect()
    if scenario == "skip":
        serve(scenario, sock)
        return 0
    status, _, _ = request(sock, "GET", "/restore/next")
    assert status == 200, status
    try:
        request(sock, "GET", "/invocation/next")
    except OSError as error:
        sys.stderr.write(f"snap_start_runtime: the connection from before the snapshot failed: {error}\n")
        return 3
    sys.stderr.write("snap_start_runtime: the connection from before the snapshot still works\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
