"""An ended run's result document is rendered once, stored, and sent as stored with a strong ETag;
the ASGI shortcut sends it with the view's own access rules, and anything that changes shows."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any, cast

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.core.signals import request_started
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from k6intel.asgi import application
from runs.api.apikeys import PerKeyThrottle
from runs.models import ApiKey, Project, Run, RunDocument, RunResult
from runs.purge import reset_all, runs_purge
from runs.selectors import run_result
from scanners.models import AnalyzerResult

# The shortcut's threads have database connections of their own: they see committed rows only.
pytestmark = pytest.mark.django_db(transaction=True)

Keys = dict[str, tuple[ApiKey, str]]
# Added per response by the server, not by the application.
SERVER_HEADERS = {"date", "server"}


def ended_run(owner: ApiKey, status: str = Run.Status.DONE, **fields: Any) -> Run:
    project, _ = Project.objects.get_or_create(name="documents")
    run = Run.objects.create(
        project=project,
        api_key=owner,
        mode=Run.Mode.SCRIPT,
        script="export default function () {}",
        planned_duration_s=10,
        max_vus=2,
        sla_config={"success_rate": 0.95, "error_rate": 0.1, "p90_ms": 1500.0},
        status=status,
        started_at=timezone.now(),
        finished_at=None if status == Run.Status.ANALYZING else timezone.now(),
        k6_exit_code=0,
        **fields,
    )
    series = [{"t": t, "rps": 100, "error_rate": 0.0, "p95_ms": 20.0} for t in range(10)]
    RunResult.objects.create(run=run, metrics={"http_reqs": {"count": 1000, "rate": 100.0}}, timeseries=series)
    return run


@pytest.fixture
def through_django() -> Iterator[list[str]]:
    """Paths of the requests that went through Django's request cycle (the shortcut's do not)."""
    seen: list[str] = []

    def record(sender: Any, scope: Any = None, environ: Any = None, **kwargs: Any) -> None:
        seen.append((scope or {}).get("path") or (environ or {}).get("PATH_INFO", ""))

    request_started.connect(record)
    yield seen
    request_started.disconnect(record)


def asgi_get(path: str, key: str | None, **headers: str) -> httpx.Response:
    """A GET through the whole ASGI application, as the servers run it."""

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=cast(Any, application))  # channels and httpx spell ASGI's types apart
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            sent = {**headers, **({"X-API-Key": key} if key else {})}
            return await client.get(path, headers={name.replace("_", "-"): value for name, value in sent.items()})

    return async_to_sync(get)()


def app_headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name not in SERVER_HEADERS}


def test_an_ended_run_is_rendered_once_then_sent_as_stored(keys: Keys, through_django: list[str]) -> None:
    run = ended_run(keys["user"][0])
    path = f"/api/result/{run.pk}"
    first = asgi_get(path, keys["user"][1])
    assert first.status_code == 200 and through_django == [path]  # rendered by the view, and stored
    stored = RunDocument.objects.get(run=run)
    live = run_result(Run.objects.select_related("project").get(pk=run.pk))
    assert first.content == bytes(stored.body) == JSONRenderer().render(live)  # what the live serializer produces
    assert json.loads(first.content) == live
    assert first.headers["etag"] == f'"{hashlib.sha256(first.content).hexdigest()}"'
    second = asgi_get(path, keys["user"][1])
    assert through_django == [path]  # the shortcut sent it: no second request cycle
    assert second.content == first.content and app_headers(second) == app_headers(first)
    assert second.headers["x-content-type-options"] == "nosniff" and second.headers["x-frame-options"] == "DENY"


def test_if_none_match_gets_304_only_for_the_same_document(api: Callable[[str | None], Any], keys: Keys) -> None:
    run = ended_run(keys["user"][0])
    path = f"/api/result/{run.pk}"
    etag = asgi_get(path, keys["user"][1]).headers["etag"]
    for response in (api("user").get(path, HTTP_IF_NONE_MATCH=etag), asgi_get(path, keys["user"][1], If_None_Match=etag)):
        assert response.status_code == 304 and not response.content  # the view, then the shortcut
        assert response.headers["ETag"] == etag
    other = '"' + "0" * 64 + '"'
    for response in (api("user").get(path, HTTP_IF_NONE_MATCH=other), asgi_get(path, keys["user"][1], If_None_Match=other)):
        assert response.status_code == 200 and response.headers["ETag"] == etag


def test_a_run_still_analyzing_is_never_stored_nor_answered_stale(keys: Keys, through_django: list[str]) -> None:
    run = ended_run(keys["user"][0], status=Run.Status.ANALYZING)
    path = f"/api/result/{run.pk}"
    analyzing = asgi_get(path, keys["user"][1])
    assert analyzing.json()["status"] == "analyzing" and not RunDocument.objects.filter(run=run).exists()
    # The analyzers stage stores its output, then the run is done (runs/stages.py).
    AnalyzerResult.objects.create(run=run, kind="headers", status="ok", grade="A", score=95.0, summary="all set")
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE, finished_at=timezone.now())
    done = asgi_get(path, keys["user"][1], If_None_Match=analyzing.headers["etag"])
    assert done.status_code == 200 and done.headers["etag"] != analyzing.headers["etag"]
    assert done.json()["status"] == "done" and done.json()["analyzers"]["headers"]["grade"] == "A"
    assert len(through_django) == 2 and RunDocument.objects.filter(run=run).exists()


def test_a_stage_that_finishes_after_the_reaper_shows_in_the_document(keys: Keys) -> None:
    # The reaper failed the run while its analyzers stage was in fact still going.
    run = ended_run(keys["user"][0], status=Run.Status.FAILED, error="The worker running this test stopped responding")
    path = f"/api/result/{run.pk}"
    before = asgi_get(path, keys["user"][1])
    assert before.json()["analyzers"] == {} and RunDocument.objects.filter(run=run).exists()
    AnalyzerResult.objects.create(run=run, kind="tls", status="ok", grade="B", score=80.0, summary="late")
    Run.objects.filter(pk=run.pk).update(stage_durations_s={"analyzers": 3.2})  # every stage records its duration last
    after = asgi_get(path, keys["user"][1], If_None_Match=before.headers["etag"])
    assert after.status_code == 200 and after.json()["analyzers"]["tls"]["summary"] == "late"


def test_documents_rendered_by_other_code_are_rendered_again(
    keys: Keys, through_django: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = ended_run(keys["user"][0])
    path = f"/api/result/{run.pk}"
    asgi_get(path, keys["user"][1])
    old_source = RunDocument.objects.get(run=run).source
    monkeypatch.setattr("runs.api.documents.code_version", lambda: "the next release")
    assert asgi_get(path, keys["user"][1]).status_code == 200
    assert len(through_django) == 2 and RunDocument.objects.get(run=run).source != old_source


@pytest.mark.parametrize("who, status", [("user", 304), ("admin", 304), ("other", 404), (None, 401), ("k6i_not-a-key", 401)])
def test_a_stored_document_keeps_the_views_access_rules(keys: Keys, who: str | None, status: int) -> None:
    run = ended_run(keys["user"][0])
    path = f"/api/result/{run.pk}"
    etag = asgi_get(path, keys["user"][1]).headers["etag"]
    key = keys[who][1] if who in keys else who
    response = asgi_get(path, key, If_None_Match=etag)  # the ETag alone reveals nothing to another key
    assert response.status_code == status
    if status >= 400:
        assert response.json()["error"]["code"] in ("not_found", "not_authenticated", "authentication_failed")


def test_the_throttle_counts_stored_documents(keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    run = ended_run(keys["user"][0])
    monkeypatch.setattr(PerKeyThrottle, "rate", "3/min", raising=False)
    cache.clear()
    statuses = [asgi_get(f"/api/result/{run.pk}", keys["user"][1]).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_deleting_runs_deletes_their_documents(keys: Keys) -> None:
    runs = [ended_run(keys["user"][0]) for _ in range(3)]
    for run in runs:
        asgi_get(f"/api/result/{run.pk}", keys["user"][1])
    assert RunDocument.objects.count() == 3
    runs_purge(Run.objects.filter(pk=runs[0].pk))
    assert RunDocument.objects.count() == 2
    reset_all()
    assert RunDocument.objects.count() == 0
