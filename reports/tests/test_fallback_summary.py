"""The summary written without the AI agrees with the verdict: no grade for a run not graded, no all-clear for a failed one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reports.fallback import sections_from_insights

Build = Callable[[str], dict[str, Any]]


def test_a_run_not_graded_is_summarised_without_a_grade(result_document: Build) -> None:
    document = result_document("not_graded")
    summary = sections_from_insights(None, document["metrics"], [], document["verdict"])["executive_summary"]
    assert summary.startswith("The run was not graded: 500 requests at 100.0/s, 2.00 % failed, p95 40 ms.")
    assert "The run was cancelled after 2.4 s" in summary
    assert "grade" not in summary.replace("not graded", "") and "Excellent" not in summary
    without_verdict = sections_from_insights(None, document["metrics"], [])["executive_summary"]
    assert without_verdict.startswith("The run was not graded:")


def test_a_failed_verdict_is_never_summarised_as_an_all_clear(result_document: Build) -> None:
    document = result_document("failed")
    # test.fail() in a script fails the verdict even when every criterion is met and the grade is an A.
    verdict = {"status": "failed", "headline": "Failed", "reasons": ["The script marked the test as failed with test.fail()."]}
    sections = sections_from_insights("A", document["metrics"], [], verdict)
    summary = sections["executive_summary"]
    assert summary.startswith("The run failed (grade A):") and "test.fail()" in summary
    assert "No rule found a problem" not in summary
    assert sections["risk_assessment"]["level"] == "high"


def test_a_passed_run_keeps_its_grade_and_risk(result_document: Build) -> None:
    document = result_document("passed")
    sections = sections_from_insights("A", document["metrics"], [], document["verdict"])
    assert sections["executive_summary"].startswith("The run passed (grade A): 500 requests")
    assert "No rule found a problem worth acting on." in sections["executive_summary"]
    assert sections["risk_assessment"]["level"] == "low"
