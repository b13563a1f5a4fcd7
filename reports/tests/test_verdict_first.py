"""Both reports open with the verdict and its reasons; a run that is not graded shows no grade, score or label."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from reports.html import render_html
from reports.tests.reading import html_text, pdf_pages

Build = Callable[[str], dict[str, Any]]


def test_html_opens_with_a_failed_verdict_and_every_reason_before_the_scorecard(result_document: Build, tmp_path: Path) -> None:
    document = result_document("failed")
    text = html_text(document, tmp_path)
    reasons = document["verdict"]["reasons"]
    assert len(reasons) == 3 and "k6 threshold failed" in reasons[-1]
    assert text.index("Failed") < text.index("Load test report") < text.index("SLA scorecard")
    for reason in reasons:
        assert text.index(reason) < text.index("SLA scorecard"), reason
    assert 'class="verdict verdict-failed"' in render_html(document, tmp_path)


def test_html_of_a_run_not_graded_has_no_grade_badge_score_or_label(result_document: Build, tmp_path: Path) -> None:
    document = result_document("not_graded")
    page = render_html(document, tmp_path)
    text = html_text(document, tmp_path)
    assert text.startswith("Not graded The run was cancelled after 2.4 s of 5 s planned")
    assert 'class="badge' not in page and "Excellent" not in page and "Score" not in text
    # What was measured is still shown, without points that would add up to a score.
    assert "scored with it 98.00 % >= 95.00 % yes –" in text


def test_html_of_a_passed_run_shows_the_grade_after_the_verdict(result_document: Build, tmp_path: Path) -> None:
    text = html_text(result_document("passed"), tmp_path)
    assert text.startswith("Passed All 3 SLA criteria met")
    assert text.index("Passed") < text.index("Score 100.0 / 100 — grade A (Excellent)")


def test_pdf_first_page_carries_the_verdict_headline_and_reasons(result_document: Build, tmp_path: Path) -> None:
    document = result_document("failed")
    first = pdf_pages(document, tmp_path)[0]
    assert "Failed" in first and "Score 59.0 / 100 — grade F (Fail)" in first
    for reason in document["verdict"]["reasons"]:
        assert reason in first, reason
    assert first.index("Failed") < first.index("Score")


def test_pdf_of_a_run_not_graded_names_no_grade_anywhere(result_document: Build, tmp_path: Path) -> None:
    document = result_document("not_graded")
    pages = pdf_pages(document, tmp_path)
    assert "Not graded" in pages[0] and document["verdict"]["reasons"][0] in pages[0]
    text = " ".join(pages)
    assert "Score" not in text and "Excellent" not in text and "grade A" not in text
