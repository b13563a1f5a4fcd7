"""A Celery worker that cannot reach its database or broker exits at start, before it takes a message.

A task taken by a worker whose database is down fails on its first query and its
message is gone; refusing to start instead leaves the message queued for a
healthy worker, and the process supervisor (docker compose, systemd) restarts
this one until the database is back.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, signals
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import connection
from kombu.exceptions import OperationalError as BrokerError

from k6intel.env import without_password

log = logging.getLogger(__name__)
BROKER_ATTEMPTS = 3  # about 3 s of retries: a broker restarting alongside the worker is waited for


@signals.worker_init.connect
def refuse_to_start_without_dependencies(sender: Any = None, **kwargs: Any) -> None:
    problems = [problem for problem in (database_problem(), broker_problem(sender.app)) if problem]
    if not problems:
        return
    for problem in problems:
        log.critical("Worker not started: %s", problem)
    raise SystemExit(1)  # Celery catches Exception from signal handlers, not SystemExit


def database_problem() -> str | None:
    try:
        connection.ensure_connection()
    except DatabaseError as exc:
        return (
            f"the database (DATABASE_URL, {_database_address()}) is unreachable: {_sentence(exc)} Start the worker once it is up."
        )
    finally:
        connection.close()  # the pool children open their own
    return None


def broker_problem(app: Celery) -> str | None:
    with app.connection_for_write() as broker:
        try:
            # The kombu stubs in celery-types take int; kombu documents these intervals as float seconds.
            broker.ensure_connection(max_retries=BROKER_ATTEMPTS, interval_start=0.5, interval_step=0.5)  # type: ignore[arg-type]
        except BrokerError as exc:  # kombu turns the transport's own errors into this one
            return f"the broker (REDIS_URL, {without_password(settings.CELERY_BROKER_URL)}) is unreachable: {_sentence(exc)} Start the worker once it is up."
    return None


def _sentence(exc: Exception) -> str:
    return str(exc).rstrip(".") + "."


def _database_address() -> str:
    database = settings.DATABASES["default"]
    if database.get("HOST"):
        return f"{database['HOST']}:{database.get('PORT') or 'default port'}/{database['NAME']}"
    return str(database["NAME"])
