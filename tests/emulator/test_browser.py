"""A real browser (headless Chromium) attacking and using the emulator: what pages of other origins can do.

The browser's own behaviour is the point here: which headers it adds (Origin, Sec-Fetch-Site, the Host
of a name it resolved), which requests it sends without a CORS preflight (a `text/plain` POST), and
whether it lets a page read an answer. `--host-resolver-rules` makes `app.example` and
`attacker.example` resolve to 127.0.0.1, as DNS (or DNS rebinding) would. Chromium comes from Debian
(`./dev` installs it as root); without it these tests are skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cdk_stream_fn.emulator.sandboxes.config import CorsSettings, FunctionConfig

from .harness import ServedEmulator

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (./dev setup installs it as root)"),
]

FUNCTIONS = Path(__file__).parent / "functions"
RESOLVE = "MAP app.example 127.0.0.1, MAP attacker.example 127.0.0.1"


class PageServer:
    """Serves one HTML page on 127.0.0.1 (the page of another origin, `http://app.example:<port>`)."""

    def __init__(self) -> None:
        self.html = b""
        page = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(page.html)))
                self.end_headers()
                self.wfile.write(page.html)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.origin = f"http://app.example:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def browse(url: str, profile: Path) -> str:
    """Load `url` in headless Chromium, let its scripts finish, and return the DOM it ends with."""
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            f"--host-resolver-rules={RESOLVE}",
            "--virtual-time-budget=30000",
            "--dump-dom",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=90,
    )
    return result.stdout


@pytest.fixture(scope="module")
def page() -> Iterator[PageServer]:
    server = PageServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def served(page: PageServer) -> Iterator[ServedEmulator]:
    app_cors = CorsSettings(
        allow_origins=(page.origin,),
        allow_methods=("PUT",),
        allow_headers=("content-type", "x-api-key"),
        expose_headers=("x-custom",),
    )
    emulator = ServedEmulator(
        [
            FunctionConfig("noted", "handlers.note_invocation", FUNCTIONS, auth_type="NONE"),
            FunctionConfig("private", "handlers.note_invocation", FUNCTIONS, auth_type="AWS_IAM"),
            FunctionConfig("with-cors", "handlers.http_response", FUNCTIONS, auth_type="NONE", cors=app_cors),
            FunctionConfig("no-cors", "handlers.echo_event", FUNCTIONS, auth_type="NONE"),
        ]
    )
    yield emulator
    emulator.close()


def invoked(served: ServedEmulator) -> int:
    return sum(1 for _, line in served.log_lines if line.startswith("invoked "))


SCRIPT = """
(async () => {
  const results = {};
  async function attempt(name, url, init) {
    try {
      const response = await fetch(url, init);
      results[name] = response.type === "opaque"
        ? {opaque: true}
        : {status: response.status, body: await response.text(), custom: response.headers.get("x-custom")};
    } catch (error) {
      results[name] = {blocked: String(error)};
    }
  }
  const post = {method: "POST", mode: "no-cors", headers: {"content-type": "text/plain"}, body: "{}"};
  await attempt("lambdaApi", API + "/2015-03-31/functions/noted/invocations", post);
  await attempt("iamUrl", URLS["private"], post);
  await attempt("corsAllowed", URLS["with-cors"] + "items", {
    method: "PUT", headers: {"x-api-key": "k", "content-type": "application/json"}, body: "{}"});
  await attempt("corsMissing", URLS["no-cors"] + "items", {method: "PUT", headers: {"x-api-key": "k"}});
  document.body.textContent = "RESULTS" + JSON.stringify(results);
})();
"""


def test_a_page_of_another_origin_gets_only_what_the_cors_configuration_grants(
    page: PageServer, served: ServedEmulator, tmp_path: Path
) -> None:
    urls = {name: served.url(name) for name in ("private", "with-cors", "no-cors")}
    page.html = (
        "<html><body><script>"
        f"const API = {json.dumps(served.endpoint)}; const URLS = {json.dumps(urls)};"
        f"{SCRIPT}</script></body></html>"
    ).encode()
    before = invoked(served)

    dom = browse(f"{page.origin}/", tmp_path / "profile")

    results = json.loads(dom.split("RESULTS", 1)[1].split("<", 1)[0])
    # The simple POSTs went out (no preflight), marked by the browser, and were refused unrun.
    assert results["lambdaApi"] == {"opaque": True}
    assert results["iamUrl"] == {"opaque": True}
    assert invoked(served) == before
    # The URL's Cors let this origin make a preflighted PUT and read the answer and its exposed header.
    assert results["corsAllowed"]["status"] == 201
    assert json.loads(results["corsAllowed"]["body"]) == {"path": "/items", "method": "PUT"}
    assert results["corsAllowed"]["custom"] == "yes"
    # Without Cors, the function answered the preflight without CORS headers, so the browser stopped.
    assert "Failed to fetch" in results["corsMissing"]["blocked"]


def test_a_rebound_name_gets_misdirected_request_not_the_function(
    served: ServedEmulator, tmp_path: Path
) -> None:
    before = invoked(served)
    port = served.port("noted")

    rebound = browse(f"http://attacker.example:{port}/", tmp_path / "rebound")
    after_rebound = invoked(served)
    own = browse(f"http://localhost:{port}/", tmp_path / "own")

    assert "Host 'attacker.example:" in rebound
    assert "is not a name of this server" in rebound
    assert after_rebound == before
    assert '"x-function": "yes"' in own
    assert invoked(served) > before
