"""Oversized request bodies are refused before the server buffers them: the real server, real sockets, its real memory."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import orjson
import psutil
import pytest

UPLOAD_BYTES = 100 * 1024 * 1024
# The server may grow a little while it answers; a buffered 100 MB body would add 100 MB or more.
MEMORY_BOUND_BYTES = 30 * 1024 * 1024
CHUNK = b"x" * (1024 * 1024)


@pytest.fixture(params=["web.sh", "daphne"])
def server(request: pytest.FixtureRequest) -> tuple[int, psutil.Process]:
    """The production server (scripts/web.sh, one worker: the process whose memory counts) and Daphne (`runserver`)."""
    if request.param == "web.sh":
        started = request.getfixturevalue("start_web_server")(WEB_WORKERS="1")
    else:
        started = request.getfixturevalue("start_daphne")()
    httpx.get(f"{started.base_url}/api/result/list")  # the application is loaded before memory is measured
    workers = started.workers() if request.param == "web.sh" else [psutil.Process(started.process.pid)]
    return started.port, workers[0]


def _post(port: int, headers: list[str], body_chunks: Iterator[bytes]) -> bytes:
    """Send a request as fast as the server takes it; return whatever it answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        head = ["POST /api/runjs HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
        conn.sendall("\r\n".join(head).encode())
        try:
            for chunk in body_chunks:
                conn.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-body: the answer was sent before the connection closed
        try:
            return conn.recv(65536)
        except ConnectionResetError:
            return b""


def _declared(total: int) -> Iterator[bytes]:
    for _ in range(total // len(CHUNK)):
        yield CHUNK


def _chunked(total: int) -> Iterator[bytes]:
    for _ in range(total // len(CHUNK)):
        yield f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n"
    yield b"0\r\n\r\n"


@pytest.mark.parametrize("encoding", ["content-length", "chunked"])
def test_a_100_mb_anonymous_upload_is_refused_without_buffering(server: tuple[int, psutil.Process], encoding: str) -> None:
    port, process = server
    before = process.memory_info().rss
    if encoding == "content-length":
        answer = _post(
            port, [f"Content-Length: {UPLOAD_BYTES}", "Content-Type: multipart/form-data; boundary=x"], _declared(UPLOAD_BYTES)
        )
    else:
        answer = _post(
            port, ["Transfer-Encoding: chunked", "Content-Type: multipart/form-data; boundary=x"], _chunked(UPLOAD_BYTES)
        )
    grown = process.memory_info().rss - before
    assert grown < MEMORY_BOUND_BYTES, f"the server grew by {grown / 1e6:.0f} MB"
    if answer:  # the client may see the close before the answer; when it is there, it is the JSON 413
        status_line, _, rest = answer.partition(b"\r\n")
        assert b" 413 " in status_line
        body = orjson.loads(rest.split(b"\r\n\r\n", 1)[1])
        assert body["error"]["code"] == "request_too_large" and "MAX_REQUEST_BYTES" in body["error"]["message"]


def test_a_body_within_the_limit_still_reaches_the_api(server: tuple[int, psutil.Process]) -> None:
    port, _ = server
    answer = _post(port, ["Content-Length: 10", "Content-Type: application/json"], iter([b'{"url": 1}']))
    assert b" 401 " in answer.partition(b"\r\n")[0]  # through to the API, which asks for a key
