"""An HTTP endpoint on loopback that takes k6's remote-write pushes for one run.

k6 runs a script nobody vetted by hand, in a box that shares the worker's network, and the script can read
the receiver's URL from its own environment: the endpoint listens on a port from REMOTE_WRITE_PORTS (the
only loopback ports k6's user may reach past the egress rules, runs/engine/egress.py) under a path with a
per-run secret, reads a few connections at once, one bounded body at a time in arrival order, and keeps a
bounded queue of decoded pushes for the reader thread. A push it cannot read is refused with a 4xx and
counted, so that what the run shows can say so.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cramjam
from django.conf import settings
from google.protobuf.message import DecodeError

from runs.engine.remotewrite.prometheus_remote_pb2 import WriteRequest

log = logging.getLogger(__name__)

# k6 pushes a few KB a second; a script with very many tag combinations, some MB. Beyond these, not k6's.
MAX_PUSH_BYTES = 8 << 20  # as sent (snappy)
MAX_DECODED_BYTES = 64 << 20
MAX_QUEUED_PUSHES = 120  # two minutes of pushes the reader has not taken: it has stopped reading
MAX_CONNECTIONS = 4  # connections served at once (k6 holds one); more are turned away at once
READ_TIMEOUT_S = 10
SETTLE_TIMEOUT_S = 10
HOST = "127.0.0.1"


class ReceiverUnavailable(RuntimeError):
    """No port of REMOTE_WRITE_PORTS was free."""


class Receiver:
    """`with Receiver() as receiver:` … k6 pushes to `receiver.url` … `receiver.drain()` from one thread."""

    def __init__(self) -> None:
        self.token = secrets.token_urlsafe(24)
        self.pushes: deque[tuple[float, WriteRequest]] = deque()
        self.refused = 0
        self._reading = threading.Lock()  # one body at a time, in the order they came: pushes are cumulative
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._in_flight = 0
        self._settled = threading.Condition()
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

    def drain(self) -> list[tuple[float, WriteRequest]]:
        """The pushes received since the last call with their arrival times (epoch s), oldest first."""
        taken = []
        while self.pushes:
            taken.append(self.pushes.popleft())
        return taken

    def settle(self) -> None:
        """Waits for pushes still being read (k6's last one, sent as it stopped), at most SETTLE_TIMEOUT_S."""
        with self._settled:
            self._settled.wait_for(lambda: self._in_flight == 0, timeout=SETTLE_TIMEOUT_S)

    def handle(self, path: str, length_header: str | None, read: Callable[[int], bytes]) -> HTTPStatus:
        if not hmac.compare_digest(path.encode(), f"/write/{self.token}".encode()):
            return HTTPStatus.NOT_FOUND
        try:
            length = int(length_header or "")
        except ValueError:
            return HTTPStatus.LENGTH_REQUIRED
        if not 0 <= length <= MAX_PUSH_BYTES:
            return self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "a push of more than MAX_PUSH_BYTES")
        with self._flight():
            body = read(length)
            with self._reading:
                arrived = time.time()
                return self._accept(body, arrived)

    def _accept(self, body: bytes, arrived: float) -> HTTPStatus:
        if len(self.pushes) >= MAX_QUEUED_PUSHES:
            return self._refuse(HTTPStatus.TOO_MANY_REQUESTS, "pushes that nobody reads")
        try:
            if cramjam.snappy.decompress_raw_len(body) > MAX_DECODED_BYTES:
                return self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "a push that decodes to too much")
            request = WriteRequest.FromString(bytes(cramjam.snappy.decompress_raw(body)))
        except (cramjam.DecompressionError, DecodeError, ValueError) as exc:
            return self._refuse(HTTPStatus.BAD_REQUEST, f"a push that could not be read: {exc}")
        self.pushes.append((arrived, request))
        return HTTPStatus.NO_CONTENT

    def _refuse(self, status: HTTPStatus, why: str) -> HTTPStatus:
        self.refused += 1  # under _reading, or from a handler that read nothing (a lost count at worst)
        log.warning("refused %s", why)
        return status

    @contextmanager
    def _flight(self) -> Iterator[None]:
        """Counts a push being read, so that `settle()` can wait for it."""
        with self._settled:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._settled:
                self._in_flight -= 1
                self._settled.notify_all()


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
            if not receiver._slots.acquire(blocking=False):
                self._reply(HTTPStatus.SERVICE_UNAVAILABLE)
                return
            try:
                self._reply(receiver.handle(self.path, self.headers.get("Content-Length"), self.rfile.read))
            finally:
                receiver._slots.release()

        def _reply(self, status: HTTPStatus) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
            return  # one push a second: nothing worth a log line unless refused

    return PushHandler
