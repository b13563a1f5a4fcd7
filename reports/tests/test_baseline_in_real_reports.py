"""The report files of real runs of one test, with real k6 against targets of known latency: a variant at
30–60 ms after a baseline at 10–30 ms is a p95 regression in the PDF, the HTML and JUnit; the same
configuration as the baseline is not; the last runs are those whoever started the run can see."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from pypdf import PdfReader

from reports.render import report_path
from runs.api.serializers import BuilderRunSerializer
from runs.loadtests import set_baseline
from runs.models import Run
from runs.pipeline import run_create_from_builder, run_execute
from runs.selectors import run_result

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reports_only(settings: Any, tmp_path: Path) -> None:
    """The report stage alone: the analyzers would only add time to what is compared."""
    settings.RESULT_DIR, settings.RUN_POST_STAGES = tmp_path, ["reports.render.render_run"]


def run_test(url: str, key: Any, variant: str) -> Run:
    data = {"url": url, "vus": 4, "duration": "3s", "project_name": "shop", "test": "checkout",
            "labels": {"variant": variant, "git_sha": f"{variant}-0123456789"}}  # fmt: skip
    serializer = BuilderRunSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    run = run_execute(run_create_from_builder(serializer, api_key=key, meta=serializer.to_meta()).pk)
    assert run.status == Run.Status.DONE, run.error
    return run


def pdf_text(run: Run) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(report_path(run.pk, "pdf")).pages)


def html_of(run: Run) -> str:
    return report_path(run.pk, "html").read_text()


def comparison_cases(run: Run) -> dict[str | None, Any]:
    root = etree.parse(str(report_path(run.pk, "junit"))).getroot()
    return {case.get("name"): case for case in root.findall("testsuite/testcase[@classname='k6intel.comparison']")}


def test_a_slower_variant_is_reported_as_a_regression_and_the_same_configuration_is_not(
    reports_only: None, demo_target: Callable[..., Any], keys: dict[str, Any]
) -> None:
    fast, slow = demo_target(latency_min_ms=10, latency_max_ms=30), demo_target(latency_min_ms=30, latency_max_ms=60)
    user = keys["user"][0]
    hidden = run_test(fast.url, keys["other"][0], "other-key")  # same test, another key's run: not in the user's reports
    baseline = run_test(fast.url, user, "baseline")
    set_baseline(baseline)
    slower = run_test(slow.url, user, "slow")
    again = run_test(fast.url, user, "again")

    # The baseline itself was compared with nothing and was its test's only visible run: neither section.
    for text in (pdf_text(baseline), html_of(baseline)):
        assert "Compared with the baseline" not in text and "runs of test" not in text
    assert comparison_cases(baseline) == {}

    p95 = slower.comparison["metrics"]["p95"]
    assert p95["regression"] and p95["base"] < 45 < 55 < p95["run"]  # the targets sleep 10–30 and 30–60 ms; the rest is overhead
    text = pdf_text(slower)
    count = len(slower.comparison["regressions"])
    regressions = "A regression" if count == 1 else f"{count} regressions"
    assert f"{regressions} against the baseline (run {str(baseline.pk)[:8]} of test “checkout”):" in text
    assert "Compared with the baseline" in text and f"p = {p95['p_value']:.3g}" in text and "REGRESSION" in text
    assert "Last 2 runs of test “checkout”" in text and f"{str(baseline.pk)[:8]} (baseline)" in text
    assert "variant=slow, git_sha=slow-0123456" in text and str(hidden.pk)[:8] not in text
    assert run_result(slower)["verdict"]["headline"] in text.split("Executive summary")[0]  # the verdict is still on the cover
    html = html_of(slower)
    assert 'id="comparison"' in html and 'id="test-trend"' in html and "Last 2 runs of test “checkout”" in html
    failure = comparison_cases(slower)["p95"].find("failure")
    assert failure is not None and f"({p95['delta_pct']:+.1f} %)" in failure.get("message")

    text = pdf_text(again)
    assert f"No regression against the baseline (run {str(baseline.pk)[:8]} of test “checkout”)." in text
    assert "Last 3 runs of test “checkout”" in text and str(hidden.pk)[:8] not in text
    cases = comparison_cases(again)
    assert set(cases) >= {"p50", "p90", "p95", "p99", "rps", "error_rate"} and not [c for c in cases.values() if len(c)]
