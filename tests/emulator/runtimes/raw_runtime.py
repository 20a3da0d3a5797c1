"""A minimal runtime that answers every invocation with hand-written bytes, malformed on purpose.

Usage (as the emulator starts a `--runtime-command`): `python raw_runtime.py <scenario>`. It speaks
the Runtime API on a raw socket, so it can send what no well-behaved runtime would: preludes without
a delimiter, bad JSON, NUL in headers, chunks split anywhere.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys

PRELUDE_TYPE = "application/vnd.awslambda.http-integration-response"
NUL8 = b"\0" * 8

SCENARIOS: dict[str, list[bytes]] = {
    "no_delimiter": [b'{"statusCode":200}', b"x" * 20000],
    "bad_json": [b'{"statusCode":', NUL8, b"body"],
    "nul_in_header": [b'{"statusCode":200,"headers":{"x-a":"a\\u0000b"}}', NUL8, b"body"],
    "wrong_types": [b'{"statusCode":"200","cookies":"a=b"}', NUL8, b"body"],
    "ends_before_delimiter": [b'{"statusCode":200}'],
    "split_everywhere": [
        bytes([b]) for b in b'{"statusCode":202,"headers":{"x-split":"yes"}}' + NUL8 + b"ok"
    ],
    "content_length_header": [b'{"statusCode":200,"headers":{"content-length":"999"}}', NUL8, b"short"],
    "status_100": [b'{"statusCode":100}', NUL8, b"body"],
    "status_101": [b'{"statusCode":101,"headers":{"upgrade":"websocket","connection":"upgrade"}}', NUL8],
    "status_103": [b'{"statusCode":103,"headers":{"link":"</a.css>; rel=preload"}}', NUL8, b"body"],
    "non_latin1_header": ['{"statusCode":200,"headers":{"x-note":"caf\u00e9 \u2713"}}'.encode(), NUL8, b"ok"],
    "non_latin1_cookie": ['{"statusCode":200,"cookies":["note=\u2713"]}'.encode(), NUL8, b"ok"],
    "control_in_header": [b'{"statusCode":200,"headers":{"x-a":"bell\\u0007"}}', NUL8, b"ok"],
    "no_content_with_body": [b'{"statusCode":204}', NUL8, b"not for the client", b" nor this"],
}


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def main() -> None:
    scenario = SCENARIOS[sys.argv[1]]
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    while True:
        api = http.client.HTTPConnection(host, int(port))
        api.request("GET", "/2018-06-01/runtime/invocation/next")
        reply = api.getresponse()
        reply.read()
        request_id = reply.headers["Lambda-Runtime-Aws-Request-Id"]
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(
                (
                    f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\n"
                    f"Host: {host}\r\nContent-Type: {PRELUDE_TYPE}\r\n"
                    "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\r\n"
                ).encode()
            )
            for part in scenario:
                sock.sendall(chunk(part))
            sock.sendall(b"0\r\n\r\n")
            sock.recv(65536)


if __name__ == "__main__":
    main()
