"""The reports of a passed, a failed-threshold and a spike run with real k6, looked at as people see them: the PDF's
pages rendered with pdftoppm into artifacts/pdf-pages/ and the HTML report in Chromium at 1440 and 390 px into
artifacts/screenshots/. The assertions are on the chart data (series, reference lines, axis ranges), not pixels."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Page, sync_playwright
from pypdf import PdfReader

from reports.render import report_path
from runs.api.serializers import BuilderRunSerializer
from runs.engine.charts import run_charts
from runs.models import Run
from runs.pipeline import run_create_from_builder, run_execute
from runs.selectors import run_result
from scanners.pagetest import CHROMIUM_FLAGS, chromium_path

pytestmark = pytest.mark.django_db(transaction=True)
ARTIFACTS = django_settings.BASE_DIR / "artifacts"
WIDTHS = {1440: 900, 390: 844}  # desktop and phone viewports


@pytest.fixture
def report_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Page]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in this thread; the ORM between steps
    executable = chromium_path()
    if executable is None:
        pytest.fail("Chromium is missing: make installs it (apt-get install chromium) or set CHROMIUM_PATH.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("requestfailed", lambda request: errors.append(f"request {request.url}"))
        yield page
        browser.close()
    assert not errors, errors


def run(url: str, **data: Any) -> Run:
    serializer = BuilderRunSerializer(data={"url": url, "vus": 2, "duration": "3s", "analyzers": [], **data})
    assert serializer.is_valid(), serializer.errors
    done = run_execute(run_create_from_builder(serializer).pk)
    assert done.status == Run.Status.DONE, done.error
    return done


def chart(spec: dict[str, Any], chart_id: str) -> dict[str, Any]:
    return next(c for c in spec["charts"] if c["id"] == chart_id)


def pdf_pages_to_png(done: Run, name: str) -> None:
    directory = ARTIFACTS / "pdf-pages"
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob(f"{name}-*.png"):
        old.unlink()
    pdf = report_path(done.pk, "pdf")
    subprocess.run(["pdftoppm", "-r", "70", "-png", str(pdf), str(directory / name)], check=True, timeout=60)
    assert len(list(directory.glob(f"{name}-*.png"))) == len(PdfReader(pdf).pages)


def screenshots(page: Page, done: Run, name: str, charts: int) -> None:
    (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)
    page.goto(report_path(done.pk, "html").as_uri())
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)  # the charts follow their boxes' new width
        sizes = page.eval_on_selector_all(
            "#charts .chart-figure .chart, #test-trend .chart",
            "boxes => boxes.map(b => [b.clientWidth, b.querySelector('.uplot')?.clientWidth ?? 0])",
        )
        assert len(sizes) == charts + 4 * (page.locator("#test-trend").count())  # and the last runs' four
        assert all(0 < drawn <= box <= width for box, drawn in sizes), sizes  # drawn, inside the page
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen
        # A phone draws the overview's first two value axes and says how to read the others.
        assert page.get_attribute("#chart-overview", "data-axes-shown") == ("2" if width < 600 else "4")
        assert page.locator("#figure-overview .narrow-axes-note").count() == (1 if width < 600 else 0)
        page.screenshot(path=ARTIFACTS / "screenshots" / f"report-{name}-{width}.png", full_page=True)


def test_reports_of_a_passed_a_failed_threshold_and_a_spike_run(
    demo_target: Callable[..., Any], settings: Any, tmp_path: Path, report_page: Page
) -> None:
    settings.RESULT_DIR = tmp_path
    settings.RUN_POST_STAGES = ["reports.pipeline.analyze_run", "reports.render.render_run"]  # insights mark the spike
    settings.GEMINI_API_KEYS = []
    target = demo_target(latency_min_ms=2, latency_max_ms=6)
    saturating = demo_target(latency_min_ms=20, latency_max_ms=30, concurrency=2)

    passed = run(target.url)
    spec = run_charts(run_result(passed))
    latency = chart(spec, "latency")
    assert latency["axes"][0]["range"][1] < 100  # the curves fill the chart, not flattened under the 1500 ms SLA
    assert [(r["drawn"], r["note"]) for r in latency["references"]] == [(False, "SLA p90 limit 1500 ms — above the data")]
    overview = chart(spec, "overview")
    assert {a["scale"]: a["side"] for a in overview["axes"]}["vus"] == "right"
    assert max(v for v in overview["series"][1]["values"] if v is not None) == 2  # the VUs
    timings = chart(spec, "timings")  # a run this slow has every request's phases read
    assert sum(v for v in timings["series"][4]["values"] if v) > 0 and "sampled requests" in timings["note"]
    (endpoint,) = chart(spec, "endpoints")["series"]
    assert endpoint["label"] == f"GET {target.url}"
    pdf_pages_to_png(passed, "passed")
    screenshots(report_page, passed, "passed", len(spec["charts"]))

    failed = run(target.url, thresholds={"http_req_duration": ["p(95)<3"]})
    spec = run_charts(run_result(failed))
    (limit,) = chart(spec, "threshold-0")["references"]
    assert limit["value"] == 3 and limit["drawn"] and chart(spec, "threshold-0")["axes"][0]["range"][1] >= 3
    pdf_pages_to_png(failed, "failed-threshold")
    screenshots(report_page, failed, "failed-threshold", len(spec["charts"]))

    spike = run(saturating.url, vus=10, duration="20s", preset="spike")
    spec = run_charts(run_result(spike))
    assert [mark for mark in spec["annotations"] if mark["kind"] == "stage"]  # the jump and the drop are marked
    assert max(v for v in chart(spec, "overview")["series"][1]["values"] if v is not None) == 10
    pdf_pages_to_png(spike, "spike")
    screenshots(report_page, spike, "spike", len(spec["charts"]))
