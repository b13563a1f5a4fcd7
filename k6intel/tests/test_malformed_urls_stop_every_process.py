"""A malformed DATABASE_URL or REDIS_URL stops every process at start, with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

BIN = Path(sys.executable).parent
PROCESSES = {
    "manage.py check": [sys.executable, "manage.py", "check"],
    "celery worker": [str(BIN / "celery"), "-A", "k6intel", "worker", "-Q", "k6", "-c", "1"],
    "daphne": [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", "0", "k6intel.asgi:application"],
}
MALFORMED = [
    ("DATABASE_URL", "mysql//db.example.com/k6intel", "'://' is missing"),
    ("DATABASE_URL", "postgres://db.example.com/k6intel", "the scheme 'postgres' is not sqlite or mysql"),
    ("DATABASE_URL", "mysql://k6intel:secret@/k6intel", "it names no host"),
    ("REDIS_URL", "redis//redis.example.com:6379/0", "'://' is missing"),
    ("REDIS_URL", "amqp://redis.example.com", "the scheme 'amqp' is not redis or rediss"),
    ("REDIS_URL", "redis://:6379/0", "it names no host"),
    ("REDIS_URL", "redis://redis.example.com:63x9/0", "the port is not a number"),
]


@pytest.mark.parametrize("process", PROCESSES)
@pytest.mark.parametrize("variable, value, problem", MALFORMED)
def test_malformed_url_stops_the_process(process: str, variable: str, value: str, problem: str) -> None:
    env = {**os.environ, "DATABASE_URL": "sqlite:///var/unused.sqlite3", "REDIS_URL": "", variable: value}
    done = subprocess.run(PROCESSES[process], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    last_line = done.stderr.strip().splitlines()[-1]
    assert f"{variable}=" in last_line and problem in last_line and "Use a URL like" in last_line, done.stderr[-2000:]


def test_the_message_hides_the_password() -> None:
    env = {**os.environ, "DATABASE_URL": "mysql://k6intel:hunter2@db.example.com:33o6/k6intel"}
    done = subprocess.run(PROCESSES["manage.py check"], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "the port is not a number" in done.stderr
    assert "hunter2" not in done.stderr and "k6intel:***@db.example.com" in done.stderr
