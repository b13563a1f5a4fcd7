"""Production mode through outages and crashes, with real processes only.

A Celery worker and beat run against a Redis and a MariaDB of the test's own
(killed and restarted at will; the shared servers stay up), k6 runs for real,
and the target counts the requests it receives, so "no second load" and
"every result kept" are checked against what actually arrived.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import psutil
import pytest
from asgiref.sync import async_to_sync

from conftest import ThrowawayRedis, free_port
from runs.conftest import wait_until
from runs.pipeline import WORKDIR_PREFIX

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).parent / "celery")


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class ThrowawayMariaDB:
    """A mariadbd of the test's own on a data directory of its own; `kill` is `kill -9`."""

    def __init__(self, datadir: Path) -> None:
        self.datadir, self.port = datadir, free_port()
        self.process: subprocess.Popen[bytes] | None = None
        install = ["mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--user=root", "--skip-test-db"]
        subprocess.run(install + ["--auth-root-authentication-method=normal"], check=True, capture_output=True)

    def url(self, database: str) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        command = ["mariadbd", "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}", "--bind-address=127.0.0.1"]
        command += [f"--socket={self.datadir}/mysqld.sock", "--user=root", "--skip-log-bin", "--innodb-buffer-pool-size=64M"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: _listening(self.port), 30, "mariadbd to listen")

    def create_database(self) -> str:
        name = f"k6intel_{uuid.uuid4().hex[:8]}"
        sql = f"CREATE DATABASE {name} CHARACTER SET utf8mb4"
        subprocess.run(["mariadb", "-h127.0.0.1", f"-P{self.port}", "-uroot", "-e", sql], check=True)
        return name

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class Installation:
    """The platform's processes, every one pointed at the throw-away database and broker."""

    def __init__(self, database_url: str, redis_url: str, logs: Path, **env: str) -> None:
        self.logs = logs
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "ALLOW_LOOPBACK_TARGETS": "true",
            "RUN_POST_STAGES": "",
            "REAP_EVERY_S": "1",
            "REDISPATCH_AFTER_S": "5",
            **env,
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.manage("migrate", "-v0")

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    def driver(self, *args: str) -> dict[str, Any]:
        command = [sys.executable, "-m", "runs.tests.outage_driver", *args]
        done = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return orjson.loads(done.stdout.strip().splitlines()[-1])

    def run(self, run_id: str) -> dict[str, Any]:
        return self.driver("show", run_id)

    def wait_for(self, run_id: str, statuses: set[str], timeout_s: float) -> dict[str, Any]:
        wait_until(lambda: self.run(run_id)["status"] in statuses, timeout_s, f"run {run_id} to be {statuses}")
        return self.run(run_id)

    def start_worker(self, queues: str = "k6") -> subprocess.Popen[bytes]:
        command = [CELERY, "-A", "k6intel", "worker", "-Q", queues, "-c", "1", "--pool", "prefork", "-l", "INFO"]
        command += ["-n", f"outage-{uuid.uuid4().hex[:8]}@%h", "--without-gossip", "--without-mingle"]
        return self._start(command, "worker", b" ready.")

    def start_beat(self) -> subprocess.Popen[bytes]:
        schedule = self.logs / f"beat-{uuid.uuid4().hex[:6]}"
        return self._start([CELERY, "-A", "k6intel", "beat", "-l", "INFO", "-s", str(schedule)], "beat", b"beat: Starting")

    def _start(self, command: list[str], name: str, ready: bytes) -> subprocess.Popen[bytes]:
        log_path = self.logs / f"{name}-{len(self.processes)}.log"
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, start_new_session=True, stdout=log_path.open("wb"), stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        deadline = time.monotonic() + 60
        while ready not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{name} did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        return process

    def log(self, name: str) -> str:
        return "\n".join(path.read_text()[-4000:] for path in sorted(self.logs.glob(f"{name}-*.log")))

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="module")
def mariadb() -> Iterator[ThrowawayMariaDB]:
    datadir = Path(tempfile.mkdtemp(prefix="k6intel-test-mariadb-"))
    server = ThrowawayMariaDB(datadir)
    server.start()
    yield server
    server.kill()
    shutil.rmtree(datadir, ignore_errors=True)


@pytest.fixture
def installation(
    mariadb: ThrowawayMariaDB, throwaway_redis: ThrowawayRedis, tmp_path: Path
) -> Iterator[Callable[..., Installation]]:
    made: list[Installation] = []

    def make(**env: str) -> Installation:
        made.append(Installation(mariadb.url(mariadb.create_database()), throwaway_redis.url, tmp_path, **env))
        return made[-1]

    yield make
    for each in made:
        each.stop_all()


def test_a_run_whose_message_a_redis_restart_lost_runs_once_when_redis_is_back(
    installation: Callable[..., Installation], throwaway_redis: ThrowawayRedis, demo_target: Callable[..., Any]
) -> None:
    platform = installation()
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    run_id = platform.driver("create", target.url, "2s")["id"]  # published to the k6 queue; no worker yet
    throwaway_redis.kill()
    throwaway_redis.start()  # nothing on disk: the queue, and the message in it, are gone
    platform.start_worker()
    platform.start_beat()  # the sweeper publishes it again after REDISPATCH_AFTER_S
    run = platform.wait_for(run_id, {"done", "failed"}, 90)
    assert run["status"] == "done", (run, platform.log("beat"), platform.log("worker"))
    assert run["dispatch_attempts"] >= 2
    assert run["http_reqs"] == target.errors.count  # one k6 run's requests, not two
    assert "queued again" in platform.log("beat")


def test_a_failed_publish_is_accepted_and_the_run_starts_once_redis_is_up(
    installation: Callable[..., Installation], throwaway_redis: ThrowawayRedis, demo_target: Callable[..., Any]
) -> None:
    platform = installation()
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    throwaway_redis.kill()
    created = platform.driver("api-create", target.url, "2s")
    assert created["status"] == 202 and created["body"]["status"] == "queued", created  # accepted, not a 500
    run_id = created["body"]["run_id"]
    assert platform.run(run_id)["status"] == "queued"
    throwaway_redis.start()
    platform.start_worker()
    platform.start_beat()
    run = platform.wait_for(run_id, {"done", "failed"}, 90)
    assert run["status"] == "done" and run["http_reqs"] == target.errors.count, run


def test_a_database_outage_mid_run_neither_stops_k6_nor_loses_a_result(
    installation: Callable[..., Installation], mariadb: ThrowawayMariaDB, demo_target: Callable[..., Any]
) -> None:
    # The sweeper runs too, with a reaper so eager that every heartbeat looks stale right after the outage.
    platform = installation(REAP_AFTER_S="3")
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    platform.start_worker()
    platform.start_beat()
    run_id = platform.driver("create", target.url, "16s")["id"]
    wait_until(lambda: target.errors.count > 0, 30, "k6 to start sending load")
    time.sleep(2)
    mariadb.kill()  # kill -9, mid-run
    time.sleep(5)
    mariadb.start()
    run = platform.wait_for(run_id, {"done", "failed"}, 90)
    assert run["status"] == "done", (run, platform.log("worker"))
    assert run["http_reqs"] == target.errors.count  # everything k6 sent is in the stored result
    assert run["seconds"] >= 16 and run["metric_events"] >= 15  # the seconds held back went out after the outage
    assert "database unreachable" in platform.log("worker") and "database back after" in platform.log("worker")


def test_post_stages_queued_while_redis_is_down_run_once_it_is_back(
    installation: Callable[..., Installation], throwaway_redis: ThrowawayRedis, demo_target: Callable[..., Any]
) -> None:
    platform = installation(RUN_POST_STAGES="runs.tests.stages.count_requests")
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    platform.start_worker("k6,analyzers")
    run_id = platform.driver("create", target.url, "4s")["id"]
    wait_until(lambda: target.errors.count > 0, 30, "k6 to start sending load")
    throwaway_redis.kill()  # k6 goes on; when it ends, the post-k6 stages cannot be queued
    run = platform.wait_for(run_id, {"analyzing", "done", "failed"}, 60)
    assert run["status"] == "analyzing" and run["http_reqs"] == target.errors.count, run  # k6's results are stored
    time.sleep(3)
    assert platform.run(run_id)["status"] == "analyzing"  # waiting, not failed
    throwaway_redis.start()
    platform.start_beat()
    run = platform.wait_for(run_id, {"done", "failed"}, 90)
    assert run["status"] == "done" and run["error"] == "", (run, platform.log("worker"), platform.log("beat"))
    assert f"post stage saw {target.errors.count} requests" in platform.driver("events", run_id)["log"]


def test_live_events_resume_after_redis_comes_back_mid_run(
    installation: Callable[..., Installation], throwaway_redis: ThrowawayRedis, demo_target: Callable[..., Any]
) -> None:
    platform = installation()
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    platform.start_worker()
    run_id = platform.driver("create", target.url, "14s")["id"]
    wait_until(lambda: target.errors.count > 0, 30, "k6 to start sending load")
    throwaway_redis.kill()  # the worker's live pushes fail; k6 and the stored events go on
    time.sleep(3)
    throwaway_redis.start()
    # A subscriber joining the run's group after the restart gets the worker's next pushes.
    event = async_to_sync(_next_pushed_event)(throwaway_redis.url, f"run.{run_id}")
    assert event["type"] == "run.event" and event["event"]["type"] in ("metrics", "log"), event
    run = platform.wait_for(run_id, {"done", "failed"}, 60)
    assert run["status"] == "done" and run["http_reqs"] == target.errors.count, run


async def _next_pushed_event(redis_url: str, group: str) -> dict[str, Any]:
    from channels_redis.core import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[redis_url])
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    try:
        return await asyncio.wait_for(layer.receive(channel), timeout=10)
    finally:
        await layer.flush()


@pytest.mark.parametrize("reach", ["main process", "every process"])
def test_sigterm_to_the_worker_stops_k6_gracefully_and_keeps_partial_results(
    installation: Callable[..., Installation], demo_target: Callable[..., Any], reach: str
) -> None:
    platform = installation()
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    worker = platform.start_worker()
    run_id = platform.driver("create", target.url, "30s")["id"]
    wait_until(lambda: target.errors.count > 0, 30, "k6 to start sending load")
    time.sleep(2)
    # `docker stop` signals the main process only; systemd every process of the service, k6 included.
    tree = [worker.pid] + (
        [child.pid for child in psutil.Process(worker.pid).children(recursive=True)] if reach == "every process" else []
    )
    for pid in tree:
        os.kill(pid, signal.SIGTERM)
    worker.wait(timeout=60)
    run = platform.run(run_id)
    assert run["status"] == "failed" and run["error"].startswith("Stopped by shutdown"), (run, platform.log("worker"))
    assert run["verdict"] == "not_graded"
    # Requests in flight when k6 stopped reached the target but were never completed.
    assert target.errors.count - 4 <= run["http_reqs"] <= target.errors.count
    assert 0 < run["seconds"] < 20


def test_a_killed_workers_directory_is_removed_when_a_worker_starts_and_its_run_is_reaped(
    installation: Callable[..., Installation], demo_target: Callable[..., Any]
) -> None:
    platform = installation(REAP_AFTER_S="3")
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    worker = platform.start_worker()
    run_id = platform.driver("create", target.url, "30s")["id"]
    wait_until(lambda: target.errors.count > 0, 30, "k6 to start sending load")
    workdirs = list(Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}{run_id}-*"))
    assert len(workdirs) == 1
    os.killpg(worker.pid, signal.SIGKILL)  # the whole worker: nothing of it cleans up
    time.sleep(1)
    assert workdirs[0].exists()
    platform.start_beat()  # the sweeper reaps the run once its heartbeat is REAP_AFTER_S old
    run = platform.wait_for(run_id, {"failed"}, 30)
    assert "stopped sending heartbeats during the k6 stage" in run["error"]
    wait_until(lambda: not workdirs[0].exists(), 30, "the dead run's work directory to be removed")


def test_the_embedded_server_reaps_what_a_killed_server_left_running_and_runs_what_it_left_queued(
    tmp_path: Path, demo_target: Callable[..., Any]
) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}", "REDIS_URL": ""}
    env.update({"ALLOW_LOOPBACK_TARGETS": "true", "RUN_POST_STAGES": "", "REAP_AFTER_S": "3", "REAP_EVERY_S": "1"})
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    driver = [sys.executable, "-m", "runs.tests.outage_driver"]
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    # A server executing a run, killed mid-run (the embedded executor runs it in the creating process).
    server = subprocess.Popen(
        [*driver, "create", target.url, "30s"], cwd=ROOT, env=env, stdout=subprocess.PIPE, start_new_session=True
    )
    wait_until(lambda: target.errors.count > 0, 30, "k6 to start sending load")
    os.killpg(server.pid, signal.SIGKILL)
    server.wait()
    stranded_id = orjson.loads(subprocess.check_output([*driver, "store", target.url, "2s"], cwd=ROOT, env=env))["id"]
    killed_id = _embedded_run_ids(env, driver) - {stranded_id}
    assert len(killed_id) == 1
    sent_before = target.errors.count

    port = free_port()
    log_path = tmp_path / "runserver.log"
    command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    restarted = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        show = lambda run_id: orjson.loads(subprocess.check_output([*driver, "show", run_id], cwd=ROOT, env=env))  # noqa: E731
        wait_until(lambda: show(stranded_id)["status"] == "done", 90, "the stranded run to be run by the new server")
        killed = show(killed_id.pop())
        assert killed["status"] == "failed" and "stopped sending heartbeats" in killed["error"], killed
        assert show(stranded_id)["http_reqs"] == target.errors.count - sent_before  # run once, by the new server
    finally:
        os.killpg(restarted.pid, signal.SIGKILL)
        restarted.wait()


def _embedded_run_ids(env: dict[str, str], driver: list[str]) -> set[str]:
    code = "from runs.models import Run; print(' '.join(str(pk) for pk in Run.objects.values_list('pk', flat=True)))"
    out = subprocess.check_output([sys.executable, "manage.py", "shell", "-v0", "-c", code], cwd=ROOT, env=env, text=True)
    return set(out.split())
