"""What the reports show behind the verdict: failures by reason (table and chart), the load delivered, request
timings, custom metrics, and every rate written by the one formatter."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from reports.charts import chart_figure
from reports.html import render_html
from reports.tests.conftest import SECONDS
from reports.tests.reading import html_text, pdf_pages, plotted
from runs.engine.charts import run_charts

Build = Callable[[str], dict[str, Any]]


def test_failures_table_lists_each_reason_with_its_count_meaning_and_an_example(result_document: Build, tmp_path: Path) -> None:
    document = result_document("failed")
    rows = [
        "90 1 s HTTP 503 HTTP 503 Service Unavailable: the server failed. http://127.0.0.1:8000/api/checkout",
        "10 3 s dial: connection refused (1212) TCP: connection refused (nothing listens on that port). http://127.0.0.1:9/api/cart",
    ]
    text = html_text(document, tmp_path)
    assert "Failures 100 failed requests, by reason." in text
    for row in rows:
        assert row in text
    pdf = " ".join(pdf_pages(document, tmp_path))
    assert (
        "100 failed requests, by reason." in pdf
        and "dial: connection refused (1212)" in pdf
        and "Failed requests per second by reason" in pdf
    )


def test_failure_charts_draw_the_counts_per_second_of_each_reason(result_document: Build, tmp_path: Path) -> None:
    over_time = result_document("failed")["failures"]["over_time"]
    spec = run_charts(result_document("failed"))
    failures = next(chart for chart in spec["charts"] if chart["id"] == "failures")
    expected = {f"{line['label']} (req/s)": (over_time["t"], line["counts"]) for line in over_time["series"]}
    assert plotted(chart_figure(spec, failures)) == expected  # the PDF
    page = render_html(result_document("failed"), tmp_path)
    embedded = re.search(r'<script id="chart-spec" type="application/json">(.*?)</script>', page, re.S)
    assert embedded is not None and orjson.loads(embedded.group(1)) == orjson.loads(orjson.dumps(spec))  # the HTML


def test_a_run_without_failures_has_no_failures_section(result_document: Build, tmp_path: Path) -> None:
    document = result_document("passed")
    document["failures"] = {"total": 0, "by_reason": [], "over_time": {"t": [], "series": []}, "samples": []}
    assert "Failures" not in html_text(document, tmp_path)
    assert "failed requests, by reason" not in " ".join(pdf_pages(document, tmp_path))


def test_load_delivered_timings_and_custom_metrics_read_alike_in_both_reports(result_document: Build, tmp_path: Path) -> None:
    document = result_document("not_graded")
    expected = [
        "Load delivered",
        "Duration 2.4 s of 5 s planned (+ up to 10 s graceful stop)",
        "VUs reached 10 of 10 planned",
        "Dropped iterations 12 (2.34 % of planned, limit 5.00 %)",
        "Ended stopped early (external abort)",
        "Request timing breakdown",
        "Connecting (TCP) 0.25 ms 1.5 ms",
        "Waiting (time to first byte) 15.5 ms 35.2 ms",
        "Custom metrics",
        "cart_errors rate rate 12.50 %, passes 1, fails 7",
        "checkout_duration trend avg 120, min 100, med 110, p90 150, p95 170, p99 190, max 200",
    ]
    text = html_text(document, tmp_path)
    pdf = " ".join(pdf_pages(document, tmp_path))
    for line in expected:
        assert line in text, line
        assert line in pdf, line


def test_a_run_that_is_not_arrival_rate_shows_no_dropped_iterations(result_document: Build, tmp_path: Path) -> None:
    document = result_document("passed")
    document["delivery"] = {**document["delivery"], "dropped_ratio": None, "dropped_iterations": 0}
    assert "Dropped iterations" not in html_text(document, tmp_path).split("Load delivered", 1)[1].split("Key metrics")[0]


def test_every_rate_reads_as_a_percentage_with_two_decimals(result_document: Build, tmp_path: Path) -> None:
    document = result_document("failed")
    document["checks"] = [{"name": "status is 200", "group": "", "passes": 400, "fails": 100, "rate": 0.8}]
    document["insights"] = [{"id": "rising_failure_rate", "severity": "warning", "title": "Failures rise",
                             "evidence": {"error_rate_first_half": 0.0, "error_rate_second_half": 0.2},
                             "recommendation": "Look at the server."}]  # fmt: skip
    text = html_text(document, tmp_path)
    pdf = " ".join(pdf_pages(document, tmp_path))
    for report in (text, pdf):
        assert "Failed requests 20.00 %" in report  # key metrics
        assert "GET 200 500 20.00 %" in report  # the endpoint's error rate
        assert "400 100 80.00 %" in report  # the check's pass rate
        assert "Evidence: error_rate_first_half 0.00 %, error_rate_second_half 20.00 %" in report
        assert not re.search(r"\b0\.2000?\b|\b20\.0%|\b0\.200\b", report)


def test_scorecard_rows_show_units_caps_and_rows_without_a_limit(result_document: Build, tmp_path: Path) -> None:
    document = result_document("failed")
    document["sla"]["criteria"].append(
        {"key": "script_end", "label": "Ran to its end", "value": None, "threshold": 0.0, "comparator": "", "met": False,
         "points": 0.0, "max_points": 0.0, "note": "the script stopped the test with test.abort()", "kind": "end", "unit": ""}
    )  # fmt: skip
    text = html_text(document, tmp_path)
    assert "p90 latency of successful responses 31.0 ms <= 1500.0 ms yes 30.0 / 30" in text
    assert "http_req_duration p(95)<1 k6 threshold from the script 40.0 ms < 1.0 ms NO cap" in text
    assert "Ran to its end the script stopped the test with test.abort() – – NO cap" in text


def test_script_controlled_names_of_any_length_still_make_a_pdf(result_document: Any, tmp_path: Path) -> None:
    document = result_document("failed")
    huge = "GET /items/" + "x" * 20_000  # one word, no place to break
    document["endpoints"] = [{**document["endpoints"][0], "name": huge}, {**document["endpoints"][0], "name": "a " * 60_000}]
    pages = pdf_pages(document, tmp_path)
    assert any("GET /items/xxxx" in page for page in pages)


def test_scenarios_get_a_section_only_when_there_are_several(result_document: Build, tmp_path: Path) -> None:
    def scenario(name: str, requests: int) -> dict[str, Any]:
        rest = [0] * (SECONDS - 1)  # the run's seconds, as every scenario's columns are
        series = {"t": list(range(SECONDS)), "requests": [requests, *rest], "errors": [1, *rest], "p95_ms": [40.0, *rest],
                  "iterations": [requests, *rest], "busy_vus": [2.5, *rest]}  # fmt: skip
        return {"name": name, "executor": "constant-vus", "requests": requests, "failed": 1, "error_rate": 1 / requests,
                "rps": float(requests), "p95_ms": 40.0, "iterations": requests, "busy_vus_max": 2.5, "timeseries": series,
                "thresholds": [{"metric": f"http_reqs{{scenario:{name}}}", "expression": "count>1", "ok": True}]}  # fmt: skip

    document = result_document("passed")
    document["scenarios"] = [scenario("default", 500)]
    assert "Scenarios" not in html_text(document, tmp_path) and "Scenarios" not in " ".join(pdf_pages(document, tmp_path))
    document["scenarios"] = [scenario("browse", 400), scenario("buy", 100)]
    html, pdf = html_text(document, tmp_path), " ".join(pdf_pages(document, tmp_path))
    for text in (html, pdf):
        assert "buy constant-vus 100 100.0 1.00 % 40.0 ms 100 2.5" in text
        assert "Thresholds on scenarios Scenario Threshold Result browse http_reqs count>1 passed buy http_reqs count>1" in text
