"""A run compared with its test's baseline: both reports show the comparison and the test's last runs beside the
verdict, never instead of it; JUnit gains a case per compared metric. A run without them shows neither.

The comparison is the engine's own, of latency distributions drawn from known ranges (10–30 ms against 30–60 ms).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram
from lxml import etree

from reports.exports import junit_export
from reports.tests.reading import html_text, pdf_pages
from runs.engine.compare import MWU_LATENCY, RunFacts, compare_runs
from runs.engine.results import ALL_REQUESTS

Build = Callable[[str], dict[str, Any]]
SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("junit.xsd"))))
BASE_ID = "0b5e11e0-0000-4000-8000-000000000001"
REQUESTS = 400


def latency_histogram(low_ms: float, high_ms: float, seed: int) -> str:
    drawn = random.Random(seed)
    histogram = HdrHistogram(1, 60_000_000, 3)
    for _ in range(REQUESTS):
        histogram.record_value(int(drawn.uniform(low_ms, high_ms) * 1000))  # µs, as the ingester records them
    return histogram.encode().decode()


def facts(run_id: str, metrics: dict[str, Any], low_ms: float, high_ms: float, threshold_ok: bool) -> RunFacts:
    duration = {**metrics["http_req_duration"], "med": (low_ms + high_ms) / 2, "p95": low_ms + 0.95 * (high_ms - low_ms)}
    return RunFacts(
        id=run_id,
        metrics={**metrics, "http_req_duration": duration},
        histograms={ALL_REQUESTS: latency_histogram(low_ms, high_ms, seed=int(low_ms))},
        thresholds=[{"metric": "http_req_duration", "expression": "p(95)<50", "ok": threshold_ok}],
        checks=[{"group": "::cart", "name": "status is 200", "passes": 10, "fails": 0 if threshold_ok else 3}],
    )


def compared(document: dict[str, Any]) -> dict[str, Any]:
    """`document` as a slower variant of test 'checkout', compared with its baseline when k6 finished, with the
    test's last three runs."""
    base = facts(BASE_ID, document["metrics"], 10, 30, threshold_ok=True)
    slower = facts(document["id"], document["metrics"], 30, 60, threshold_ok=False)
    comparison = {key: value for key, value in compare_runs(base, slower, 0.10).items()
                  if key not in ("timeseries", "config_diff", "script_diff")}  # fmt: skip
    comparison |= {"test": "checkout", "base_labels": {"variant": "baseline"}, "run_labels": {"variant": "slow"}}
    points = [
        trend_point("0b5e11e0-0000-4000-8000-000000000000", {"git_sha": "1111111aaaa"}, p95=31.0, baseline=False),
        trend_point(BASE_ID, {"variant": "baseline", "git_sha": "2222222bbbb"}, p95=29.0, baseline=True),
        trend_point(document["id"], {"variant": "slow", "git_sha": "3333333cccc"}, p95=58.5, baseline=False),
    ]
    test = {"id": 7, "name": "checkout", "project": "Shop"}
    return {**document, "test": {**test, "baseline_id": BASE_ID, "is_baseline": False}, "labels": {"variant": "slow"},
            "comparison": comparison, "test_trend": {"test": test, "baseline_id": BASE_ID, "points": points}}  # fmt: skip


def trend_point(run_id: str, labels: dict[str, str], p95: float, baseline: bool) -> dict[str, Any]:
    return {"run_id": run_id, "created_at": "2026-01-01T10:00:00+00:00", "labels": labels, "baseline": baseline, "grade": "A",
            "verdict": "passed", "p95": p95, "p99": p95 + 1, "rps": 100.0, "error_rate": 0.02, "score": 97.5}  # fmt: skip


def finding(document: dict[str, Any]) -> str:
    count = len(document["comparison"]["regressions"])
    return f"{'A regression' if count == 1 else f'{count} regressions'} against the baseline (run 0b5e11e0 of test “checkout”):"


@pytest.fixture
def slower_run(result_document: Build) -> dict[str, Any]:
    document = compared(result_document("passed"))
    p95 = document["comparison"]["metrics"]["p95"]
    assert p95["regression"] and p95["significant"] and p95["method"] == MWU_LATENCY  # the engine's verdict
    return document


def test_html_shows_the_comparison_and_the_last_runs_after_an_unchanged_verdict(
    slower_run: dict[str, Any], tmp_path: Path
) -> None:
    text = html_text(slower_run, tmp_path)
    p95 = slower_run["comparison"]["metrics"]["p95"]
    assert text.startswith("Passed All 3 SLA criteria met")  # the verdict stays first, and as it was
    assert text.index("Passed") < text.index(finding(slower_run)) < text.index("Executive summary")
    row = f"p95 {p95['base']:.1f} ms {p95['run']:.1f} ms +{p95['delta']:.1f} ms {p95['delta_pct']:+.1f} % yes (p = {p95['p_value']:.3g}) {MWU_LATENCY} REGRESSION"
    assert "Compared with the baseline Compared with run 0b5e11e0 (variant=baseline)" in text and row in text
    assert "error_rate 2.00 % 2.00 % ±0.00 pp +0.0 % no (p = 1) Fisher's exact test on the counts no" in text
    for regression in slower_run["comparison"]["regressions"]:
        assert regression in text
    assert (
        "threshold http_req_duration p(95)<50 passed FAILED" in text and "check ::cart::status is 200 all passing FAILING" in text
    )
    assert "Last 3 runs of test “checkout”" in text
    assert "Marked: baseline (2) · this run (3)." in text  # on the charts of the last runs, drawn as the run's are
    assert (
        "2 0b5e11e0 (baseline) 2026-01-01 10:00 variant=baseline, git_sha=2222222bbbb 29.0 ms 30.0 ms 100 2.00 % 97.5 passed"
        in text
    )
    assert f"3 {slower_run['id'][:8]} (this run)" in text


def test_pdf_shows_the_comparison_and_the_last_runs_with_the_verdict_on_its_cover(
    slower_run: dict[str, Any], tmp_path: Path
) -> None:
    pages = pdf_pages(slower_run, tmp_path)
    cover, text = pages[0], " ".join(pages)
    assert "Passed" in cover and finding(slower_run) in cover
    assert cover.index("Passed") < cover.index(finding(slower_run))
    assert "Compared with the baseline" in text and "REGRESSION" in text and "Fisher's exact test on the counts" in text
    assert slower_run["comparison"]["regressions"][0] in text
    assert "Thresholds and checks that changed state" in text and "check ::cart::status is 200" in text
    assert "Last 3 runs of test “checkout”" in text and "0b5e11e0 (baseline)" in text
    assert "p95 and p99 latency" in text  # the chart's title (its runs' names, variant and SHA, are in the image)


def test_a_run_without_a_baseline_or_other_runs_shows_neither_section(result_document: Build, tmp_path: Path) -> None:
    alone = result_document("passed") | {"comparison": None, "test_trend": {"test": {"name": "checkout"}, "points": [
        trend_point("0b5e11e0-0000-4000-8000-000000000009", {}, p95=30.0, baseline=False)]}}  # fmt: skip
    for text in (html_text(alone, tmp_path), " ".join(pdf_pages(alone, tmp_path))):
        assert "baseline" not in text and "Last 1 runs" not in text and "of test" not in text


def test_junit_has_a_case_per_compared_metric_failing_on_a_regression(slower_run: dict[str, Any]) -> None:
    root = etree.fromstring(junit_export(slower_run))
    SCHEMA.assertValid(root)
    suite = root.find("testsuite[@name='Comparison with the baseline (checkout)']")
    assert suite is not None
    metrics = slower_run["comparison"]["metrics"]
    assert [case.get("name") for case in suite.findall("testcase")] == list(metrics)
    assert {case.get("classname") for case in suite.findall("testcase")} == {"k6intel.comparison"}
    failing: dict[str | None, Any] = {
        case.get("name"): case.find("failure") for case in suite.findall("testcase") if case.find("failure") is not None
    }
    assert set(failing) == {name for name, delta in metrics.items() if delta["regression"]} and "p95" in failing
    p95 = metrics["p95"]
    assert failing["p95"].get("message") == (
        f"p95 regressed against the baseline {BASE_ID}: {p95['base']:.1f} ms → {p95['run']:.1f} ms ({p95['delta_pct']:+.1f} %) "
        f"(p = {p95['p_value']:.2g}, {MWU_LATENCY}; tolerance 10.0 %, alpha 0.01)"
    )
    assert (suite.get("tests"), suite.get("failures")) == (str(len(metrics)), str(len(failing)))
    assert root.get("failures") == str(len(failing))  # the verdict passed: the regressions are the only failures


def test_junit_of_a_run_not_compared_has_no_comparison_suite(result_document: Build) -> None:
    root = etree.fromstring(junit_export(result_document("passed") | {"comparison": None}))
    assert [suite.get("name") for suite in root.findall("testsuite")] == ["Verdict", "SLA (Shop)", "k6 thresholds"]
