"""Shared fixtures: real demo targets on loopback and one way to build runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

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
    from runs.apikeys import apikey_create

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
