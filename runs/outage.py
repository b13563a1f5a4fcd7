"""Riding out a database outage: retry what must be stored, with backoff, for up to OUTAGE_TOLERANCE_S.

Only connection-level errors are retried (the server is gone or restarting);
anything else is a real error and raised at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, connections

log = logging.getLogger(__name__)

T = TypeVar("T")
TRANSIENT = (OperationalError, InterfaceError)
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 10.0


def retry_through_outage(action: Callable[[], T], what: str) -> T:
    """`action()`, tried again while the database is unreachable, until OUTAGE_TOLERANCE_S has passed."""
    deadline = time.monotonic() + settings.OUTAGE_TOLERANCE_S
    delay_s = FIRST_DELAY_S
    while True:
        try:
            return action()
        except TRANSIENT as exc:
            if time.monotonic() + delay_s > deadline:
                raise
            log.warning("database unreachable while %s (%s); trying again in %.1f s", what, exc, delay_s)
            drop_connection()
            time.sleep(delay_s)
            delay_s = min(delay_s * 2, MAX_DELAY_S)


def drop_connection() -> None:
    """Forget a broken connection so that the next query opens a new one."""
    try:
        connection.close()
    except DatabaseError:
        pass


@contextmanager
def beating(beat: Callable[[], object], every_s: float, name: str) -> Iterator[None]:
    """`beat()` every `every_s` in a thread of its own while the block runs: long work without ticks (a
    post-k6 stage, a segment's merge) keeps its heartbeat, and the reaper away. An outage skips beats."""
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.wait(every_s):
                try:
                    beat()
                except TRANSIENT:  # the database is away: beat again when it is back
                    drop_connection()
        finally:
            connections.close_all()  # this thread's own

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
