"""The production web server (scripts/web.sh: gunicorn with uvicorn workers) as a real process:
websockets on every worker get a run's live events, stored results keep their ETag, limits hold."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from conftest import ThrowawayRedis, WebServer

ROOT = Path(__file__).resolve().parents[2]
MAX_SOCKETS = 40

# Run inside the server's own database: an API key and an ended run with a result and one event.
SETUP = """
import json
from django.utils import timezone
from runs import events
from runs.api.apikeys import apikey_create
from runs.models import Project, Run, RunResult
_, key = apikey_create("web-server-test")
run = Run.objects.create(
    project=Project.objects.create(name="web"), api_key=_, mode="script", script="", planned_duration_s=1,
    max_vus=1, sla_config={}, status="done", finished_at=timezone.now(),
)
RunResult.objects.create(run=run, metrics={"http_reqs": {"count": 3}})
events.publish(run.pk, "stage", {"status": "done", "stage": ""})
print(json.dumps({"key": key, "run_id": str(run.pk)}))
"""
PUBLISH = "from runs import events; events.publish({run_id!r}, 'log', {{'lines': ['from another process'], 'dropped': 0}})"


def manage_shell(server_env: dict[str, str], code: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
        env=server_env, cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout


@pytest.fixture
def web(start_web_server: Callable[..., WebServer], throwaway_redis: ThrowawayRedis, tmp_path: Path) -> tuple[WebServer, dict]:
    """Two workers on a database of their own, with a Redis channel layer as in production."""
    server = start_web_server(migrate=True, REDIS_URL=throwaway_redis.url)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "REDIS_URL": throwaway_redis.url}
    env.setdefault("SECRET_KEY", "a-test-secret-key-that-is-long-enough-for-checks-0123456789")
    return server, {"env": env, **json.loads(manage_shell(env, SETUP).strip().splitlines()[-1])}


def workers_holding_sockets(server: WebServer) -> int:
    def holds(worker: Any) -> bool:
        return any(c.laddr.port == server.port and c.status == "ESTABLISHED" for c in worker.net_connections("tcp"))

    return sum(1 for worker in server.workers() if holds(worker))


def next_event(socket_: ClientConnection) -> dict:
    return json.loads(socket_.recv(timeout=10))


def test_a_live_event_reaches_websockets_on_every_worker(web: tuple[WebServer, dict]) -> None:
    server, setup = web
    uri = f"ws://127.0.0.1:{server.port}/ws/runs/{setup['run_id']}/?api_key={setup['key']}"
    sockets: list[ClientConnection] = []
    with ExitStack() as stack:
        # The kernel hands connections to the workers; open sockets until both hold some.
        while workers_holding_sockets(server) < 2 and len(sockets) < MAX_SOCKETS:
            sockets.append(stack.enter_context(connect(uri, origin=Origin(server.base_url), open_timeout=10)))
        assert workers_holding_sockets(server) == 2, f"{len(sockets)} websockets all went to one worker"
        assert all(next_event(socket_)["type"] == "stage" for socket_ in sockets)  # the stored history first
        manage_shell(setup["env"], PUBLISH.format(run_id=setup["run_id"]))  # another process, as a Celery worker is
        for socket_ in sockets:
            event = next_event(socket_)
            assert event["type"] == "log" and event["data"]["lines"] == ["from another process"]


def test_an_ended_runs_result_keeps_its_etag_across_workers(web: tuple[WebServer, dict]) -> None:
    server, setup = web
    url, headers = f"{server.base_url}/api/result/{setup['run_id']}", {"X-API-Key": setup["key"]}
    with httpx.Client() as client:  # a new connection each time: the workers take turns
        etags = {httpx.get(url, headers=headers).headers["ETag"] for _ in range(6)}
        assert len(etags) == 1
        not_modified = client.get(url, headers={**headers, "If-None-Match": etags.pop()})
    assert not_modified.status_code == 304 and not not_modified.content


def test_oversized_request_headers_are_refused(start_web_server: Callable[..., WebServer]) -> None:
    server = start_web_server(WEB_WORKERS="1")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(b"GET /api/result/list HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            for _ in range(64):  # 64 MB of one header, unless the server stops reading first
                conn.sendall(b"X-Padding: " + b"a" * (1024 * 1024) + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = conn.recv(200)
    assert answer.startswith(b"HTTP/1.1 400") or answer == b""  # refused: 400 when the client reads it in time
    assert server.workers()[0].memory_info().rss < 400 * 1024 * 1024


def test_a_bad_worker_count_stops_the_server_naming_the_variable() -> None:
    env = {**os.environ, "PYTHON": sys.executable, "WEB_WORKERS": "lots"}
    done = subprocess.run([str(ROOT / "scripts" / "web.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "WEB_WORKERS='lots' is not a whole number" in done.stderr


def test_compose_starts_the_web_service_with_the_production_command() -> None:
    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]
    assert "scripts/web.sh" in web["command"]
    # Longer than the workers' graceful timeout (WEB_GRACEFUL_TIMEOUT_S, 30 s): Docker's SIGKILL comes after it.
    assert int(web["stop_grace_period"].removesuffix("s")) > 30
