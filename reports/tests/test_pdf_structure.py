"""The PDF's structure: a cover, a one-page executive summary a manager can read alone, a table of contents with
page numbers, then the detail; long names wrap in their cells."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reports.html import render_html
from reports.tests.reading import pdf_pages

Build = Callable[[str], dict[str, Any]]


def test_the_executive_summary_is_one_page_with_verdict_key_numbers_and_top_findings(
    result_document: Build, tmp_path: Path
) -> None:
    document = result_document("failed")
    document["insights"] = [
        {
            "id": f"rule{n}",
            "severity": "warning",
            "title": f"Finding number {n}",
            "recommendation": "Do something.",
            "evidence": {},
        }
        for n in range(5)
    ]
    cover, summary, contents, *detail = pdf_pages(document, tmp_path)
    assert cover.index("Load test report") < cover.index(document["verdict"]["headline"])
    assert "Executive summary Failed" in summary
    assert (
        "Requests 500 Requests per second 100.0 Failed requests 20.00 % Latency p50 / p95 / p99 18.0 ms / 40.0 ms / 80.0 ms"
        in summary
    )
    assert "Score 59.0 / 100 — grade F (Fail)" in summary
    shown = re.findall(r"Finding number (\d)", summary)
    assert shown == ["0", "1", "2"]  # the three most severe
    assert f"Page 2 of {3 + len(detail)}" in summary and "SLA scorecard" not in summary


def test_the_contents_list_every_section_with_the_page_it_starts_on(result_document: Build, tmp_path: Path) -> None:
    pages = pdf_pages(result_document("passed"), tmp_path)
    contents = pages[2]
    assert "Contents" in contents
    for section in ("SLA scorecard", "Key metrics", "Charts", "Endpoints", "Insights", "Appendix: script and run configuration"):
        found = re.search(rf"(\d+) {re.escape(section)}", contents)  # a page number is read before its title
        assert found is not None, section
        number = int(found.group(1))
        assert section in pages[number - 1] and f"Page {number} of {len(pages)}" in pages[number - 1], section


def test_a_long_endpoint_name_wraps_in_its_cell_instead_of_being_clipped(result_document: Build, tmp_path: Path) -> None:
    document = result_document("passed")
    name = "http://127.0.0.1:8000/api/" + "/".join(f"segment-{n}" for n in range(12))
    document["endpoints"][0]["name"] = name
    text = " ".join(pdf_pages(document, tmp_path))
    assert "segment-11" in text.replace(" ", "")


def test_the_pdf_and_the_html_report_give_their_sections_in_the_same_order(result_document: Build, tmp_path: Path) -> None:
    document = result_document("failed")
    html_headings = re.findall(r"<h2>([^<]+)</h2>", render_html(document, tmp_path))
    contents = pdf_pages(document, tmp_path)[2]
    pdf_headings = [title for _page, title in re.findall(r"(\d+) ([A-Z][^\d]+?)(?= \d+ |$)", contents)]
    shared = [heading for heading in html_headings if heading in pdf_headings]
    assert {"Failures", "Charts", "Endpoints", "Insights"} <= set(shared)
    assert shared == [heading for heading in pdf_headings if heading in shared]
