"""The browser analyzers reach only what the target policy allows: a page on an allow-listed address that
embeds resources from forbidden ones (by address and by name) makes no request to them.

The witness is a recording server on the forbidden address: it counts every connection it gets.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from scanners import headers, lighthouse, pagetest
from scanners.policy_proxy import policy_proxy

ALLOWED_HOST = "127.0.0.2"


class Recorder(ThreadingHTTPServer):
    daemon_threads = True
    hits = 0

    def process_request(self, request: socket.socket | tuple[bytes, socket.socket], client_address: object) -> None:
        self.hits += 1
        super().process_request(request, client_address)


def _recorder() -> Recorder:
    class Count(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = Recorder(("127.0.0.1", 0), Count)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _page_server(forbidden_port: int) -> ThreadingHTTPServer:
    page = f"""<!doctype html><html><head><title>allowed</title>
<link rel="stylesheet" href="http://localhost:{forbidden_port}/style.css"></head>
<body><h1>An allowed page</h1>
<img src="http://127.0.0.1:{forbidden_port}/a.png"><img src="http://localhost:{forbidden_port}/b.png">
<img src="http://[::ffff:127.0.0.1]:{forbidden_port}/c.png">
<script>fetch('http://127.0.0.1:{forbidden_port}/d').catch(() => {{}});</script></body></html>""".encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{forbidden_port}/secret")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((ALLOWED_HOST, 0), Page)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def forbidden_and_allowed(settings: Any) -> Iterator[tuple[Recorder, str]]:
    settings.ALLOW_LOOPBACK_TARGETS = False
    settings.TARGET_ALLOWLIST = [f"{ALLOWED_HOST}/32"]
    recorder = _recorder()
    page = _page_server(recorder.server_address[1])
    yield recorder, f"http://{ALLOWED_HOST}:{page.server_address[1]}/"
    page.shutdown()
    recorder.shutdown()


def test_the_page_test_loads_the_page_but_nothing_forbidden(forbidden_and_allowed: tuple[Recorder, str]) -> None:
    recorder, url = forbidden_and_allowed
    outcome = pagetest.analyze(url)
    assert outcome.status == "ok", outcome.summary
    assert recorder.hits == 0


def test_lighthouse_loads_the_page_but_nothing_forbidden(forbidden_and_allowed: tuple[Recorder, str]) -> None:
    recorder, url = forbidden_and_allowed
    outcome = lighthouse.analyze(url)
    assert outcome.status == "ok", outcome.summary
    assert recorder.hits == 0


def test_the_headers_fetch_does_not_follow_a_redirect_to_a_forbidden_address(
    forbidden_and_allowed: tuple[Recorder, str],
) -> None:
    recorder, url = forbidden_and_allowed
    outcome = headers.analyze(url + "redirect")
    assert outcome.status in ("skipped", "error") and "loopback" in outcome.summary + (outcome.error or "")
    assert recorder.hits == 0


def test_the_proxy_refuses_names_that_resolve_to_forbidden_addresses(forbidden_and_allowed: tuple[Recorder, str]) -> None:
    recorder, _ = forbidden_and_allowed
    port = recorder.server_address[1]
    with policy_proxy() as (proxy_url, proxy_log):
        with httpx.Client(proxy=proxy_url, trust_env=False) as client:
            for target in (f"http://localhost:{port}/", f"http://127.0.0.1:{port}/", f"http://[::ffff:127.0.0.1]:{port}/"):
                assert client.get(target).status_code == 403
        # HTTPS goes through CONNECT, which is refused the same way before any byte reaches the host.
        with socket.create_connection(("127.0.0.1", int(proxy_url.rsplit(":", 1)[1]))) as raw:
            raw.sendall(f"CONNECT localhost:{port} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode())
            assert b" 403 " in raw.recv(4096).split(b"\r\n")[0]
    assert recorder.hits == 0 and len(proxy_log.refused) == 4
