"""The service side over real connections: MariaDB, Redis, a `celery worker` process and real k6."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any, TypedDict, Unpack

import orjson
import psutil
import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import connection

from runs.api.serializers import BuilderRunSerializer
from runs.conftest import wait_until, worker_database_url
from runs.models import Run
from runs.pipeline import run_create_from_builder, run_create_repeats
from runs.routing import websocket_urlpatterns
from runs.sweeper import reap_stale_runs
from runs.tasks import execute_run

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def builder_run(url: str, **data: Any) -> Run:
    serializer = BuilderRunSerializer(data={"url": url, "vus": 4, "duration": "4s", **data})
    assert serializer.is_valid(), serializer.errors
    return run_create_from_builder(serializer)


class TimeLimits(TypedDict, total=False):
    soft_time_limit: int
    time_limit: int


def queue(run: Run, **limits: Unpack[TimeLimits]) -> None:
    execute_run.apply_async(args=(str(run.pk),), queue="k6", **limits)


def refreshed(run: Run) -> Run:
    run.refresh_from_db()
    return run


async def _listen(run_id: Any, user: Any, until_end: bool = True) -> list[tuple[float, dict[str, Any]]]:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/runs/{run_id}/")
    communicator.scope["user"] = user  # type: ignore[typeddict-unknown-key]  # AuthMiddleware sets it; the stub's test scope lacks it
    connected, _ = await communicator.connect()
    assert connected
    received: list[tuple[float, dict[str, Any]]] = []
    while True:
        event = await communicator.receive_json_from(timeout=60)
        received.append((time.monotonic(), event))
        if event["type"] == "end":
            break
    await communicator.disconnect()
    return received


def test_database_is_mariadb() -> None:
    assert connection.vendor == "mysql", "make test runs the suite on MariaDB (DATABASE_URL)"


def test_queued_run_executes_in_a_worker_and_streams_live_metrics(
    start_worker: Callable[[], Any], demo_target: Callable[..., Any]
) -> None:
    worker = start_worker()
    target = demo_target(latency_min_ms=10, latency_max_ms=30)
    user = get_user_model().objects.create_user("watcher", password="x")
    run = builder_run(target.url, duration="5s")
    Run.objects.filter(pk=run.pk).update(owner=user)
    queue(run)
    live = async_to_sync(_listen)(run.pk, user)
    run = refreshed(run)
    assert run.status == "done" and run.grade == "A"
    # It ran in the worker's process tree, not here.
    assert run.worker_host and run.k6_pid is None
    worker_tree = {p.pid for p in psutil.Process(worker.pid).children(recursive=True)} | {worker.pid}
    assert os.getpid() not in worker_tree
    metrics = [(at, event) for at, event in live if event["type"] == "metrics"]
    assert len(metrics) >= 3
    assert all(event["data"]["vus"] <= 4 and "rps" in event["data"] and "remaining_s" in event["data"] for _, event in metrics)
    assert [event["data"]["t"] for _, event in metrics] == list(range(len(metrics)))  # every second, in order
    # They arrive while k6 runs, not in one batch at the end. k6 flushes its CSV output about once a
    # second, so arrivals come in small bursts: the bounds leave room for that jitter on a busy machine.
    gaps = [later - earlier for (earlier, _), (later, _) in pairwise(metrics)]
    ended_at = live[-1][0]
    assert ended_at - metrics[0][0] >= 2.0
    assert max(gaps) < 3.0
    types = [event["type"] for _, event in live]
    assert types[0] == "stage" and "log" in types and types[-1] == "end"
    # A late joiner gets the whole history replayed, in order.
    replay = async_to_sync(_listen)(run.pk, user)
    assert [event["seq"] for _, event in replay] == [event["seq"] for _, event in live]


def test_anonymous_websocket_is_refused(db: None) -> None:
    async def attempt() -> Any:
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/runs/00000000-0000-0000-0000-000000000000/")
        communicator.scope["user"] = AnonymousUser()  # type: ignore[typeddict-unknown-key]  # AuthMiddleware sets it; the stub's test scope lacks it
        connected, code = await communicator.connect()
        return connected, code

    assert async_to_sync(attempt)() == (False, 4401)


def test_redelivered_task_starts_only_one_k6(start_worker: Callable[[], Any], demo_target: Callable[..., Any]) -> None:
    start_worker()
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    run = builder_run(target.url, vus=2, duration="2s")
    queue(run)
    queue(run)  # the same message delivered again
    wait_until(lambda: refreshed(run).is_terminal, 60, "the run to end")
    time.sleep(3)  # give the duplicate time to (not) run
    run = refreshed(run)
    assert run.status == "done"
    # The target saw exactly the requests of one k6 run.
    assert target.errors.count == run.result.metrics["http_reqs"]["count"]


def test_soft_time_limit_stops_k6_and_keeps_partial_results(
    start_worker: Callable[[], Any], demo_target: Callable[..., Any]
) -> None:
    start_worker()
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    run = builder_run(target.url, vus=2, duration="30s")
    queue(run, soft_time_limit=4, time_limit=60)
    wait_until(lambda: refreshed(run).is_terminal, 60, "the run to end")
    run = refreshed(run)
    assert run.status == "failed" and "time limit" in run.error
    assert run.k6_exit_code == 105
    # Requests in flight when k6 stopped reached the server but were never completed.
    assert target.errors.count - 2 <= run.result.metrics["http_reqs"]["count"] <= target.errors.count
    assert run.result.timeseries and (run.grade, run.verdict) == ("", "not_graded")  # a failed run is not graded


def test_killed_worker_is_reaped_and_leaves_no_k6(
    start_worker: Callable[[], Any], demo_target: Callable[..., Any], settings: Any
) -> None:
    worker = start_worker()
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    run = builder_run(target.url, vus=2, duration="40s")
    queue(run)
    wait_until(lambda: refreshed(run).k6_pid is not None, 30, "k6 to start in the worker")
    k6_pid = run.k6_pid
    assert k6_pid is not None
    assert psutil.pid_exists(k6_pid)
    os.killpg(worker.pid, signal.SIGKILL)  # the whole worker, mid-run
    wait_until(
        lambda: not psutil.pid_exists(k6_pid) or psutil.Process(k6_pid).status() == "zombie", 10, "k6 to die with its worker"
    )
    settings.REAP_AFTER_S = 3
    assert reap_stale_runs() == []  # heartbeat still fresh
    time.sleep(4)
    reaped = reap_stale_runs()
    assert [r.pk for r in reaped] == [run.pk]
    run = refreshed(run)
    assert run.status == "failed" and "stopped sending heartbeats" in run.error and "last one at" in run.error
    last = run.events.last()
    assert last is not None and last.kind == "end"


def test_loadtest_queue_runs_in_the_worker_and_prints_the_same_json(
    start_worker: Callable[[], Any], demo_target: Callable[..., Any]
) -> None:
    start_worker()
    target = demo_target(latency_min_ms=20, latency_max_ms=100, error_rate=0.10)
    env = {**os.environ, "DATABASE_URL": worker_database_url()}
    command = [sys.executable, "manage.py", "loadtest", target.url, "--vus", "5", "--duration", "3s", "--queue", "--json"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = orjson.loads(done.stdout)
    assert doc["status"] == "done" and doc["metrics"]["http_req_failed"]["rate"] == pytest.approx(0.10, abs=0.01)
    assert "Queued run" in done.stderr and "rps" in done.stderr  # followed live
    run = Run.objects.get(pk=doc["id"])
    assert run.worker_host and run.events.filter(kind="metrics").count() >= 2


def test_post_k6_stages_run_on_the_analyzers_queue(start_worker: Callable[..., Any], demo_target: Callable[..., Any]) -> None:
    stages = "runs.tests.stages.count_requests,runs.tests.stages.explode"
    k6_worker = start_worker("k6", RUN_POST_STAGES=stages)
    analyzers_worker = start_worker("analyzers", RUN_POST_STAGES=stages)
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    run = builder_run(target.url, vus=2, duration="2s")
    queue(run)
    wait_until(lambda: refreshed(run).is_terminal, 60, "the run to end")
    run = refreshed(run)
    assert run.status == "done" and "the explode stage failed (RuntimeError: analyzer crashed)" in run.error
    assert run.result.metrics["http_reqs"]["count"] == target.errors.count  # k6's results survive the failure
    seen = [(e.data["status"], e.data["stage"]) for e in run.events.filter(kind="stage")]
    assert seen == [("running", "k6"), ("running", "results"), ("analyzing", "count_requests"), ("analyzing", "explode")]
    stage_pid = run.events.get(kind="log", data__has_key="pid").data["pid"]
    assert stage_pid in {child.pid for child in psutil.Process(analyzers_worker.pid).children(recursive=True)}
    assert k6_worker.poll() is None


def test_repeated_runs_go_one_after_another_across_workers(
    start_worker: Callable[[], Any], demo_target: Callable[..., Any]
) -> None:
    start_worker()
    start_worker()  # two free workers: only the repeat keeps the runs apart
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    runs = run_create_repeats(builder_run(target.url, vus=2, duration="2s"), 3)
    queue(runs[0])
    wait_until(lambda: all(refreshed(run).is_terminal for run in runs), 120, "the three runs to end")
    assert [run.status for run in runs] == ["done"] * 3 and [run.repeat_index for run in runs] == [1, 2, 3]
    for earlier, later in pairwise(runs):
        assert earlier.finished_at is not None and later.started_at is not None
        assert later.started_at >= earlier.finished_at  # never two at once
