"""Keys an admin marks trusted (for CI), and admin keys, start scripts without a captcha; other keys answer one."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from runs.models import ApiKey, Run

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = b"export const options = { vus: 1, duration: '1s' };\nexport default function () {}\n"
CAPTCHA_FIELDS = {"captcha_answer", "captcha_token", "captcha_timestamp"}


def upload_without_captcha(client: Any, script: bytes | None = SCRIPT) -> Any:
    data: dict[str, Any] = {"project_name": "ci"}
    if script is not None:
        data["file"] = SimpleUploadedFile("ci.js", script, content_type="application/javascript")
    return client.post("/api/runjs", data, format="multipart")


def test_a_trusted_key_and_an_admin_key_start_a_script_without_a_captcha(api: Any, keys: dict[str, Any]) -> None:
    ApiKey.objects.filter(pk=keys["other"][0].pk).update(is_trusted=True)
    for who in ("other", "admin"):
        response = upload_without_captcha(api(who))
        assert response.status_code == 202, response.content
        assert Run.objects.get(pk=response.json()["run_id"]).api_key == keys[who][0]


def test_any_other_key_is_told_which_captcha_fields_it_left_out(api: Any) -> None:
    response = upload_without_captcha(api("user"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and set(error["fields"]) == CAPTCHA_FIELDS
    assert "unless the API key is trusted" in error["fields"]["captcha_token"][0]
    with_no_file = upload_without_captcha(api("user"), script=None).json()["error"]
    assert set(with_no_file["fields"]) == CAPTCHA_FIELDS | {"file"}  # all at once
    assert not Run.objects.exists()


def test_the_apikey_command_and_the_admin_mark_keys_trusted(
    api: Any, keys: dict[str, Any], client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("apikey", "create", "ci", "--trusted")
    created = capsys.readouterr().out
    assert "Created trusted key" in created and ApiKey.objects.get(name="ci").is_trusted
    call_command("apikey", "list")
    assert re.search(r"user\s+trusted\s+active .* ci$", capsys.readouterr().out, re.MULTILINE)
    assert upload_without_captcha(api(created.strip().splitlines()[-1])).status_code == 202

    client.force_login(get_user_model().objects.create_superuser("root", "", "pw-not-used-12345"))
    record = keys["user"][0]
    assert 'name="is_trusted"' in client.get(f"/admin/runs/apikey/{record.pk}/change/").content.decode()
    assert client.post(f"/admin/runs/apikey/{record.pk}/change/", {"name": record.name, "is_trusted": "on"}).status_code == 302
    record.refresh_from_db()
    assert record.is_trusted and not record.is_admin
    assert upload_without_captcha(api("user")).status_code == 202
    assert client.post("/admin/runs/apikey/add/", {"name": "ci-2", "is_trusted": "on"}).status_code == 302
    assert ApiKey.objects.get(name="ci-2").is_trusted


def test_the_schema_says_the_captcha_is_for_keys_that_are_not_trusted(client: Any) -> None:
    schema = client.get("/api/schema", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/runjs"]["post"]
    reference = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    upload = schema["components"]["schemas"][reference.rsplit("/", 1)[1]]
    assert set(upload["required"]) == {"project_name", "file"}
    for name in CAPTCHA_FIELDS:
        assert "unless the API key is trusted" in upload["properties"][name]["description"], name
    assert "trusted API key" in operation["description"]
