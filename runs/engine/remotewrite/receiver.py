"""An HTTP endpoint on loopback that takes k6's remote-write pushes for one run.

k6 runs a script nobody vetted by hand, in a box that shares the worker's network: the endpoint listens
on a port from REMOTE_WRITE_PORTS (the only loopback ports k6's user may reach past the egress rules,
runs/engine/egress.py) under a path with a per-run secret, takes one bounded body at a time and keeps
the decoded pushes for the reader thread. A push it cannot read is refused with 400 and counted: what the
run shows then says so rather than silently missing samples.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import deque
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cramjam
from django.conf import settings
from google.protobuf.message import DecodeError

from runs.engine.remotewrite.prometheus_remote_pb2 import WriteRequest

log = logging.getLogger(__name__)

MAX_PUSH_BYTES = 64 << 20  # compressed; k6 pushes a few KB a second unless a script makes countless series
READ_TIMEOUT_S = 10
HOST = "127.0.0.1"


class ReceiverUnavailable(RuntimeError):
    """No port of REMOTE_WRITE_PORTS was free."""


class Receiver:
    """`with Receiver() as receiver:` … k6 pushes to `receiver.url` … `receiver.drain()` from one thread."""

    def __init__(self) -> None:
        self.token = secrets.token_urlsafe(24)
        self.pushes: deque[WriteRequest] = deque()
        self.refused = 0
        self.bytes_received = 0
        self._server = _bind(self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="remote-write", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/write/{self.token}"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def drain(self) -> list[WriteRequest]:
        """The pushes received since the last call, oldest first."""
        taken = []
        while self.pushes:
            taken.append(self.pushes.popleft())
        return taken

    def accept(self, body: bytes) -> HTTPStatus:
        try:
            request = WriteRequest.FromString(bytes(cramjam.snappy.decompress_raw(body)))
        except (cramjam.DecompressionError, DecodeError, ValueError) as exc:
            self.refused += 1
            log.warning("a remote-write push could not be read: %s", exc)
            return HTTPStatus.BAD_REQUEST
        self.bytes_received += len(body)
        self.pushes.append(request)
        return HTTPStatus.NO_CONTENT


def _bind(receiver: Receiver) -> ThreadingHTTPServer:
    first, last = settings.REMOTE_WRITE_PORTS
    for port in range(first, last + 1):
        try:
            server = ThreadingHTTPServer((HOST, port), _handler(receiver))
        except OSError:
            continue
        server.daemon_threads = True
        return server
    raise ReceiverUnavailable(f"no free port in REMOTE_WRITE_PORTS {first}-{last} for k6's samples")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class PushHandler(BaseHTTPRequestHandler):
        timeout = READ_TIMEOUT_S
        server_version = "k6intel-remote-write"

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            if self.path != f"/write/{receiver.token}":
                self._reply(HTTPStatus.NOT_FOUND)
                return
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self._reply(HTTPStatus.LENGTH_REQUIRED)
                return
            if not 0 <= length <= MAX_PUSH_BYTES:
                receiver.refused += 1
                self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
                return
            self._reply(receiver.accept(self.rfile.read(length)))

        def _reply(self, status: HTTPStatus) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
            return  # one push a second: nothing worth a log line unless refused

    return PushHandler
