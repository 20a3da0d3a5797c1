"""Compression end to end: the decorator, the ASGI and the WSGI adapters behind the emulator's function
URLs, read by real clients (httpx with each coding, curl --compressed), with the runtime's metrics on."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import zstandard
from emulator.harness import ServedEmulator
from stream_fn import encoders

from cdk_stream_fn.emulator import stream_records
from cdk_stream_fn.emulator.sandboxes.config import FunctionConfig

pytestmark = pytest.mark.timeout(120)

APPS = Path(__file__).parent / "apps"
METRICS_ON = {"STREAM_FN_METRICS": "emf"}

#: (function, path, the body the client must get back)
STYLES = {
    "decorator": (
        "/lines?count=5",
        "".join(json.dumps({"index": i, "text": "a line of a JSON-lines stream"}) + "\n" for i in range(5)),
    ),
    "asgi": ("/jsonl?count=5", "".join(json.dumps({"index": i, "square": i * i}) + "\n" for i in range(5))),
    "wsgi": ("/jsonl?count=4", "".join(json.dumps({"index": i}) + "\n" for i in range(4))),
}
HANDLERS = {
    "decorator": "compressed.lines",
    "events": "compressed.events",
    "image": "compressed.image",
    "asgi": "fastapi_app.compressed_handler",
    "wsgi": "flask_app.compressed_handler",
}
#: What the runtime (this interpreter) can produce; zstd needs python3.14's compression.zstd.
PRODUCED = encoders.available_codings()


@pytest.fixture(scope="module")
def served() -> Iterator[ServedEmulator]:
    emulator = ServedEmulator(
        [
            FunctionConfig(name, handler, APPS, timeout_seconds=20, environment=METRICS_ON)
            for name, handler in HANDLERS.items()
        ]
    )
    try:
        yield emulator
    finally:
        emulator.close()


def url(served: ServedEmulator, name: str, path: str) -> str:
    return served.url(name).rstrip("/") + path


def wait_for_record(
    served: ServedEmulator, matches: Callable[[stream_records.StreamRecord], bool], timeout: float = 10
) -> stream_records.StreamRecord:
    """The first stream record the runtimes wrote that `matches` (a record follows its response)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for _, line in list(served.log_lines):
            record = stream_records.parse(line)
            if record is not None and matches(record):
                return record
        time.sleep(0.02)
    raise AssertionError(f"no such stream record in {served.log_lines[-10:]}")


def record_for(served: ServedEmulator, request_id: str) -> stream_records.StreamRecord:
    """The runtime's stream record of `request_id`, from the function's output."""
    return wait_for_record(served, lambda record: record.request_id == request_id)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
@pytest.mark.parametrize("style", list(STYLES))
def test_each_style_answers_each_coding_a_client_accepts(
    served: ServedEmulator, style: str, coding: str
) -> None:
    path, expected = STYLES[style]
    with httpx.stream(
        "GET", url(served, style, path), headers={"accept-encoding": coding}, timeout=20
    ) as response:
        wire = b"".join(response.iter_raw())
    produced = coding in PRODUCED

    assert response.status_code == 200
    assert "accept-encoding" in response.headers["vary"].lower()
    assert "content-length" not in response.headers
    if produced:
        assert response.headers["content-encoding"] == coding
        assert httpx.Response(200, headers={"content-encoding": coding}, content=wire).text == expected
    else:  # the client accepts only a coding this interpreter lacks: identity
        assert "content-encoding" not in response.headers
        assert wire.decode() == expected
    record = record_for(served, response.headers["x-amzn-requestid"])
    assert record.body_bytes == len(expected.encode())
    assert record.content_encoding == (coding if produced else None)
    assert not record.error_after_first_byte


@pytest.mark.parametrize("style", list(STYLES))
def test_a_client_that_accepts_nothing_gets_the_body_as_written(served: ServedEmulator, style: str) -> None:
    path, expected = STYLES[style]
    response = httpx.get(url(served, style, path), headers={"accept-encoding": "identity"}, timeout=20)
    assert "content-encoding" not in response.headers
    assert response.text == expected


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("style", list(STYLES))
def test_curl_compressed_decodes_what_each_style_sends(served: ServedEmulator, style: str) -> None:
    path, expected = STYLES[style]
    completed = subprocess.run(
        ["curl", "--compressed", "-sS", "-D", "-", "--max-time", "20", url(served, style, path)],
        capture_output=True,
        check=True,
        timeout=30,
    )
    head, _, body = completed.stdout.partition(b"\r\n\r\n")
    headers = dict(
        line.split(": ", 1) for line in head.decode("latin-1").lower().split("\r\n")[1:] if ": " in line
    )
    # curl offers deflate, gzip, br and zstd: the runtime picks the best it can produce.
    best = next(coding for coding in ("zstd", "br", "gzip") if coding in PRODUCED)
    assert headers["content-encoding"] == best
    assert body.decode() == expected


def test_server_sent_events_stay_one_decodable_piece_per_event(served: ServedEmulator) -> None:
    parsed = httpx.URL(url(served, "events", "/?count=3&gap=0.5"))
    connection = http.client.HTTPConnection(parsed.host, parsed.port, timeout=20)
    connection.request("GET", "/?count=3&gap=0.5", headers={"Accept-Encoding": "gzip"})
    response = connection.getresponse()
    decoder = zlib.decompressobj(31)
    received: list[tuple[float, bytes]] = []
    while piece := response.read1(65536):
        text = decoder.decompress(piece)
        if text:
            received.append((time.monotonic(), text))
    connection.close()

    assert response.getheader("content-encoding") == "gzip"
    assert response.getheader("etag") == 'W/"v1"'
    assert [text for _, text in received] == [
        f"id: {index}\ndata: {json.dumps({'index': index})}\n\n".encode() for index in range(3)
    ]
    assert decoder.eof
    # The handler sleeps 0.5 s between events: each arrives, decodable, when it is written.
    assert received[1][0] - received[0][0] > 0.25
    assert received[2][0] - received[1][0] > 0.25


def test_already_compressed_media_and_head_requests_are_left_alone(served: ServedEmulator) -> None:
    image = httpx.get(url(served, "image", "/"), headers={"accept-encoding": "gzip"}, timeout=20)
    assert "content-encoding" not in image.headers and "vary" not in image.headers
    assert image.content.startswith(b"\x89PNG")

    head = httpx.head(url(served, "decorator", "/lines"), headers={"accept-encoding": "gzip"}, timeout=20)
    assert head.status_code == 200
    assert "content-encoding" not in head.headers


def test_an_error_mid_stream_truncates_the_compressed_response(served: ServedEmulator) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url(served, "asgi", "/fail-mid"), headers={"accept-encoding": "gzip"}, timeout=20)
    failed = wait_for_record(served, lambda record: record.error_after_first_byte)
    assert failed.body_bytes == len(b"first part\n")
    assert failed.content_encoding == "gzip"


def python314_runtime_command() -> list[str] | None:
    """The runtime on an interpreter with compression.zstd: python3.14 on PATH, or in a python3.14 root
    that `cdk-stream-fn roots build python3.14` left in its cache (run with bubblewrap); None otherwise."""
    runtime_dir = str(Path(__file__).resolve().parents[2] / "runtime")
    python = shutil.which("python3.14")
    if python is not None:
        return ["env", f"PYTHONPATH={runtime_dir}", python, "-m", "stream_fn"]
    cache = Path(
        os.environ.get(
            "CDK_STREAM_FN_ROOTS_CACHE", Path.home() / ".cache" / "cdk-stream-fn" / "platform-roots"
        )
    )
    roots = sorted(cache.glob("roots/python3.14-x86_64-*/rootfs"))
    if not roots or shutil.which("bwrap") is None:
        return None
    root = str(roots[-1])
    return [
        "bwrap", "--tmpfs", "/", "--ro-bind", root + "/usr", "/usr", "--symlink", "usr/lib", "/lib",
        "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin", "--ro-bind", root + "/etc", "/etc",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--ro-bind", runtime_dir, "/opt/python",
        "--ro-bind", str(APPS), str(APPS), "--setenv", "PYTHONPATH", "/opt/python",
        "/usr/bin/python3.14", "-m", "stream_fn", "{handler}",
    ]  # fmt: skip


def test_zstd_where_the_interpreter_has_compression_zstd() -> None:
    command = python314_runtime_command()
    if command is None:
        pytest.skip("no python3.14 here (on PATH, or a root built by `cdk-stream-fn roots build python3.14`)")
    emulator = ServedEmulator(
        [
            FunctionConfig(
                name,
                HANDLERS[name],
                APPS,
                timeout_seconds=20,
                environment=METRICS_ON,
                runtime_command=command,
            )
            for name in ("decorator", "events")
        ]
    )
    try:
        path, expected = STYLES["decorator"]
        for accept in ("zstd", "gzip, deflate, br, zstd"):
            response = httpx.get(
                url(emulator, "decorator", path), headers={"accept-encoding": accept}, timeout=30
            )
            assert response.headers["content-encoding"] == "zstd"
            assert response.text == expected
        with httpx.stream(
            "GET",
            url(emulator, "events", "/?count=3&gap=0.2"),
            headers={"accept-encoding": "zstd"},
            timeout=30,
        ) as events:
            decoder = zstandard.ZstdDecompressor().decompressobj()
            pieces = [decoder.decompress(raw) for raw in events.iter_raw()]
        assert [piece for piece in pieces if piece] == [
            f"id: {index}\ndata: {json.dumps({'index': index})}\n\n".encode() for index in range(3)
        ]
        record = record_for(emulator, response.headers["x-amzn-requestid"])
        assert record.content_encoding == "zstd" and record.body_bytes == len(expected)
    finally:
        emulator.close()


@pytest.mark.parametrize(("style", "status"), [("asgi", 200), ("wsgi", 202)])
def test_a_response_of_known_length_loses_its_content_length_and_keeps_its_cookies(
    served: ServedEmulator, style: str, status: int
) -> None:
    response = httpx.get(url(served, style, "/cookies"), headers={"accept-encoding": "gzip"}, timeout=20)

    assert response.status_code == status
    assert response.headers["content-encoding"] == "gzip"
    assert "content-length" not in response.headers  # it counted the identity body
    assert response.text == "cookies set"
    assert response.cookies["session"] == "abc123" and response.cookies["theme"] == "dark"
    assert response.headers.get_list("x-multi") == ["one, two"]
