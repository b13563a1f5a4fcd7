"""A client of a k6intel installation for the outage tests, run as its own process.

`python -m runs.tests.outage_driver create URL DURATION` stores a builder run and queues it (after
commit, as the API does) and prints its id (in embedded mode it runs it, in this process); `store` only stores it; `api-create URL DURATION` does the same through the
HTTP API with an admin key and prints the status code and body; `show RUN_ID` prints the run's state
and `events RUN_ID` its live log.
The database and broker are whatever DATABASE_URL and REDIS_URL say.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "k6intel.settings")
django.setup()

import orjson  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import transaction  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from runs.api.apikeys import apikey_create  # noqa: E402
from runs.api.serializers import BuilderRunSerializer  # noqa: E402
from runs.dispatch import embedded_executor, run_enqueue  # noqa: E402
from runs.models import Run, RunResult  # noqa: E402
from runs.pipeline import run_create_from_builder  # noqa: E402


def create(url: str, duration: str) -> dict[str, Any]:
    serializer = BuilderRunSerializer(data={"url": url, "vus": 2, "duration": duration})
    assert serializer.is_valid(), serializer.errors
    with transaction.atomic():
        run = run_create_from_builder(serializer)
        run_enqueue(run)
    return {"id": str(run.pk)}


def store(url: str, duration: str) -> dict[str, Any]:
    """A queued run whose queue message never left (its server died between commit and hand-over)."""
    serializer = BuilderRunSerializer(data={"url": url, "vus": 2, "duration": duration})
    assert serializer.is_valid(), serializer.errors
    return {"id": str(run_create_from_builder(serializer).pk)}


def api_create(url: str, duration: str) -> dict[str, Any]:
    _, key = apikey_create("outage-test", is_admin=True)
    client = APIClient(HTTP_HOST="127.0.0.1")
    response = client.post("/api/run", {"url": url, "vus": 2, "duration": duration}, format="json", HTTP_X_API_KEY=key)
    return {"status": response.status_code, "body": response.json()}


def show(run_id: str) -> dict[str, Any]:
    run = Run.objects.get(pk=run_id)
    result = RunResult.objects.filter(run=run).first()
    metrics = result.metrics if result else {}
    return {
        "status": run.status,
        "stage": run.stage,
        "error": run.error,
        "verdict": run.verdict,
        "http_reqs": (metrics.get("http_reqs") or {}).get("count"),
        "seconds": len(result.timeseries) if result else 0,
        "metric_events": run.events.filter(kind="metrics").count(),
        "dispatch_attempts": run.dispatch_attempts,
    }


def events(run_id: str) -> dict[str, Any]:
    lines = [line for event in Run.objects.get(pk=run_id).events.filter(kind="log") for line in event.data.get("lines", [])]
    return {"log": "\n".join(lines)}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    actions: dict[str, Callable[..., object]] = {
        "create": create,
        "store": store,
        "api-create": api_create,
        "show": show,
        "events": events,
    }
    sys.stdout.write(orjson.dumps(actions[command](*args)).decode() + "\n")
    sys.stdout.flush()
    if command == "create" and not settings.REDIS_URL:
        embedded_executor().shutdown(wait=True)  # this process is the embedded server: it runs the run
