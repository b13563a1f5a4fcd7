"""A worker asked to stop (SIGTERM, as systemd and `docker stop` send): its test ends early, results kept.

The signal may reach the Celery main process only (`docker stop`), which passes
it on to its pool processes, or every process at once (systemd): either way the
process running a test only raises a flag, which the k6 supervisor reads on its
next tick to stop k6 gracefully (k6 writes its summary) and store what it measured.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_requested = threading.Event()


def request(signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
    _requested.set()


def requested() -> bool:
    return _requested.is_set()


@contextmanager
def graceful_sigterm() -> Iterator[None]:
    """While a test runs in this process, SIGTERM raises the flag instead of killing the process mid-test.

    Only the main thread may set signal handlers: elsewhere (a threads pool) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, request)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
