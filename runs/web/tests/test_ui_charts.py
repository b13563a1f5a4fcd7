"""The run page embeds the chart specs (runs/engine/charts.py) and states the limits that lie outside the data."""

from __future__ import annotations

from typing import Any

from runs.models import Run, RunResult
from runs.web.tests.test_ui_comparisons import json_script, page_of
from runs.web.tests.test_ui_views import browser, stored_run


def finished_run(owner: Any, status: str = "done") -> Run:
    run = stored_run(owner, status=status)
    points = [
        {"t": t, "vus": 2, "rps": 40, "error_rate": 0.0, "p50_ms": 10.0, "p90_ms": 14.0, "p95_ms": 15.0, "p99_ms": 20.0}
        for t in range(30)
    ]
    thresholds = [{"metric": "http_req_duration", "expression": "p(95)<12", "ok": False}]
    RunResult.objects.filter(run=run).update(timeseries=points, thresholds=thresholds)
    return run


def test_the_run_page_embeds_its_chart_specs_and_a_box_for_each(users: dict[str, Any]) -> None:
    run = finished_run(users["owner"])
    page = page_of(browser(users["owner"]), f"/runs/{run.pk}/")
    specs = json_script(page, "chart-specs")
    assert [chart["id"] for chart in specs["charts"]] == ["overview", "latency", "errors", "threshold-0"]
    assert specs["t"] == list(range(30))
    for chart in specs["charts"]:
        assert f'id="chart-{chart["id"]}"' in page
    latency = specs["charts"][1]
    assert [line["label"] for line in latency["series"]] == ["p50", "p90", "p95", "p99"]
    assert "SLA p90 limit 1500 ms — above the data" in page  # stated beside the chart, not drawn
    assert "Failed threshold http_req_duration p(95)&lt;12" in page


def test_a_running_run_embeds_the_live_overview(users: dict[str, Any]) -> None:
    run = stored_run(users["owner"], status="running", grade="")
    specs = json_script(page_of(browser(users["owner"]), f"/runs/{run.pk}/"), "chart-specs")
    assert [chart["id"] for chart in specs["charts"]] == ["live-overview"]


def test_other_users_and_visitors_do_not_get_the_charts(users: dict[str, Any]) -> None:
    run = finished_run(users["owner"])
    assert browser(users["stranger"]).get(f"/runs/{run.pk}/").status_code == 404
    assert browser().get(f"/runs/{run.pk}/").status_code == 302
