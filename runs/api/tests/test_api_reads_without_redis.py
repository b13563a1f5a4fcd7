"""With Redis down the API still answers reads: the throttle's counter fails open, with a log line."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any, cast

import pytest
import redis
from asgiref.sync import async_to_sync

from k6intel.settings import _redis_cache
from runs.api.apikeys import PerKeyThrottle
from runs.models import ApiKey, Project, Run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cache_on(throwaway_redis: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The throttle's cache on a Redis of the test's own, configured as production configures it."""
    settings.CACHES = {"default": _redis_cache(throwaway_redis.url)}
    monkeypatch.setattr(PerKeyThrottle, "cache_down_until", 0.0)
    return throwaway_redis


def finished_run(owner: ApiKey) -> Run:
    project, _ = Project.objects.get_or_create(name="p")
    run = Run.objects.create(
        project=project, api_key=owner, mode="script", script="", planned_duration_s=1, max_vus=1, sla_config={}, status="done"
    )
    run.events.create(kind="end", data={"status": "done"})
    return run


def read_everything(client: Any, run: Run) -> None:
    for path in ("/api/result/list", f"/api/result/{run.pk}"):
        response = client.get(path)
        assert response.status_code == 200 and response["Content-Type"] == "application/json", path
        assert response.json()
    events = client.get(f"/api/run/{run.pk}/events")

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in events.streaming_content])

    assert events.status_code == 200 and b"event: end" in async_to_sync(collect)()


def throttle_keys(server: Any) -> list[bytes]:
    # redis-py types a reply for its synchronous and asyncio clients alike.
    return cast(list[bytes], redis.Redis.from_url(server.url).keys("*throttle_api_key_*"))


def test_reads_answer_with_redis_down_and_throttling_returns_with_it(
    cache_on: Any,
    api: Callable[[str], Any],
    keys: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run, client = finished_run(keys["user"][0]), api("user")
    read_everything(client, run)
    assert throttle_keys(cache_on)  # the requests were counted in this Redis
    cache_on.stop()
    with caplog.at_level(logging.WARNING, logger="runs.api.apikeys"):
        read_everything(client, run)
        read_everything(client, run)
    warnings = [r.getMessage() for r in caplog.records if "unthrottled" in r.getMessage()]
    assert len(warnings) == 1 and "REDIS_URL" in warnings[0]  # one line per outage period, not per request
    monkeypatch.setattr(PerKeyThrottle, "outage_retry_s", 0.0)
    cache_on.start()  # same port: Redis is back, empty
    PerKeyThrottle.cache_down_until = 0.0
    read_everything(client, run)
    assert throttle_keys(cache_on)  # counted again


def test_a_redis_that_stops_answering_costs_a_read_seconds_not_the_read(
    cache_on: Any, api: Callable[[str], Any], keys: dict[str, Any]
) -> None:
    run, client = finished_run(keys["user"][0]), api("user")
    read_everything(client, run)
    os.kill(cache_on.process.pid, signal.SIGSTOP)  # accepts connections, answers nothing
    try:
        started = time.monotonic()
        assert client.get(f"/api/result/{run.pk}").status_code == 200
        assert time.monotonic() - started < 8
        started = time.monotonic()
        read_everything(client, run)  # the throttle leaves the cache alone for a while
        assert time.monotonic() - started < 1
    finally:
        os.kill(cache_on.process.pid, signal.SIGCONT)
