"""The browser UI's views through Django's test client: access, forms, filters and downloads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from captcha.models import CaptchaStore
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import FileResponse
from django.test import Client
from django.utils import timezone

from runs.conftest import at_once, meet_at
from runs.engine.bundle import MAX_UPLOAD_BYTES
from runs.models import Project, Run, RunResult
from runs.purge import run_files_dir
from runs.web import views as web_views
from runs.web.tests.conftest import PASSWORD

SCRIPT = b"export const options = { vus: 1, duration: '1s' };\nexport default function () {}\n"
BUILDER = {
    "project_name": "shop",
    "url": "http://127.0.0.1:9/items",
    "method": "GET",
    "body_type": "none",
    "vus": "2",
    "duration": "3s",
    "preset": "",
    "check_status": "200",
    "sla_p90_ms": "800",
    "sla_error_percent": "2",
    "sla_success_percent": "95",
    "analyzers": ["headers"],
}


def browser(user: Any = None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def stored_run(owner: Any, status: str = "done", grade: str = "A", target: str = "http://127.0.0.1:9/a", **fields: Any) -> Run:
    project, _ = Project.objects.get_or_create(name=fields.pop("project", "shop"))
    run = Run.objects.create(
        project=project,
        owner=owner,
        mode=Run.Mode.BUILDER,
        target_url=target,
        script="export default function () {}",
        planned_duration_s=3,
        max_vus=2,
        sla_config={"success_rate": 0.95, "error_rate": 0.1, "p90_ms": 1500.0},
        status=status,
        grade=grade,
        score=93.5 if grade else None,
        **fields,
    )
    metrics = {"http_reqs": {"count": 120, "rate": 40.0}, "http_req_duration": {"p95": 23.4}, "http_req_failed": {"rate": 0.025}}
    RunResult.objects.create(run=run, metrics=metrics, timeseries=[{"t": 0, "rps": 40, "vus": 2, "error_rate": 0.0}])
    return run


def solved(client: Client, path: str) -> dict[str, str]:
    """The captcha of the page at `path`, answered as a person would."""
    page = client.get(path).content.decode()
    match = re.search(r'name="captcha_0" value="(\w+)"', page)
    assert match is not None
    hashkey = match.group(1)
    return {"captcha_0": hashkey, "captcha_1": CaptchaStore.objects.get(hashkey=hashkey).response}


def script_file(script: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("test.js", script, content_type="text/javascript")


def field_errors(html: str) -> list[str]:
    return re.findall(r'<ul class="errorlist"[^>]*><li>(.*?)</li>', html)


@pytest.mark.parametrize("path", ["/", "/runs/", "/runs/new", "/runs/upload"])
def test_anonymous_visitors_are_sent_to_login(db: None, path: str) -> None:
    response = browser().get(path)
    assert response.status_code == 302 and response["Location"] == f"/accounts/login/?next={path}"


def test_run_pages_are_for_their_owner_and_staff(users: dict[str, Any]) -> None:
    run = stored_run(users["owner"])
    pages = [f"/runs/{run.pk}/", f"/runs/{run.pk}/download/pdf", f"/runs/{run.pk}/filmstrip/first_view-000100ms.jpg"]
    for path in pages:
        assert browser().get(path).status_code == 302
        assert browser(users["stranger"]).get(path).status_code == 404
    assert browser(users["owner"]).get(pages[0]).status_code == 200
    assert browser(users["staff"]).get(pages[0]).status_code == 200
    assert browser(users["stranger"]).post(f"/runs/{run.pk}/cancel").status_code == 404


def test_dashboard_and_list_show_only_the_users_runs_with_their_numbers(users: dict[str, Any]) -> None:
    mine = stored_run(users["owner"], target="http://127.0.0.1:9/mine")
    stored_run(users["stranger"], target="http://127.0.0.1:9/theirs")
    for path in ("/", "/runs/"):
        page = browser(users["owner"]).get(path).content.decode()
        assert "/mine" in page and "/theirs" not in page and f"/runs/{mine.pk}/" in page
        assert "23.4" in page and "2.50" in page and "40.0" in page  # p95 ms, error %, RPS
    for _ in range(2):
        stored_run(users["stranger"], target="http://127.0.0.1:9/theirs", project="shared")
    stored_run(users["owner"], target="http://127.0.0.1:9/mine", project="shared")
    dashboard = browser(users["owner"]).get("/").content.decode()
    assert 'shared</a> <span class="muted">(1 run)</span>' in dashboard  # others' runs in a shared project stay uncounted
    staff_page = browser(users["staff"]).get("/runs/").content.decode()
    assert "/mine" in staff_page and "/theirs" in staff_page


def test_running_now_counts_only_runs_that_run(users: dict[str, Any]) -> None:
    for status in ("queued", "queued", "running", "analyzing", "done"):
        stored_run(users["owner"], status=status)
    dashboard = browser(users["owner"]).get("/").content.decode()
    assert re.search(r'id="running-count">2<', dashboard) and re.search(r'id="queued-count">2<', dashboard)


def test_a_failed_run_shows_no_grade_no_excellent_and_no_report_links(users: dict[str, Any]) -> None:
    # The run's stored scorecard says A (as a cancelled or crashed run's partial data may): the page must not.
    run = stored_run(users["owner"], status="failed", grade="", error="k6 exited 107 (script_exception): boom")
    RunResult.objects.filter(run=run).update(
        sla={"score": 100.0, "grade": "A", "grade_label": "Excellent", "passed": True, "criteria": [], "reasons": []}
    )
    page = browser(users["owner"]).get(f"/runs/{run.pk}/").content.decode()
    assert 'data-verdict="not_graded"' in page and "Not graded" in page and "k6 exited 107" in page
    assert "Excellent" not in page and 'id="grade-badge"' not in page and 'id="downloads"' not in page
    assert 'id="cancel-form"' not in page


def test_run_list_filters_searches_and_pages(users: dict[str, Any]) -> None:
    owner = users["owner"]
    for index in range(23):
        stored_run(owner, target=f"http://127.0.0.1:9/bulk-{index}", project="bulk")
    stored_run(owner, status="failed", grade="F", target="http://127.0.0.1:9/broken", project="other")
    client = browser(owner)
    assert "24 runs" in client.get("/runs/").content.decode()
    first, second = client.get("/runs/?project=bulk").content.decode(), client.get("/runs/?project=bulk&page=2").content.decode()
    assert "23 runs" in first and "Page 1 of 2" in first and "page=2" in first
    assert len(re.findall(r"/bulk-\d+", first)) == 20 and len(re.findall(r"/bulk-\d+", second)) == 3
    for query in ("status=failed", "grade=F", "q=broken", "project=other"):
        page = client.get(f"/runs/?{query}").content.decode()
        assert "1 run<" in page and "/broken" in page, query
    assert "0 runs" in client.get("/runs/?since=2999-01-01").content.decode()
    today = timezone.now().date().isoformat()
    assert "24 runs" in client.get(f"/runs/?since={today}&until={today}").content.decode()
    bad = client.get("/runs/?since=2026-05-01&until=2026-04-01")
    assert bad.status_code == 200 and "Pick a date on or after the From date." in bad.content.decode()


def test_builder_submit_creates_the_users_run_with_the_chosen_analyzers(users: dict[str, Any]) -> None:
    client = browser(users["owner"])
    data = {**BUILDER, "headers": "Accept: application/json\nAuthorization: Bearer sekrit-token", **solved(client, "/runs/new")}
    response = client.post("/runs/new", data)
    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    assert run.owner == users["owner"] and run.status == "queued" and run.max_vus == 2 and run.planned_duration_s == 3
    assert run.spec["analyzers"] == ["headers"] and run.sla_config["p90_ms"] == 800 and run.sla_config["error_rate"] == 0.02
    assert "sekrit-token" not in run.script and "sekrit-token" not in str(run.spec)
    assert "sekrit-token" not in client.get(f"/runs/{run.pk}/").content.decode()


def test_a_user_with_too_many_active_runs_is_told_and_keeps_the_form(users: dict[str, Any], settings: Any) -> None:
    settings.MAX_ACTIVE_RUNS = 2
    for status in ("queued", "running"):
        stored_run(users["owner"], status=status)
    client = browser(users["owner"])
    response = client.post("/runs/new", {**BUILDER, **solved(client, "/runs/new")})
    page = response.content.decode()
    assert response.status_code == 200 and "MAX_ACTIVE_RUNS=2" in page and 'value="http://127.0.0.1:9/items"' in page
    assert Run.objects.count() == 2


def test_builder_errors_sit_next_to_their_fields_and_keep_the_input(users: dict[str, Any]) -> None:
    client = browser(users["owner"])
    cases = {
        "headers": ({"headers": "Accept application/json"}, "Line 1: write it as Name: value."),
        "stages": ({"stages": "10s 5\nsoon"}, "Line 2: write a stage as duration target, like 30s 10."),
        "preset": ({"stages": "10s 5", "preset": "load"}, "Use either stages or a preset, not both."),
        "vus": ({"vus": "100000"}, "the limit is MAX_VUS="),
        "body": ({"method": "POST", "body_type": "json", "body": "{oops"}, "Not JSON:"),
        "url": ({"url": "http://169.254.169.254/latest"}, "169.254.169.254"),
        "sla": ({"sla_error_percent": "150"}, "less than or equal to 100"),
        "thresholds": ({"thresholds": "http_req_duration: p95 under 500"}, "is not a threshold"),
        "stage target": ({"stages": "30s ²"}, "Line 1: write a stage as duration target"),
        "stage duration": ({"stages": "10s 5\n30x 5"}, "Stage 2: duration: &#x27;30x&#x27; is not a duration"),
        "deep json": ({"method": "POST", "body_type": "json", "body": "[" * 5000}, "The JSON is nested too deeply."),
    }
    for name, (changes, message) in cases.items():
        page = client.post("/runs/new", {**BUILDER, **changes, **solved(client, "/runs/new")}).content.decode()
        assert any(message in error for error in field_errors(page)), (name, field_errors(page))
        assert 'value="shop"' in page, name  # the rest of the input is still there
    assert not Run.objects.exists()
    assert 'value="' not in client.get("/runs/new?from=" + "0" * 33).content.decode().split('name="url"')[1].split(">")[0]


def test_an_empty_json_object_is_still_a_body(users: dict[str, Any]) -> None:
    client = browser(users["owner"])
    data = {**BUILDER, "method": "POST", "body_type": "json", "body": "{}", **solved(client, "/runs/new")}
    assert client.post("/runs/new", data).status_code == 302
    run = Run.objects.get()
    assert run.spec["body"] == {} and '"body": "{}"' in run.script


def test_a_preview_spends_no_captcha_and_a_wrong_answer_starts_nothing(users: dict[str, Any]) -> None:
    client = browser(users["owner"])
    challenge = solved(client, "/runs/new")
    preview = client.post("/runs/new", {**BUILDER, **challenge, "preview": "1"}).content.decode()
    assert 'id="script-preview"' in preview and "http.request(" in preview
    assert CaptchaStore.objects.filter(hashkey=challenge["captcha_0"]).exists()
    page = client.post("/runs/new", {**BUILDER, "captcha_0": challenge["captcha_0"], "captcha_1": "-1"}).content.decode()
    assert "Invalid CAPTCHA" in page and 'value="http://127.0.0.1:9/items"' in page
    # One attempt per challenge: the right answer after a wrong one is refused too.
    assert "Invalid CAPTCHA" in client.post("/runs/new", {**BUILDER, **challenge}).content.decode()
    assert not Run.objects.exists()


def test_staff_start_tests_without_a_captcha_and_others_answer_one(users: dict[str, Any]) -> None:
    staff = browser(users["staff"])
    for path in ("/runs/new", "/runs/upload"):
        assert 'name="captcha_0"' not in staff.get(path).content.decode(), path
    assert staff.post("/runs/upload", {"project_name": "scripts", "file": script_file(SCRIPT)}).status_code == 302
    assert staff.post("/runs/new", BUILDER).status_code == 302
    owner = browser(users["owner"])
    page = owner.post("/runs/upload", {"project_name": "scripts", "file": script_file(SCRIPT)}).content.decode()
    assert "This field is required." in field_errors(page) and 'name="captcha_0"' in page
    assert owner.post("/runs/new", BUILDER).status_code == 200
    data = {"project_name": "scripts", "file": script_file(SCRIPT), **solved(owner, "/runs/upload")}
    assert owner.post("/runs/upload", data).status_code == 302
    assert Run.objects.filter(owner=users["staff"]).count() == 2 and Run.objects.filter(owner=users["owner"]).count() == 1


def test_a_refused_upload_keeps_the_solved_captcha_for_the_fixed_script(users: dict[str, Any]) -> None:
    client = browser(users["owner"])
    challenge = solved(client, "/runs/upload")
    refused = script_file(b'export default function () {\n  open("/etc/shadow");\n}\n')
    page = client.post("/runs/upload", {"project_name": "scripts", "file": refused, **challenge}).content.decode()
    assert "The script was not run" in page and 'id="captcha-kept"' in page
    kept = dict(re.findall(r'<input type="hidden" name="(captcha_[01])" value="([^"]*)"', page))
    assert kept == challenge  # sent again with the next submit: nothing new to solve
    assert client.post("/runs/upload", {"project_name": "scripts", "file": script_file(SCRIPT), **kept}).status_code == 302
    again = client.post("/runs/upload", {"project_name": "scripts", "file": script_file(SCRIPT), **kept}).content.decode()
    assert "Invalid CAPTCHA" in again  # the run used it up
    assert Run.objects.count() == 1


def test_refused_builder_input_and_a_preview_keep_the_solved_captcha(users: dict[str, Any]) -> None:
    client = browser(users["owner"])
    challenge = solved(client, "/runs/new")
    for changes in ({"vus": "100000"}, {"preview": "1"}):
        page = client.post("/runs/new", {**BUILDER, **changes, **challenge}).content.decode()
        assert 'id="captcha-kept"' in page and f'value="{challenge["captcha_0"]}"' in page, changes
    assert client.post("/runs/new", {**BUILDER, **challenge}).status_code == 302


def test_two_submits_at_once_with_one_answer_start_one_run(
    transactional_db: None, users: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = [browser(users["owner"]), browser(users["owner"])]
    challenge = solved(clients[0], "/runs/new")
    meet_at(monkeypatch, web_views, "run_create_from_builder")  # both requests have found the answer right and unused
    responses = at_once(*(lambda client=client: client.post("/runs/new", {**BUILDER, **challenge}) for client in clients))
    assert sorted(response.status_code for response in responses) == [200, 302]
    refused = next(response for response in responses if response.status_code == 200).content.decode()
    assert "Another submission started a test with this captcha" in refused
    assert Run.objects.count() == 1


def test_run_again_fills_the_form_from_an_earlier_run(users: dict[str, Any]) -> None:
    client = browser(users["owner"])
    earlier = {
        **BUILDER,
        "method": "POST",
        "body_type": "json",
        "body": '{"sku": 42}',
        "headers": "X-Trace: on\nCookie: sid=1",
        "thresholds": "http_req_duration: p(95)<300",
    }
    client.post("/runs/new", {**earlier, **solved(client, "/runs/new")})
    run = Run.objects.get()
    page = client.get(f"/runs/new?from={run.pk}").content.decode()
    assert 'value="http://127.0.0.1:9/items"' in page and "X-Trace: on" in page and "sid=1" not in page
    assert "&quot;sku&quot;: 42" in page and "http_req_duration: p(95)&lt;300" in page
    assert re.search(r'name="sla_p90_ms" value="800(\.0)?"', page) and re.search(
        r'name="sla_error_percent" value="2(\.0)?"', page
    )
    assert 'value="http://127.0.0.1:9/items"' not in browser(users["stranger"]).get(f"/runs/new?from={run.pk}").content.decode()


def test_rejected_uploads_list_findings_by_line_and_store_nothing(users: dict[str, Any]) -> None:
    client = browser(users["owner"])
    script = b'import http from "k6/http";\nexport default function () {\n  open("/etc/shadow");\n}\n'
    upload = SimpleUploadedFile("test.js", script, content_type="text/javascript")
    page = client.post(
        "/runs/upload", {"project_name": "scripts", "file": upload, **solved(client, "/runs/upload")}
    ).content.decode()
    assert "The script was not run" in page and "<strong>test.js, line 3</strong>" in page
    assert "open(&quot;/etc/shadow&quot;)" in page
    too_big = SimpleUploadedFile("big.js", b"//" + b"x" * (2 * 1024 * 1024), content_type="text/javascript")
    page = client.post(
        "/runs/upload", {"project_name": "scripts", "file": too_big, **solved(client, "/runs/upload")}
    ).content.decode()
    assert "the limit is 2097152 bytes" in page and "MB per script file" in page
    huge = SimpleUploadedFile("huge.zip", b"x" * (MAX_UPLOAD_BYTES + 1))
    page = client.post(
        "/runs/upload", {"project_name": "scripts", "file": huge, **solved(client, "/runs/upload")}
    ).content.decode()
    assert any(f"the limit is {MAX_UPLOAD_BYTES} bytes" in error for error in field_errors(page))
    latin1 = SimpleUploadedFile("old.txt", "caf\xe9".encode("latin-1"))
    page = client.post(
        "/runs/upload", {"project_name": "scripts", "file": latin1, **solved(client, "/runs/upload")}
    ).content.decode()
    assert "is not a k6 script or bundle" in page
    latin1_js = SimpleUploadedFile("old.js", "// caf\xe9\nexport default function () {}".encode("latin-1"))
    page = client.post(
        "/runs/upload", {"project_name": "scripts", "file": latin1_js, **solved(client, "/runs/upload")}
    ).content.decode()
    assert "old.js is not UTF-8" in page
    assert not Run.objects.exists() and not Project.objects.filter(name="scripts").exists()


def test_downloads_serve_the_runs_files_and_say_when_one_is_missing(users: dict[str, Any], settings: Any, tmp_path: Path) -> None:
    settings.RESULT_DIR = tmp_path
    run = stored_run(users["owner"])
    client = browser(users["owner"])
    missing = client.get(f"/runs/{run.pk}/download/pdf")
    assert missing.status_code == 404
    files = run_files_dir(run.pk)
    (files / "filmstrip").mkdir(parents=True)
    (files / "report.pdf").write_bytes(b"%PDF-1.4 test")
    (files / "filmstrip" / "first_view-000100ms.jpg").write_bytes(b"\xff\xd8jpeg")
    pdf = client.get(f"/runs/{run.pk}/download/pdf")
    assert pdf.status_code == 200 and isinstance(pdf, FileResponse) and b"".join(pdf.streaming_content) == b"%PDF-1.4 test"
    assert "attachment" in pdf["Content-Disposition"]
    (files / "report.html").write_text("<!doctype html><p>report</p>")
    html = client.get(f"/runs/{run.pk}/download/html")
    assert "attachment" not in html["Content-Disposition"] and html["Content-Security-Policy"] == "sandbox allow-scripts"
    assert client.get(f"/runs/{run.pk}/download/exe").status_code == 404
    assert client.get(f"/runs/{run.pk}/filmstrip/first_view-000100ms.jpg")["Content-Type"] == "image/jpeg"
    assert client.get(f"/runs/{run.pk}/filmstrip/..%2Freport.pdf").status_code == 404
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert f'href="/runs/{run.pk}/download/pdf"' in page and f"/runs/{run.pk}/download/junit" not in page


def test_cancel_from_the_run_page(users: dict[str, Any]) -> None:
    run = stored_run(users["owner"], status="queued", grade="")
    client = browser(users["owner"])
    assert client.get(f"/runs/{run.pk}/cancel").status_code == 405
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'id="cancel-form"' in page and 'data-state="current"' in page
    response = client.post(f"/runs/{run.pk}/cancel", follow=True)
    run.refresh_from_db()
    assert run.status == "cancelled" and "Cancelling" in response.content.decode()
    assert 'id="cancel-form"' not in response.content.decode()
    # After k6 there is nothing to stop: the analysis finishes by itself.
    analyzing = stored_run(users["owner"], status="analyzing", grade="", stage="analysis", started_at=timezone.now())
    assert 'id="cancel-form"' not in client.get(f"/runs/{analyzing.pk}/").content.decode()
    response = client.post(f"/runs/{analyzing.pk}/cancel", follow=True)
    analyzing.refresh_from_db()
    assert "Nothing to cancel" in response.content.decode() and not analyzing.cancel_requested


def test_login_page_says_how_the_first_user_gets_in(db: None) -> None:
    page = browser().get("/accounts/login/").content.decode()
    assert "var/admin-password.txt" in page and 'name="username"' in page


def test_the_stepper_shows_where_a_run_stopped(users: dict[str, Any]) -> None:
    client = browser(users["owner"])
    started: dict[str, Any] = {"started_at": timezone.now()}
    cases = [
        (stored_run(users["owner"], status="cancelled", grade=""), "queued", "cancelled"),
        (stored_run(users["owner"], status="failed", grade="", stage="k6", error="k6 exited 107", **started), "k6", "failed"),
        (stored_run(users["owner"], status="analyzing", grade="", stage="analysis", **started), "analysis", "current"),
        (stored_run(users["owner"], status="done", **started), "done", "done"),
    ]
    for run, step, state in cases:
        page = client.get(f"/runs/{run.pk}/").content.decode()
        assert f'data-key="{step}" data-state="{state}"' in page, (run.status, step)
    assert "k6 exited 107" in client.get(f"/runs/{cases[1][0].pk}/").content.decode()


def test_run_again_from_an_api_run_with_numbers_sent_as_strings(users: dict[str, Any]) -> None:
    spec = {"url": "http://127.0.0.1:9/api", "vus": "3", "sla": {"error_rate": "0.01", "p90_ms": "fast"}}
    run = stored_run(users["owner"], spec=spec)
    page = browser(users["staff"]).get(f"/runs/new?from={run.pk}").content.decode()
    assert 'value="http://127.0.0.1:9/api"' in page and re.search(r'name="sla_error_percent" value="1(\.0)?"', page)


def test_repeated_wrong_passwords_lock_that_user_name_out(users: dict[str, Any], settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    statuses = [client.post("/accounts/login/", {"username": "owner", "password": f"wrong-{n}"}).status_code for n in range(4)]
    assert statuses[:2] == [200, 200] and statuses[-1] == 429  # refused from the third failure on
    locked = client.post("/accounts/login/", {"username": "owner", "password": PASSWORD})
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()  # even the right password
    other = client.post("/accounts/login/", {"username": "stranger", "password": PASSWORD})
    assert other.status_code == 302  # another user name is not affected


def test_a_run_stored_before_group_trees_shows_its_checks_under_their_groups(users: dict[str, Any]) -> None:
    # As results were stored before issue 16: groups as a flat list of paths, custom metrics only in the metrics.
    run = stored_run(users["owner"])
    RunResult.objects.filter(run=run).update(
        groups=["::login", "::login::form"],
        checks=[
            {"name": "status is 200", "group": "::login", "passes": 9, "fails": 1, "rate": 0.9},
            {"name": "status is 200", "group": "::login::form", "passes": 4, "fails": 0, "rate": 1.0},
        ],
        metrics={"http_reqs": {"count": 14, "rate": 7.0}, "login_ms": {"avg": 12.5, "p95": 30.0}},
        thresholds=[{"metric": "login_ms", "expression": "p(95)<20", "ok": False}],
    )
    page = browser(users["owner"]).get(f"/runs/{run.pk}/").content.decode()
    rows = re.findall(
        r'<tr class="tree-(\w+)" data-depth="(\d)"><td[^>]*>(?:<strong>)?([^<]+)(?:</strong>)?</td><td class="num">(\d+)', page
    )
    assert rows == [
        ("group", "0", "login", "13"),
        ("check", "1", "status is 200", "9"),
        ("group", "1", "form", "4"),
        ("check", "2", "status is 200", "4"),
    ]
    assert re.search(r"<code>login_ms</code>.*?<code>p\(95\)&lt;20</code> <span class=\"fail\">failed</span>", page, re.S)
