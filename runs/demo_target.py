"""A bundled HTTP target with a latency distribution and error rate you choose.

Used by the tests as the independent truth (latency is uniform between two
bounds, so its true p90 is known; errors are spread exactly, not randomly)
and offered by `make run` for a first try.
"""

from __future__ import annotations

import random
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = b"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>k6intel demo target</title></head>
<body><h1>k6intel demo target</h1><p>Point a load test here.</p></body></html>"""


@dataclass(frozen=True)
class TargetProfile:
    latency_min_ms: float = 5.0
    latency_max_ms: float = 25.0
    error_rate: float = 0.0
    error_status: int = 500
    # At most this many requests are served at once (the rest queue): a server that saturates.
    concurrency: int | None = None

    def true_percentile_ms(self, pct: float) -> float:
        return self.latency_min_ms + (self.latency_max_ms - self.latency_min_ms) * pct


class _ErrorSpreader:
    """Fails exactly `rate` of requests, evenly spread: request n fails when floor(n·rate) steps up."""

    def __init__(self, rate: float) -> None:
        self.rate, self.count, self.failed = rate, 0, 0
        self._lock = threading.Lock()

    def next_fails(self) -> bool:
        with self._lock:
            self.count += 1
            fails = int(self.count * self.rate) > int((self.count - 1) * self.rate)
            self.failed += fails
            return fails


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: object) -> None:
        # A load generator that stops mid-request closes its sockets: not an error here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class DemoTarget:
    def __init__(self, profile: TargetProfile, host: str = "127.0.0.1", port: int = 0) -> None:
        self.profile = profile
        self.errors = _ErrorSpreader(profile.error_rate)
        self.workers = threading.BoundedSemaphore(profile.concurrency) if profile.concurrency else None
        self.server = _QuietServer((host, port), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        assert isinstance(host, str)  # the bound socket's name; typeshed also allows the bytes one may bind to
        return f"http://{host}:{port}"

    def start(self) -> DemoTarget:
        self._thread = threading.Thread(target=self.server.serve_forever, name="demo-target", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real server
            disable_nagle_algorithm = True  # headers and body go in separate writes

            def do_GET(self) -> None:
                target._serve(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        _drain_body(handler)
        if handler.path == "/health":
            return _respond(handler, 200, b'{"ok": true}', "application/json")
        profile = self.profile
        if self.workers:
            with self.workers:
                time.sleep(random.uniform(profile.latency_min_ms, profile.latency_max_ms) / 1000)
        else:
            time.sleep(random.uniform(profile.latency_min_ms, profile.latency_max_ms) / 1000)
        if self.errors.next_fails():
            return _respond(handler, profile.error_status, b'{"error": "demo failure"}', "application/json")
        if handler.path in ("/", "/index.html"):
            return _respond(handler, 200, PAGE, "text/html; charset=utf-8")
        _respond(handler, 200, b'{"ok": true}', "application/json")


def _drain_body(handler: BaseHTTPRequestHandler) -> None:
    length = int(handler.headers.get("Content-Length") or 0)
    if length:
        handler.rfile.read(length)


def _respond(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
