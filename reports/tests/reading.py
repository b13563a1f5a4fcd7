"""The reports as a person reads them: the text of the HTML page's body and of each PDF page."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from pypdf import PdfReader

from reports.html import render_html
from reports.pdf import render_pdf


def html_text(document: dict[str, Any], tmp_path: Path) -> str:
    """The body without markup or the chart script, whitespace collapsed."""
    return page_text(render_html(document, tmp_path))


def page_text(page: str) -> str:
    """A page's body as a person reads it: no markup, scripts or styles, whitespace collapsed."""
    body = re.split(r"<body\b[^>]*>", page, maxsplit=1)[-1]
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def pdf_pages(document: dict[str, Any], tmp_path: Path) -> list[str]:
    path = tmp_path / "report.pdf"
    render_pdf(document, path, tmp_path)
    return [" ".join(page.extract_text().split()) for page in PdfReader(path).pages]


def plotted(figure: Figure) -> dict[str, tuple[list[float], list[float]]]:
    """What a PDF chart plots: each series by its legend label, as its x and y values (gaps as nan)."""
    lines = [line for axes in figure.axes for line in axes.get_lines() if not str(line.get_label()).startswith("_")]
    return {
        str(line.get_label()): (np.asarray(line.get_xdata()).tolist(), np.asarray(line.get_ydata()).tolist()) for line in lines
    }
