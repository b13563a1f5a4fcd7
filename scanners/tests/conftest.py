from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from scanners.tests.tls_servers import TestCA, TlsConfig, TlsServer

# What a page server answers for a path: status, body and the headers beside Content-Length.
Answer = tuple[int, bytes, dict[str, str]]


@contextmanager
def page_server(answer: Callable[[str], Answer]) -> Iterator[str]:
    """An HTTP/1.1 server on loopback answering each GET with `answer(path)`; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            status, body, headers = answer(self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def trusted_ca(test_ca: TestCA, settings: Any) -> TestCA:
    """The analyzers trust the test CA, as TLS_EXTRA_CA_FILE would make them in a private network."""
    settings.TLS_EXTRA_CA_FILE = str(test_ca.cert_path)
    return test_ca


@pytest.fixture
def tls_server(trusted_ca: TestCA) -> Iterator[Callable[..., TlsServer]]:
    servers: list[TlsServer] = []

    def start(config: TlsConfig | None = None, **certificate: Any) -> TlsServer:
        label = f"leaf{len(servers)}"
        servers.append(TlsServer(trusted_ca.issue(label, **certificate), config or TlsConfig()))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


class HeaderServer:
    """Plain HTTP on loopback answering with a chosen header set and body."""

    def __init__(
        self, headers: list[tuple[str, str]], body: bytes = b"ok", content_type: str = "text/plain", status: int = 200
    ) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._answer(body)

            def do_OPTIONS(self) -> None:  # a CORS preflight gets the same headers, no body
                self._answer(b"")

            def _answer(self, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for name, value in headers:
                    value = value.replace("{origin}", self.headers.get("Origin", ""))
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"


@pytest.fixture
def header_server() -> Iterator[Callable[..., HeaderServer]]:
    servers: list[HeaderServer] = []

    def start(headers: list[tuple[str, str]], **options: Any) -> HeaderServer:
        servers.append(HeaderServer(headers, **options))
        return servers[-1]

    yield start
    for server in servers:
        server.server.shutdown()
        server.server.server_close()
