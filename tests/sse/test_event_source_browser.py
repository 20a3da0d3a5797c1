"""A real browser's EventSource (Debian's headless Chromium) reading the helper's streams through the emulator.

The page and its streams share one function URL (``sse_handlers.site``), so the EventSource is
same-origin. The page records every ``open``, ``error`` and ``tick`` the browser reports and prints
them when the ``done`` event comes; the test reads them from the DOM Chromium dumps. Without
Chromium these tests skip (``./dev setup`` installs it with apt-get when run as root).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from emulator.harness import ServedEmulator

from .idle_proxy import IdleTimeoutProxy

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (`./dev setup` installs it as root)"
    ),
]


def browse(url: str, profile: Path) -> list[dict[str, Any]]:
    """Open ``url`` in headless Chromium and return what its page saw, once the stream said ``done``."""
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            # Virtual time stands still while the stream is open and skips ahead over the page's timers
            # (the reconnection delay); the DOM is dumped once the page is idle.
            "--virtual-time-budget=60000",
            "--dump-dom",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=150,
    )
    dom = result.stdout
    assert "SEEN" in dom, f"the page never got its done event; DOM: {dom[-2000:]}"
    seen: list[dict[str, Any]] = json.loads(dom.split("SEEN", 1)[1].split("END", 1)[0])
    return seen


def kinds(seen: list[dict[str, Any]]) -> list[str]:
    return [entry["kind"] for entry in seen]


def test_the_browser_receives_events_and_resumes_after_the_stream_ends(
    served: ServedEmulator, tmp_path: Path
) -> None:
    # Two ticks per connection: the first stream ends after tick 2, the browser reconnects by itself.
    seen = browse(served.url("site") + "?stream=/ticks&count=4&per=2&pause=0.3", tmp_path / "profile")

    ticks = [entry for entry in seen if entry["kind"] == "tick"]
    assert kinds(seen) == ["open", "tick", "tick", "error", "open", "tick", "tick"]
    assert [tick["data"]["n"] for tick in ticks] == [1, 2, 3, 4]
    assert [tick["lastEventId"] for tick in ticks] == ["1", "2", "3", "4"]
    # The second request carried Last-Event-ID: 2, and the handler resumed after it.
    assert [tick["data"]["resumed_after"] for tick in ticks] == [0, 0, 2, 2]


@pytest.mark.parametrize("stream", ["/async-ticks", "/plain-ticks", "/async-plain-ticks"])
def test_every_handler_style_reads_the_same_in_the_browser(
    served: ServedEmulator, tmp_path: Path, stream: str
) -> None:
    seen = browse(served.url("site") + f"?stream={stream}&count=2&per=1", tmp_path / "profile")

    assert kinds(seen) == ["open", "tick", "error", "open", "tick"]
    assert [entry["data"] for entry in seen if entry["kind"] == "tick"] == [
        {"n": 1, "resumed_after": 0},
        {"n": 2, "resumed_after": 1},
    ]


def test_the_heartbeat_keeps_a_slow_stream_open_behind_a_proxy_that_drops_quiet_ones(
    served: ServedEmulator, tmp_path: Path
) -> None:
    proxy = IdleTimeoutProxy(served.port("site"), idle_seconds=1.0)
    try:
        kept = browse(proxy.url("/?stream=/ticks&count=3&pause=2"), tmp_path / "kept")
        dropped = browse(proxy.url("/?stream=/silent&count=3&pause=2"), tmp_path / "dropped")
    finally:
        proxy.close()

    # With heartbeats every 0.25 s, one connection carries the whole slow stream.
    assert kinds(kept) == ["open", "tick", "tick", "tick"]
    # Without them, the proxy drops the stream in each 2 s pause and the browser has to reconnect.
    assert kinds(dropped) == ["open", "tick", "error", "open", "tick", "error", "open", "tick"]
    assert [entry["data"]["resumed_after"] for entry in dropped if entry["kind"] == "tick"] == [0, 1, 2]
