"""An API captcha answer is used up by the run it starts: a refused upload keeps it, and of two runs
with it, even at once, only one starts."""

from __future__ import annotations

from typing import Any

import pytest

from runs.api import views
from runs.api.tests.test_api import upload
from runs.conftest import at_once, meet_at
from runs.models import Run, UsedCaptcha

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = b"export const options = { vus: 1, duration: '1s' };\nexport default function () {}\n"
READS_A_FILE = (
    b"export const options = { vus: 1, duration: '1s' };\nconst p = open('/etc/passwd');\nexport default function () {}\n"
)


def test_a_refused_upload_keeps_the_captcha_for_the_corrected_one(api: Any) -> None:
    challenge = api("user").get("/api/captcha").json()
    refused = upload(api, READS_A_FILE, challenge)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "script_rejected"
    too_big = upload(api, b"//" + b"x" * (2 * 1024 * 1024), challenge)
    assert too_big.status_code == 400 and too_big.json()["error"]["code"] == "script_rejected"
    assert not UsedCaptcha.objects.exists()
    assert upload(api, SCRIPT, challenge).status_code == 202
    replay = upload(api, SCRIPT, challenge)
    assert replay.status_code == 400 and "already used" in replay.json()["error"]["message"]
    assert Run.objects.count() == 1


def test_two_uploads_at_once_with_one_answer_start_one_run(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    challenge = api("user").get("/api/captcha").json()
    meet_at(monkeypatch, views, "run_create_from_script")  # both requests have found the answer right and unused
    responses = at_once(lambda: upload(api, SCRIPT, challenge), lambda: upload(api, SCRIPT, challenge))
    assert sorted(response.status_code for response in responses) == [202, 400]
    refused = next(response for response in responses if response.status_code == 400)
    assert "already used" in refused.json()["error"]["message"]
    assert Run.objects.count() == 1
