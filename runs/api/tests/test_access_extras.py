"""Key-based websocket access, admin purge with files, and the captcha test-mode warning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.core.checks import run_checks

from runs.events import publish
from runs.models import Project, Run
from runs.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)


def a_run(owner: Any) -> Run:
    project, _ = Project.objects.get_or_create(name="p")
    return Run.objects.create(
        project=project, api_key=owner, mode="script", script="", planned_duration_s=1, max_vus=1, sla_config={}
    )


def connect(run: Run, key: str | None, *, in_header: bool) -> tuple[bool, Any]:
    async def attempt() -> tuple[bool, Any]:
        from django.contrib.auth.models import AnonymousUser

        path = f"/ws/runs/{run.pk}/" + ("" if in_header or key is None else f"?api_key={key}")
        headers = [(b"x-api-key", key.encode())] if in_header and key else []
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path, headers=headers)
        communicator.scope["user"] = AnonymousUser()  # type: ignore[typeddict-unknown-key]  # AuthMiddleware sets it; the stub's test scope lacks it
        connected, code = await communicator.connect()
        first = await communicator.receive_json_from(timeout=5) if connected else code
        await communicator.disconnect()
        return connected, first

    return async_to_sync(attempt)()


@pytest.mark.parametrize("in_header", [True, False])
@pytest.mark.parametrize("who, expected", [("user", True), ("admin", True), ("other", 4404), (None, 4401)])
def test_websocket_accepts_the_owners_key(keys: dict[str, Any], who: str | None, expected: Any, in_header: bool) -> None:
    run = a_run(keys["user"][0])
    publish(run.pk, "stage", {"status": "running", "stage": "k6"})
    connected, first = connect(run, keys[who][1] if who else None, in_header=in_header)
    if expected is True:
        assert connected and first["type"] == "stage"
    else:
        assert (connected, first) == (False, expected)


def test_admin_delete_removes_the_runs_files(keys: dict[str, Any], settings: Any, tmp_path: Path, client: Any) -> None:
    settings.RESULT_DIR = tmp_path
    run = a_run(keys["user"][0])
    (tmp_path / str(run.pk)).mkdir()
    (tmp_path / str(run.pk) / "report.pdf").write_bytes(b"pdf")
    client.force_login(get_user_model().objects.create_superuser("root", "", "pw-not-used-12345"))
    confirm = client.post("/admin/runs/run/", {"action": "delete_selected", "_selected_action": [str(run.pk)]})
    assert confirm.status_code == 200 and b"Are you sure" in confirm.content  # the confirmation page
    client.post("/admin/runs/run/", {"action": "delete_selected", "_selected_action": [str(run.pk)], "post": "yes"})
    assert not Run.objects.exists() and not (tmp_path / str(run.pk)).exists()


def test_captcha_test_mode_warns_when_debug_is_off(settings: Any) -> None:
    settings.CAPTCHA_TEST_MODE, settings.DEBUG = True, False
    assert "k6intel.W002" in {message.id for message in run_checks()}
    settings.DEBUG = True
    assert "k6intel.W002" not in {message.id for message in run_checks()}


@pytest.mark.parametrize("path", ["/ws/nothing/", "/ws/runs/not-a-uuid/", "/"])
def test_a_websocket_path_with_no_route_is_refused_with_4404(path: str) -> None:
    async def attempt() -> tuple[bool, Any]:
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
        connected, code = await communicator.connect()
        await communicator.disconnect()
        return connected, code

    assert async_to_sync(attempt)() == (False, 4404)
