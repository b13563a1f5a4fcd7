"""Riding out a database outage: retry what must be stored, with backoff, for up to OUTAGE_TOLERANCE_S.

Only connection-level errors are retried (the server is gone or restarting);
anything else is a real error and raised at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

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
