"""The report files of a real run: PDF text and numbers, charts from the stored series, a closed HTML, valid JUnit."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from lxml import etree
from pypdf import PdfReader

from reports.charts import chart_figure
from reports.render import report_path
from reports.tests.reading import plotted
from runs.api.serializers import BuilderRunSerializer
from runs.engine.charts import run_charts
from runs.engine.formatting import percent
from runs.pipeline import run_create_from_builder, run_execute
from runs.selectors import run_result

pytestmark = pytest.mark.django_db(transaction=True)

SECTIONS = [
    "Load test report", "Executive summary", "SLA scorecard", "Load delivered", "Key metrics", "Failures",
    "Charts", "Overview: load, throughput, p95 latency and errors", "Latency percentiles per second",
    "Error rate per second", "Failed requests per second by reason", "Failed threshold http_req_duration p(95)<1",
    "Request timing breakdown", "Endpoints", "Thresholds and checks", "Insights", "Risk assessment", "Optimization guidance",
    "Security headers", "SSL/TLS", "Page test", "Lighthouse", "Appendix: script and run configuration",
]  # fmt: skip


@pytest.fixture
def finished(demo_target: Callable[..., Any], settings: Any, tmp_path: Path, keys: dict[str, Any]) -> Any:
    settings.RESULT_DIR = tmp_path
    target = demo_target(latency_min_ms=5, latency_max_ms=30, error_rate=0.2)
    data = {"url": target.url + "/api/é", "vus": 3, "duration": "3s", "checks": {"status": 200},
            "thresholds": {"http_req_duration": ["p(95)<1"]}, "project_name": "Boutique Zürich"}  # fmt: skip
    serializer = BuilderRunSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    run = run_create_from_builder(serializer, api_key=keys["user"][0])
    run = run_execute(run.pk)
    assert run.status == "done", run.error
    return run


def pdf_text(path: Path) -> tuple[int, str]:
    reader = PdfReader(path)
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_pdf_cover_states_the_runs_verdict(finished: Any) -> None:
    verdict = run_result(finished)["verdict"]
    first_page = " ".join(PdfReader(report_path(finished.pk, "pdf")).pages[0].extract_text().split())
    # 20 % errors against a 10 % SLA, and p(95)<1 ms cannot hold
    assert verdict["headline"] == "Failed" and verdict["headline"] in first_page
    for reason in verdict["reasons"]:
        assert reason in first_page, reason


def test_pdf_has_every_section_and_the_results_numbers(finished: Any) -> None:
    document = run_result(finished)
    pages, text = pdf_text(report_path(finished.pk, "pdf"))
    assert pages >= 5
    for section in SECTIONS:
        assert section in text, section
    metrics = document["metrics"]
    assert f"{metrics['http_reqs']['count']:,} ({metrics['http_reqs']['rate']:,.1f}/s)" in text
    assert f"Failed requests\n{percent(metrics['http_req_failed']['rate'])}" in text
    duration = metrics["http_req_duration"]
    assert f"{duration['p90']:,.1f} / {duration['p95']:,.1f} / {duration['p99']:,.1f} ms" in text
    assert f"Score {document['score']:,.1f} / 100" in text and "Boutique Zürich" in text  # non-ASCII renders
    assert "p(95)<1" in text and "FAILED" in text
    assert "Skipped: The target is plain HTTP" in text  # a skipped analyzer says why
    assert "Written from the rule-based insights" in text
    assert f"Page {pages}" in text


def test_charts_are_drawn_from_the_stored_series(finished: Any) -> None:
    series, spec = finished.result.timeseries, run_charts(run_result(finished))
    charts = {chart["id"]: chart for chart in spec["charts"]}
    latency = plotted(chart_figure(spec, charts["latency"]))
    assert latency["p95 (ms)"] == ([p["t"] for p in series], [p["p95_ms"] for p in series])
    assert plotted(chart_figure(spec, charts["errors"]))["errors (%)"][1] == [round(p["error_rate"] * 100, 3) for p in series]


def test_html_is_self_contained_with_the_same_data(finished: Any) -> None:
    page = report_path(finished.pk, "html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and not re.search(r"url\(\s*['\"]?https?:", page)
    embedded = re.search(r'<script id="chart-spec" type="application/json">(.*?)</script>', page, re.S)
    assert embedded is not None
    spec = orjson.loads(embedded.group(1))
    assert spec == orjson.loads(orjson.dumps(run_charts(run_result(finished))))  # the run page's specs, drawn by uPlot inlined
    latency = next(chart for chart in spec["charts"] if chart["id"] == "latency")
    assert next(s for s in latency["series"] if s["label"] == "p95")["values"] == [
        p["p95_ms"] for p in finished.result.timeseries
    ]
    assert "SLA p90 limit 1500 ms — above the data" in page and "uPlot" in page and "K6Charts.drawSpecs" in page
    for section in (
        "Executive summary",
        "SLA scorecard",
        "Latency percentiles per second",
        "Insights",
        "Security headers",
        "Appendix",
    ):
        assert section in page


def test_junit_validates_and_failures_carry_the_numbers(finished: Any) -> None:
    schema = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("junit.xsd"))))
    tree = etree.parse(str(report_path(finished.pk, "junit")))
    schema.assertValid(tree)
    suites = tree.getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["Verdict", "SLA (Boutique Zürich)", "k6 thresholds"]
    assert suites[0].find("testcase/failure") is not None  # the verdict failed
    sla_cases = suites[1].findall("testcase")
    assert len(sla_cases) == 3  # the k6 threshold is a case of its own suite only
    failure = suites[2].find("testcase/failure")
    assert failure is not None and "p(95)<1" in failure.get("message", "") and "p95=" in failure.get("message", "")
    # success rate 0.8 misses 0.95: a failing case with both numbers
    success = next(c for c in sla_cases if c.get("name") == "Success rate").find("failure")
    assert success is not None and re.fullmatch(r"Success rate \d+\.\d\d % misses >= 95\.00 %", success.get("message", ""))


def test_csv_and_json_exports_match_the_result(finished: Any) -> None:
    rows = list(csv.DictReader(io.StringIO(report_path(finished.pk, "csv").read_text())))
    assert len(rows) == len(finished.result.timeseries)
    assert sum(int(r["rps"]) for r in rows) == finished.result.metrics["http_reqs"]["count"]
    assert sum(int(r["timing_samples"]) for r in rows) == finished.result.metrics["http_reqs"]["count"]  # a slow run: all read
    assert [float(r["waiting_ms"]) for r in rows] == [point["waiting_ms"] for point in finished.result.timeseries]
    exported = orjson.loads(report_path(finished.pk, "json").read_bytes())
    assert exported["metrics"] == run_result(finished)["metrics"] and exported["status"] == "done"


def test_files_are_linked_and_served_to_their_owner_only(finished: Any, api: Any) -> None:
    links = run_result(finished)["links"]
    expected = {
        "pdf": "application/pdf",
        "html": "text/html",
        "json": "application/json",
        "csv": "text/csv",
        "summary_csv": "text/csv",
        "junit": "application/xml",
    }
    for kind, content_type in expected.items():
        response = api("user").get(links[kind])
        assert response.status_code == 200 and response["Content-Type"].startswith(content_type), kind
        assert api("other").get(links[kind]).status_code == 404
    assert api("user").get(f"/api/download/{finished.pk}/docx").status_code == 404
