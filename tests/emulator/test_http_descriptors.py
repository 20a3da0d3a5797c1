"""Out of file descriptors: a server keeps answering the connections it has and accepts again once
descriptors free up. The servers run in a subprocess whose descriptor limit is lowered (RLIMIT_NOFILE)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import RawRuntime, buffered

pytestmark = pytest.mark.timeout(60)

SERVER = Path(__file__).parent / "servers" / "few_descriptors.py"
SPARE = 8

LAMBDA_API_REQUEST = b"GET /2015-03-31/functions/missing/configuration HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


class Servers:
    """The subprocess, its ports, and its log as it comes."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SERVER), str(SPARE)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        api_port, runtime_port = self.process.stdout.readline().split()
        self.ports = {"lambda-api": int(api_port), "runtime-api": int(runtime_port)}
        self.log: list[str] = []
        threading.Thread(target=self._read_log, args=(self.process.stderr,), daemon=True).start()

    def _read_log(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.log.append(line)

    def wait_for_log(self, text: str, timeout: float = 20) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.log):
                return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def servers() -> Iterator[Servers]:
    started = Servers()
    yield started
    started.stop()


def ask(client: RawRuntime, server: str) -> int:
    """One request the server answers at once; its status."""
    if server == "lambda-api":
        return client.exchange(LAMBDA_API_REQUEST).status
    return client.exchange(buffered("no-such-request", b"{}")).status


@pytest.mark.parametrize(("server", "status"), [("lambda-api", 404), ("runtime-api", 400)])
def test_out_of_descriptors_the_open_connections_are_served_and_accepting_resumes(
    servers: Servers, server: str, status: int
) -> None:
    address = f"127.0.0.1:{servers.ports[server]}"
    keeper = RawRuntime(address)
    assert ask(keeper, server) == status

    flood = [RawRuntime(address) for _ in range(3 * SPARE)]  # handshakes complete in the kernel's backlog
    assert servers.wait_for_log("cannot accept connections: Too many open files"), "".join(servers.log)

    assert ask(keeper, server) == status, "a connection it already has is still answered"

    for client in flood:
        client.close()
    late = RawRuntime(address)
    assert ask(late, server) == status, "once descriptors are free again, new connections are served"
    assert servers.wait_for_log("accepting connections again")
    assert servers.process.poll() is None
    keeper.close()
    late.close()
