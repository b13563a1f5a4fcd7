"""Fixtures for the worker tests: a real `celery worker` process on Redis and the test database."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from django.conf import settings
from django.db import connection, connections

CELERY = str(Path(sys.executable).parent / "celery")


def worker_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"mysql://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"


@pytest.fixture
def start_worker(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    if not settings.REDIS_URL:
        pytest.fail("The worker tests need REDIS_URL (make test sets it).")
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    workers: list[subprocess.Popen[bytes]] = []

    def start(queues: str = "k6", **extra_env: str) -> subprocess.Popen[bytes]:
        log_path = tmp_path / f"worker-{len(workers)}.log"
        redis_url = settings.REDIS_URL
        assert redis_url, "workers need REDIS_URL"
        # No post-k6 stages unless a test asks for them: these workers serve the k6 queue only.
        env = {
            **os.environ,
            "DATABASE_URL": worker_database_url(),
            "REDIS_URL": redis_url,
            "RUN_POST_STAGES": "",
            **extra_env,
        }
        command = [CELERY, "-A", "k6intel", "worker", "-Q", queues, "-c", "1", "--pool", "prefork", "-l", "INFO"]
        command += ["-n", f"test-{uuid.uuid4().hex[:8]}@%h", "--without-gossip", "--without-mingle"]
        worker = subprocess.Popen(command, env=env, start_new_session=True, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
        workers.append(worker)
        _wait_ready(worker, log_path)
        return worker

    yield start
    for worker in workers:
        _stop(worker)


def _wait_ready(worker: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if b" ready." in log_path.read_bytes():
            return
        if worker.poll() is not None:
            pytest.fail(f"celery worker exited {worker.returncode}:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"celery worker did not become ready:\n{log_path.read_text()[-3000:]}")


def _stop(worker: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """The calls' results, each call made in a thread of its own (with its own database connection)."""

    def call_and_close(call: Callable[[], Any]) -> Any:
        try:
            return call()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(call_and_close, calls))


def meet_at(monkeypatch: pytest.MonkeyPatch, owner: object, name: str, callers: int = 2) -> None:
    """`owner.name` waits until `callers` calls have reached it: each request has then passed every check made before it."""
    everyone_here = threading.Barrier(callers, timeout=60)
    call = getattr(owner, name)

    def met(*args: Any, **kwargs: Any) -> Any:
        everyone_here.wait()
        return call(*args, **kwargs)

    monkeypatch.setattr(owner, name, met)


@dataclass(frozen=True)
class QueuedRun:
    """A run queued through the API of a real Daphne whose broker has no worker: it stays queued and quiet."""

    base_url: str
    api_key: str
    run_id: str
    redis_url: str


@pytest.fixture
def queued_run_on_daphne(start_daphne: Callable[..., Any], throwaway_redis: Any, demo_target: Callable[..., Any]) -> QueuedRun:
    key = "k6i_" + secrets.token_urlsafe(16)
    server = start_daphne(migrate=True, REDIS_URL=throwaway_redis.url, BACKEND_API_KEY=key, ALLOW_LOOPBACK_TARGETS="true")
    created = httpx.post(
        f"{server.base_url}/api/run", json={"url": demo_target().url, "vus": 1, "duration": "2s"}, headers={"X-API-Key": key}
    )
    assert created.status_code == 202, created.text
    return QueuedRun(server.base_url, key, created.json()["run_id"], throwaway_redis.url)
