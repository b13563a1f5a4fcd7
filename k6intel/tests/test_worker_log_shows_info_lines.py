"""A worker started as docker-compose.yml starts it (no --loglevel) still logs the project's INFO lines.

Celery sets the root logger to the worker's --loglevel, WARNING by default; the
project's own loggers keep LOG_LEVEL, so a redelivered run's claim no-op shows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

from runs.conftest import wait_until, worker_database_url

pytestmark = pytest.mark.django_db(transaction=True)
CELERY = str(Path(sys.executable).parent / "celery")


def test_a_claim_no_op_shows_in_the_log(make_run: Callable[..., Any], throwaway_redis: Any, tmp_path: Path) -> None:
    if connection.vendor == "sqlite":
        pytest.skip("the worker needs to share the test database: run with DATABASE_URL=mysql://… (make test does)")
    run = make_run("export default function () {}", status="running")  # claimed already: a second delivery
    Celery(broker=throwaway_redis.url).send_task("runs.tasks.execute_run", args=[str(run.pk)], queue="k6")
    log_path = tmp_path / "worker.log"
    env = {**os.environ, "DATABASE_URL": worker_database_url(), "REDIS_URL": throwaway_redis.url}
    env.pop("LOG_LEVEL", None)
    command = [CELERY, "-A", "k6intel", "worker", "-Q", "k6", "-c", "1", "--prefetch-multiplier", "1"]
    worker = subprocess.Popen(
        command, cwd=settings.BASE_DIR, env=env, start_new_session=True, stdout=log_path.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        wait_until(lambda: b"already claimed" in log_path.read_bytes(), 60, "the claim no-op in the worker's log")
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    assert f"run {run.pk} was already claimed".encode() in log_path.read_bytes()
