"""Every error under /api/ has the API's JSON shape, including those Django answers before or around a view."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient, Client

from runs.models import Project, Run

pytestmark = pytest.mark.django_db(transaction=True)


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status and response["Content-Type"] == "application/json", response.content[:300]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"} and error["message"]
    return error


def test_a_body_over_the_limit_is_413_json(api: Callable[[str], Any]) -> None:
    # The test client has no server in front: the body reaches Django, whose own limit refuses it.
    body = b'{"url": "' + b"a" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + b'"}'
    error = error_of(api("user").generic("POST", "/api/run", body, content_type="application/json"), 413)
    assert error["code"] == "request_too_large" and "MAX_REQUEST_BYTES" in error["message"]


def test_too_many_form_fields_is_400_json(api: Callable[[str], Any]) -> None:
    body = "&".join(["field=1"] * (settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = api("user").generic("POST", "/api/runjs", body, content_type="application/x-www-form-urlencoded")
    assert error_of(response, 400)["code"] == "too_many_fields"


def test_a_host_not_served_is_400_json(api: Callable[[str], Any]) -> None:
    assert error_of(api("user").get("/api/result/list", HTTP_HOST="evil.example"), 400)["code"] == "bad_request"


def events_path() -> str:
    project = Project.objects.create(name="p")
    run = Run.objects.create(project=project, mode="script", script="", planned_duration_s=1, max_vus=1, sla_config={})
    return f"/api/run/{run.pk}/events"


def test_a_session_post_without_csrf_token_is_403_json() -> None:
    response = Client(enforce_csrf_checks=True).post(events_path())
    assert error_of(response, 403)["code"] == "forbidden"


def test_an_unhandled_exception_is_500_json(api: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr("runs.api.views.runs_for_listing", broken)
    client = api("user")
    client.raise_request_exception = False
    error = error_of(client.get("/api/result/list"), 500)
    assert error["code"] == "server_error" and "a bug" not in error["message"]  # no internals leak


def test_under_asgi_too() -> None:
    path = events_path()

    async def post() -> Any:
        return await AsyncClient(enforce_csrf_checks=True).post(path)

    assert error_of(async_to_sync(post)(), 403)["code"] == "forbidden"


def test_pages_outside_the_api_stay_html(client: Client) -> None:
    response = client.get("/nothing-here")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
