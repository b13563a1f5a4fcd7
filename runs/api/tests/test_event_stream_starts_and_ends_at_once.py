"""Server-sent events: headers go out at once, even for a quiet run, and a client that has seen the end is told so."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync

from runs.conftest import QueuedRun
from runs.models import ApiKey, Project, Run, RunEvent

pytestmark = pytest.mark.django_db(transaction=True)


def ended_run(owner: ApiKey) -> tuple[Run, list[RunEvent]]:
    project, _ = Project.objects.get_or_create(name="p")
    run = Run.objects.create(
        project=project, api_key=owner, mode="script", script="", planned_duration_s=1, max_vus=1, sla_config={}, status="done"
    )
    kinds = ["stage", "metrics", "end"]
    return run, [run.events.create(kind=kind, data={}) for kind in kinds]


def read_all(response: Any) -> str:
    async def collect() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    async def within_seconds() -> bytes:
        return await asyncio.wait_for(collect(), 5)  # a stream that never ends fails the test, not hangs it

    return async_to_sync(within_seconds)().decode()


@pytest.mark.parametrize("past_end", [0, 1, 1000])
def test_resuming_at_or_after_the_end_is_answered_at_once(api: Callable[[str], Any], keys: dict[str, Any], past_end: int) -> None:
    run, events = ended_run(keys["user"][0])
    started = time.monotonic()
    response = api("user").get(f"/api/run/{run.pk}/events", HTTP_LAST_EVENT_ID=str(events[-1].pk + past_end))
    assert response.status_code == 204  # the status that tells an EventSource not to reconnect
    assert time.monotonic() - started < 2


def test_resuming_before_the_end_gets_the_rest_then_ends(api: Callable[[str], Any], keys: dict[str, Any]) -> None:
    run, events = ended_run(keys["user"][0])
    response = api("user").get(f"/api/run/{run.pk}/events", HTTP_LAST_EVENT_ID=str(events[0].pk))
    assert response.status_code == 200
    body = read_all(response)
    assert body.startswith("retry: ")
    assert [line for line in body.splitlines() if line.startswith("id: ")] == [f"id: {e.pk}" for e in events[1:]]


def test_a_queued_runs_stream_sends_its_headers_at_once(queued_run_on_daphne: QueuedRun) -> None:
    run = queued_run_on_daphne  # queued with no worker: no event for a long while
    started = time.monotonic()
    url = f"{run.base_url}/api/run/{run.run_id}/events"
    with httpx.stream("GET", url, headers={"X-API-Key": run.api_key}, timeout=5) as response:
        headers_after_s = time.monotonic() - started
        first_chunk = next(response.iter_raw())
    assert response.status_code == 200 and response.headers["content-type"] == "text/event-stream"
    assert headers_after_s < 2, f"headers came after {headers_after_s:.1f} s"
    assert first_chunk.startswith(b"retry: ")
