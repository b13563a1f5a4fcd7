"""Share links: off by default; signed, expiring, revocable, logged, read-only, and nothing else of the site."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory
from django.utils import timezone

from reports.admin import ShareLinkAdmin
from reports.models import ShareLink
from reports.render import report_path
from runs.models import Run

REPORT = b"<!doctype html><title>k6intel report</title><h1>Verdict: passed</h1>"


@pytest.fixture
def reported_run(make_run: Any, keys: dict[str, Any], settings: Any, tmp_path: Path) -> Run:
    settings.RESULT_DIR = tmp_path
    run = make_run("export default function () {}", api_key=keys["user"][0], status=Run.Status.DONE)
    path = report_path(run.pk, "html")
    path.parent.mkdir(parents=True)
    path.write_bytes(REPORT)
    return run


def share(api: Any, run: Run, who: str = "user", **body: Any) -> Any:
    return api(who).post(f"/api/run/{run.pk}/share", body, format="json")


def test_sharing_is_off_by_default(api: Any, reported_run: Run) -> None:
    refused = share(api, reported_run)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "sharing_off"
    assert Client().get("/share/anything").status_code == 404 and not ShareLink.objects.exists()


def test_a_link_opens_the_report_read_only_for_anyone_and_is_logged(
    api: Any, reported_run: Run, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.SHARE_LINKS = True
    with caplog.at_level(logging.INFO, logger="reports.sharing"):
        made = share(api, reported_run, hours=2)
    assert made.status_code == 201, made.content
    url = made.json()["url"]
    assert any(f"created for run {reported_run.pk} by API key user" in message for message in caplog.messages)

    opened = Client().get(url)  # no account
    assert opened.status_code == 200 and opened.getvalue() == REPORT
    assert opened["Content-Security-Policy"] == "sandbox allow-scripts" and "noindex" in opened["X-Robots-Tag"]
    assert opened["Referrer-Policy"] == "no-referrer" and "no-store" in opened["Cache-Control"]
    assert Client().post(url).status_code == 405  # read-only
    link = ShareLink.objects.get()
    assert link.views == 1 and link.created_by.startswith("API key user")
    assert link.expires_at - timezone.now() < timedelta(hours=2, minutes=1)


def test_forged_expired_and_revoked_links_are_refused(api: Any, reported_run: Run, settings: Any, admin_user: Any) -> None:
    settings.SHARE_LINKS = True
    url = share(api, reported_run).json()["url"]
    token = url.rsplit("/", 1)[1]
    assert Client().get(f"/share/{token[:-2]}xx").status_code == 404  # altered signature
    link = ShareLink.objects.get()
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(url).status_code == 404

    url = share(api, reported_run).json()["url"]
    request = RequestFactory().post("/admin/")
    request.user = admin_user
    ShareLinkAdmin(ShareLink, site).revoke(request, ShareLink.objects.filter(revoked_at__isnull=True))
    assert Client().get(url).status_code == 404
    settings.SHARE_LINKS = False  # turned off: every link stops working
    assert Client().get(url).status_code == 404


def test_only_visible_reported_runs_are_shared_for_a_bounded_time(
    api: Any, reported_run: Run, settings: Any, make_run: Any
) -> None:
    settings.SHARE_LINKS = True
    assert share(api, reported_run, who="other").status_code == 404
    too_long = share(api, reported_run, hours=settings.SHARE_LINK_MAX_HOURS + 1)
    assert too_long.status_code == 400 and "hours" in too_long.json()["error"]["fields"]
    unreported = make_run("export default function () {}", api_key=reported_run.api_key)
    assert share(api, unreported).status_code == 409
    assert ShareLink.objects.count() == 0


def test_the_sharelink_command(reported_run: Run, settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CommandError, match="SHARE_LINKS"):
        call_command("sharelink", str(reported_run.pk))
    settings.SHARE_LINKS = True
    call_command("sharelink", str(reported_run.pk), "--hours", "1")
    path = capsys.readouterr().out.split()[0]
    assert path.startswith("/share/") and Client().get(path).status_code == 200
    assert ShareLink.objects.get().created_by == "manage.py sharelink"
