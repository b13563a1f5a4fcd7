"""Embedded mode (no REDIS_URL): the same pipeline in the in-process executor, cancel, and SSE."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.http import StreamingHttpResponse
from django.test import AsyncClient

from runs.api.serializers import BuilderRunSerializer
from runs.conftest import wait_until
from runs.dispatch import run_enqueue
from runs.models import Run
from runs.pipeline import run_cancel, run_create_from_builder

pytestmark = pytest.mark.django_db(transaction=True)


def submit(url: str, **data: Any) -> Run:
    serializer = BuilderRunSerializer(data={"url": url, "vus": 2, **data})
    assert serializer.is_valid(), serializer.errors
    run = run_create_from_builder(serializer)
    run_enqueue(run)
    return run


def refreshed(run: Run) -> Run:
    run.refresh_from_db()
    return run


def test_embedded_executor_runs_the_pipeline(embedded: None, demo_target: Callable[..., Any], settings: Any) -> None:
    settings.RUN_POST_STAGES = []  # count only k6's requests at the target
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    run = submit(target.url, duration="2s")
    wait_until(lambda: refreshed(run).is_terminal, 60, "the embedded run to end")
    assert run.status == "done" and run.result.metrics["http_reqs"]["count"] == target.errors.count
    kinds = list(run.events.values_list("kind", flat=True))
    assert kinds[0] == "stage" and "metrics" in kinds and kinds[-1] == "end"


def test_cancel_stops_k6_gracefully_and_keeps_partial_results(embedded: None, demo_target: Callable[..., Any]) -> None:
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    run = submit(target.url, duration="60s")
    wait_until(lambda: refreshed(run).events.filter(kind="metrics").exists(), 30, "live metrics")
    run_cancel(run.pk)
    wait_until(lambda: refreshed(run).is_terminal, 30, "the cancel to take effect")
    assert run.status == "cancelled" and run.k6_exit_code == 105
    assert run.result.metrics["http_reqs"]["count"] > 0 and run.result.timeseries
    last = run.events.last()
    assert last is not None and last.data["status"] == "cancelled"


def test_cancel_before_start_needs_no_worker(db: None) -> None:
    from runs.models import Project

    run = Run.objects.create(
        project=Project.objects.create(name="p"), mode="script", script="", planned_duration_s=1, max_vus=1, sla_config={}
    )
    assert run_cancel(run.pk).status == "cancelled"


def test_sse_replays_the_runs_events_until_its_end(embedded: None, demo_target: Callable[..., Any]) -> None:
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    run = submit(target.url, duration="2s")
    users = get_user_model().objects
    owner, stranger = users.create_user("viewer", password="x"), users.create_user("stranger", password="x")
    Run.objects.filter(pk=run.pk).update(owner=owner)

    async def read_stream(user: Any) -> tuple[int, str]:
        client = AsyncClient()
        if user is not None:
            await client.aforce_login(user)
        response = await client.get(f"/api/run/{run.pk}/events")
        if response.status_code != 200:
            return response.status_code, response.content.decode()
        assert isinstance(response, StreamingHttpResponse)
        return 200, b"".join([chunk async for chunk in response.streaming_content]).decode()

    status, body = async_to_sync(read_stream)(owner)  # follows live, ends with the run
    assert status == 200
    assert body.count("event: metrics") >= 1 and body.rstrip().splitlines()[-1].startswith("data: ")
    assert "event: end" in body and '"status":"done"' in body
    assert async_to_sync(read_stream)(None)[0] == 401
    assert async_to_sync(read_stream)(stranger)[0] == 404  # a session user sees only their own runs
