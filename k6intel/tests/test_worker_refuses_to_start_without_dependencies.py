"""A worker whose database or broker is down exits at start, leaving queued messages for a healthy one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from django.conf import settings

CELERY = str(Path(sys.executable).parent / "celery")
QUEUE = "k6"


def run_worker(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The k6 worker as docker-compose.yml starts it; it should exit by itself."""
    command = [CELERY, "-A", "k6intel", "worker", "-Q", QUEUE, "-c", "1", "--without-gossip", "--without-mingle"]
    worker = subprocess.Popen(
        command, cwd=settings.BASE_DIR, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = worker.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)  # the pool processes too
        stdout, stderr = worker.communicate()
        pytest.fail(f"the worker started and kept running:\n{stderr[-3000:]}")
    return subprocess.CompletedProcess(command, worker.returncode, stdout, stderr)


def test_a_worker_whose_database_is_down_exits_without_taking_a_message(
    tmp_path: Path, throwaway_redis: Any, unused_port: int
) -> None:
    Celery(broker=throwaway_redis.url).send_task("runs.tasks.execute_run", args=["0" * 32], queue=QUEUE)
    done = run_worker(tmp_path, DATABASE_URL=f"mysql://k6intel@127.0.0.1:{unused_port}/k6intel", REDIS_URL=throwaway_redis.url)
    assert done.returncode != 0
    assert f"the database (DATABASE_URL, 127.0.0.1:{unused_port}/k6intel) is unreachable" in done.stderr, done.stderr[-3000:]
    assert redis.Redis.from_url(throwaway_redis.url).llen(QUEUE) == 1  # still there for a worker that can record it


def test_a_worker_whose_broker_is_down_exits_with_the_reason(tmp_path: Path, unused_port: int) -> None:
    done = run_worker(
        tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", REDIS_URL=f"redis://127.0.0.1:{unused_port}/0"
    )
    assert done.returncode != 0
    assert f"the broker (REDIS_URL, redis://127.0.0.1:{unused_port}/0) is unreachable" in done.stderr, done.stderr[-3000:]
    assert "DATABASE_URL" not in done.stderr  # the database was fine: only the broker is named
