"""Shared fixtures: real demo targets on loopback, one way to build runs, a Redis to take down."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis

from runs.demo_target import DemoTarget, TargetProfile


@pytest.fixture(autouse=True)
def light_analyzers(settings: Any) -> None:
    """Runs in tests skip the browser analyzers (tens of seconds each); their own tests turn them on."""
    settings.ANALYZERS = ["headers", "tls"]


@pytest.fixture
def demo_target() -> Iterator[Callable[..., DemoTarget]]:
    started: list[DemoTarget] = []

    def start(**profile: Any) -> DemoTarget:
        target = DemoTarget(TargetProfile(**profile)).start()
        started.append(target)
        return target

    yield start
    for target in started:
        target.stop()


@pytest.fixture
def make_run(db: None) -> Callable[..., Any]:
    """A queued run with the given script, bypassing submission checks (for executor tests)."""
    from runs.models import Project, Run

    def make(script: str, planned_duration_s: int = 5, max_vus: int = 1, **fields: Any) -> Run:
        project, _ = Project.objects.get_or_create(name="tests")
        sla = {"success_rate": 0.95, "error_rate": 0.1, "p90_ms": 1500.0}
        return Run.objects.create(
            project=project,
            mode=Run.Mode.SCRIPT,
            script=script,
            planned_duration_s=planned_duration_s,
            max_vus=max_vus,
            sla_config=sla,
            **fields,
        )

    return make


@pytest.fixture
def keys(db: None) -> dict[str, tuple[Any, str]]:
    """Three API keys: an admin's, a user's and another user's, as (record, plain key)."""
    from runs.api.apikeys import apikey_create

    return {
        "admin": apikey_create("admin", is_admin=True),
        "user": apikey_create("user"),
        "other": apikey_create("other"),
    }


@pytest.fixture
def api(keys: dict[str, tuple[Any, str]]) -> Callable[[str | None], Any]:
    """A DRF test client sending the named key (or none, or a raw string) in X-API-Key."""
    from rest_framework.test import APIClient

    def client(who: str | None) -> APIClient:
        api_client = APIClient()
        if who is not None:
            api_client.credentials(HTTP_X_API_KEY=keys[who][1] if who in keys else who)
        return api_client

    return client


@pytest.fixture
def embedded(settings: Any) -> None:
    """Embedded mode: runs execute in-process, progress over the in-memory channel layer."""
    settings.REDIS_URL = None
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThrowawayRedis:
    """A redis-server of the test's own on a free port, so an outage test never touches the shared one."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir = free_port(), workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> ThrowawayRedis:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen([*command, "--dir", str(self.workdir)], stdout=subprocess.DEVNULL)
        client, deadline = redis.Redis.from_url(self.url), time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        """An outage: SIGKILL. It keeps nothing on disk, so a `start` after it has empty queues."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def throwaway_redis(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on: a database or broker that is down."""
    return free_port()


class Daphne:
    """The ASGI server `runserver` uses, on a free port, with the given environment."""

    name = "daphne"

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        log_path = workdir / f"{self.name}-{self.port}.log"
        self.process = subprocess.Popen(
            self.command(), cwd=Path(__file__).parent, env=self.environment(env), start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=log_path.open("wb"),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen: {log_path.read_text()[-2000:]}")

    def command(self) -> list[str]:
        return [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "k6intel.asgi:application"]

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        return env

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)


class WebServer(Daphne):
    """The production server as docker-compose.yml starts it: scripts/web.sh, gunicorn with (by
    default two) uvicorn worker processes."""

    name = "web.sh"

    def command(self) -> list[str]:
        return [str(Path(__file__).parent / "scripts" / "web.sh")]

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        # A short grace period: a test's open websockets must not hold up its stop for 30 s.
        defaults = {"WEB_WORKERS": "2", "WEB_GRACEFUL_TIMEOUT_S": "5"}
        return {**defaults, **env, "WEB_BIND": f"127.0.0.1:{self.port}", "PYTHON": sys.executable}

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()


def _start_servers(tmp_path: Path, server_class: type[Daphne]) -> Iterator[Callable[..., Any]]:
    """Start servers on a database of their own (`migrate=True` creates its tables) with production-like settings."""
    servers: list[Daphne] = []

    def start(migrate: bool = False, **overrides: str) -> Daphne:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "REDIS_URL": "", "DEBUG": "false"}
        env.setdefault("SECRET_KEY", "a-test-secret-key-that-is-long-enough-for-checks-0123456789")
        env.update({"ALLOWED_HOSTS": "127.0.0.1", **overrides})
        if migrate:
            manage = [sys.executable, str(Path(__file__).parent / "manage.py"), "migrate", "--noinput"]
            subprocess.run(manage, env=env, check=True, capture_output=True)
        servers.append(server_class(tmp_path, env))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def start_daphne(tmp_path: Path) -> Iterator[Callable[..., Daphne]]:
    yield from _start_servers(tmp_path, Daphne)


@pytest.fixture
def start_web_server(tmp_path: Path) -> Iterator[Callable[..., WebServer]]:
    yield from _start_servers(tmp_path, WebServer)
