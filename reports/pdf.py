"""The PDF report (ReportLab), built from the result document the API returns, so the numbers match."""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch, mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Image,
    KeepInFrame,
    KeepTogether,
    PageBreak,
    Paragraph,
    Preformatted,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.tableofcontents import TableOfContents

from reports import history
from reports.charts import FIGURE_INCHES, RUNS_FIGURE_INCHES, chart_png, stage_list
from reports.html import (
    CHECKS_HEADER,
    CUSTOM_HEADER,
    FAILURES_HEADER,
    SCENARIO_HEADER,
    SCENARIO_NOTE,
    SCENARIO_THRESHOLDS_HEADER,
    SCORECARD_HEADER,
    TIMINGS_HEADER,
    check_rows,
    custom_metric_rows,
    delivery_rows,
    failure_rows,
    key_number_rows,
    scenario_rows,
    scenario_threshold_rows,
    score_line,
    scorecard_rows,
    timing_rows,
    top_insights,
    verdict_shown,
)
from runs.engine.charts import run_charts
from runs.engine.formatting import evidence_text, percent, segments_text, throttling_text

FONT_DIR = Path(settings.BASE_DIR) / "static" / "fonts"
GRADE_COLOURS = {"A": "#2e7d32", "B": "#689f38", "C": "#f9a825", "F": "#c62828"}
VERDICT_COLOURS = {"passed": "#2e7d32", "failed": "#c62828"}  # not graded and pending are grey
FINDING_COLOURS = {True: "#fff3e0", False: "#f1f8e9"}  # a regression against the baseline, or none: not the verdict's colours
REGRESSION_ROW = "#fdecea"
SCRIPT_LINES = 250
MARGIN_X = 16 * mm
PAGE_WIDTH, PAGE_HEIGHT = A4[0] - 2 * MARGIN_X, A4[1] - 40 * mm  # the frame's, for the one-page summary
BRIEF_CHARS = 260  # a finding's recommendation on the executive summary
SUMMARY_CHARS = 1400  # the analysis' summary there
Flowables = list[Any]
MAX_CELL_CHARS = 300  # characters of script-controlled text in one table cell


def _register_fonts() -> None:
    # DejaVu (bundled, see static/fonts/LICENSE-DejaVu.txt) covers accents, CJK-free scripts, arrows and ≤ ≥.
    if "DejaVuSans" in pdfmetrics.getRegisteredFontNames():
        return
    pdfmetrics.registerFont(TTFont("DejaVuSans", FONT_DIR / "DejaVuSans.ttf"))
    pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdfmetrics.registerFont(TTFont("DejaVuSansMono", FONT_DIR / "DejaVuSansMono.ttf"))
    pdfmetrics.registerFontFamily("DejaVuSans", normal="DejaVuSans", bold="DejaVuSans-Bold")


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName="DejaVuSans", fontSize=9, leading=12)
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5),
        "h1": ParagraphStyle(
            "h1", parent=body, fontName="DejaVuSans-Bold", fontSize=15, leading=19, spaceBefore=10, spaceAfter=6
        ),
        "h2": ParagraphStyle("h2", parent=body, fontName="DejaVuSans-Bold", fontSize=11, leading=14, spaceBefore=8, spaceAfter=4),
        "title": ParagraphStyle("title", parent=body, fontName="DejaVuSans-Bold", fontSize=26, leading=32, alignment=TA_CENTER),
        "center": ParagraphStyle("center", parent=body, alignment=TA_CENTER, fontSize=11, leading=15),
        "mono": ParagraphStyle("mono", parent=body, fontName="DejaVuSansMono", fontSize=7, leading=8.5),
    }


def render_pdf(document: dict[str, Any], path: Path, result_dir: Path) -> None:
    _register_fonts()
    styles = _styles()
    story: Flowables = []
    for section in SECTIONS:
        story += section(document, styles, result_dir)
    pdf = ReportDocument(
        str(path), pagesize=A4, leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=18 * mm, bottomMargin=16 * mm,
        title=f"k6intel report — {document['project']}", author="k6intel",
    )  # fmt: skip
    decorate = _page_decorator(document)
    pdf.multiBuild(story, onFirstPage=decorate, onLaterPages=decorate, canvasmaker=NumberedCanvas)


class NumberedCanvas(Canvas):
    """Holds every page until the end, so that each can say which of how many it is."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held_pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._held_pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]  # what Canvas.showPage does after writing a page

    def save(self) -> None:
        total = len(self._held_pages)
        for number, page in enumerate(self._held_pages, start=1):
            self.__dict__.update(page)
            self.setFont("DejaVuSans", 7.5)
            self.setFillColor(colors.grey)
            self.drawRightString(A4[0] - 16 * mm, 8 * mm, f"Page {number} of {total}")
            super().showPage()
        super().save()


class ReportDocument(SimpleDocTemplate):
    """Each section's heading after the executive summary goes into the table of contents, with a PDF bookmark."""

    def afterFlowable(self, flowable: Any) -> None:
        if not (isinstance(flowable, Paragraph) and flowable.style.name == "h1"):
            return
        text = flowable.getPlainText()
        if text in ("Executive summary", "Contents"):
            return
        key = f"section-{self.page}-{text}"  # one heading of a name per page
        self.canv.bookmarkPage(key)
        self.canv.addOutlineEntry(text, key, level=0)
        self.notify("TOCEntry", (0, html.escape(text), self.page, key))


def _page_decorator(document: dict[str, Any]) -> Callable[[Any, Any], None]:
    def decorate(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("DejaVuSans", 7.5)
        canvas.setFillColor(colors.grey)
        width, height = A4
        canvas.drawString(
            16 * mm, height - 10 * mm, f"k6intel · {document['project']} · {document['target_url'] or 'script'}"[:110]
        )
        canvas.drawRightString(width - 16 * mm, height - 10 * mm, f"run {document['id']}")
        canvas.drawString(16 * mm, 8 * mm, f"Generated {document.get('finished_at') or ''}"[:60])
        canvas.restoreState()

    return decorate


# --- helpers ----------------------------------------------------------------------


def _p(text: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(html.escape(str(text)), style)


def _table(rows: list[list[Any]], styles: dict[str, ParagraphStyle], widths: list[float] | None = None) -> Table:
    cells = [[_p(_cell_text(cell), styles["small"]) for cell in row] for row in rows]
    table = Table(cells, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eceff1")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0bec5")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))  # fmt: skip
    return table


def _cell_text(value: Any) -> str:
    """Script-controlled text (names, URLs, tags) is capped: a cell taller than a page cannot be laid out at all."""
    text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _skipped(result: dict[str, Any] | None, styles: dict[str, ParagraphStyle]) -> Flowables | None:
    """A skipped or failed analyzer still gets its section, saying why."""
    if not result:
        return [_p("This analyzer did not run for this run.", styles["body"])]
    if result.get("status") != "ok":
        return [
            _p(f"{result.get('status', '').capitalize()}: {result.get('summary') or result.get('error') or ''}", styles["body"])
        ]
    return None


# --- sections ---------------------------------------------------------------------


def cover(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    """The verdict first; the grade only when the run was graded, so the two never disagree."""
    flow: Flowables = [
        Spacer(1, 25 * mm),
        _p("Load test report", styles["title"]),
        Spacer(1, 6 * mm),
        _p(doc["project"], styles["center"]),
        _p(doc["target_url"] or "k6 script", styles["center"]),
        _p(f"Run {doc['id']} · {doc['status']} · finished {doc.get('finished_at') or '–'}", styles["center"]),
        Spacer(1, 10 * mm),
        _verdict_banner(verdict_shown(doc), styles),
    ]
    if line := score_line(doc):
        flow += [Spacer(1, 8 * mm), _grade_badge(doc["grade"], styles), Spacer(1, 4 * mm), _p(line, styles["center"])]
    if finding := history.regression_finding(history.comparison_shown(doc)):
        flow += [Spacer(1, 8 * mm), _finding_box(finding, styles)]
    return flow + [PageBreak()]


def _finding_box(finding: dict[str, Any], styles: dict[str, ParagraphStyle]) -> Table:
    """Regressions against the baseline: a finding beside the verdict, in colours of its own."""
    rows = [[_p(finding["headline"], styles["h2"])]] + [[_p(f"• {item}", styles["body"])] for item in finding["items"]]
    box = Table(rows, colWidths=[150 * mm])
    box.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(FINDING_COLOURS[finding["regressed"]])),
        ("BOX", (0, 0), (-1, -1), 0.5, colors.HexColor("#b0bec5")),
        ("LEFTPADDING", (0, 0), (-1, -1), 8), ("RIGHTPADDING", (0, 0), (-1, -1), 8),
    ]))  # fmt: skip
    return box


def _verdict_banner(verdict: dict[str, Any], styles: dict[str, ParagraphStyle]) -> Table:
    on_colour = ParagraphStyle("verdict", parent=styles["body"], textColor=colors.white, fontSize=10, leading=13)
    headline = ParagraphStyle("verdict_headline", parent=styles["title"], textColor=colors.white)
    rows = [[_p(verdict["headline"], headline)]] + [[_p(f"• {reason}", on_colour)] for reason in verdict["reasons"]]
    banner = Table(rows, colWidths=[150 * mm])
    banner.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(VERDICT_COLOURS.get(verdict["status"], "#616e7c"))),
        ("LEFTPADDING", (0, 0), (-1, -1), 8), ("RIGHTPADDING", (0, 0), (-1, -1), 8),
        ("TOPPADDING", (0, 0), (0, 0), 8), ("BOTTOMPADDING", (0, -1), (-1, -1), 8),
    ]))  # fmt: skip
    return banner


def _grade_badge(grade: str, styles: dict[str, ParagraphStyle]) -> Table:
    badge = Table([[_p(grade, ParagraphStyle("badge", parent=styles["title"], fontSize=54, leading=60, textColor=colors.white))]],
                  colWidths=[45 * mm], rowHeights=[40 * mm])  # fmt: skip
    badge.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(GRADE_COLOURS.get(grade, "#607d8b"))),
                               ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))  # fmt: skip
    return badge


def executive_summary(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    """One page a manager can read alone: the verdict and grade, the key numbers, the top findings, the comparison
    with the baseline and the analysis' summary."""
    verdict, analysis = verdict_shown(doc), doc.get("analysis") or {}
    flow: Flowables = [_p("Executive summary", styles["h1"]), _p(verdict["headline"], styles["h2"])]
    flow += [_p(f"• {reason}", styles["body"]) for reason in verdict["reasons"]]
    if line := score_line(doc):
        flow.append(_p(line, styles["body"]))
    flow += [_p("Key numbers", styles["h2"]), _table([["Measure", "Value"], *key_number_rows(doc)], styles, [60 * mm, 60 * mm])]
    if found := top_insights(doc):
        flow.append(_p("Top findings", styles["h2"]))
        flow += [_p(f"[{i['severity']}] {i['title']} — {_brief(i['recommendation'])}", styles["body"]) for i in found]
    if finding := history.regression_finding(history.comparison_shown(doc)):
        flow += [_p("Compared with the baseline", styles["h2"]), _finding_box(finding, styles)]
    source = "AI analysis" if analysis.get("source") == "ai" else "Written from the rule-based insights (no AI analysis)"
    flow += [_p("Summary", styles["h2"]), _p(source, styles["small"])]
    flow.append(
        _p(_brief(analysis.get("executive_summary") or "No analysis was produced for this run.", SUMMARY_CHARS), styles["body"])
    )
    if doc.get("error"):
        flow.append(_p(f"Note: {_brief(doc['error'])}", styles["body"]))
    return [KeepInFrame(PAGE_WIDTH, PAGE_HEIGHT, flow, mode="shrink"), PageBreak(), *contents(styles)]


def _brief(text: str, limit: int = BRIEF_CHARS) -> str:
    """Long text cut to fit the one-page summary; the whole of it is in the detail."""
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


def contents(styles: dict[str, ParagraphStyle]) -> Flowables:
    toc = TableOfContents()
    toc.levelStyles = [ParagraphStyle("toc0", parent=styles["body"], fontSize=10, leading=15, leftIndent=0, firstLineIndent=0)]
    return [_p("Contents", styles["h1"]), toc, PageBreak()]


def scorecard(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    sla = doc.get("sla") or {}
    rows = [SCORECARD_HEADER] + [
        [
            f"{c['label']} — {c['note']}" if c["note"] else c["label"],
            c["value"],
            c["limit"],
            "yes" if c["met"] else "NO",
            c["points"],
        ]
        for c in scorecard_rows(sla)
    ]
    flow: Flowables = [_p("SLA scorecard", styles["h1"])]
    flow.append(_table(rows, styles, [92 * mm, 26 * mm, 26 * mm, 12 * mm, 22 * mm]) if len(rows) > 1
                else _p("; ".join(sla.get("reasons", [])) or "Not scored.", styles["body"]))  # fmt: skip
    if line := score_line(doc):
        flow.append(_p(line, styles["body"]))
    return flow


def load_delivered(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    rows = delivery_rows(doc.get("delivery") or {})
    if not rows:
        return []
    return [_p("Load delivered", styles["h1"]), _table(rows, styles, [40 * mm, 138 * mm])]


def key_metrics(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    m = doc.get("metrics") or {}
    reqs, failed, dur = m.get("http_reqs", {}), m.get("http_req_failed", {}), m.get("http_req_duration", {})
    rows = [
        ["Metric", "Value"],
        ["Requests", f"{_num(reqs.get('count'))} ({_num(reqs.get('rate'))}/s)"],
        ["Failed requests", percent(failed.get("rate") or 0.0)],
        ["Latency avg / min / med", f"{_num(dur.get('avg'))} / {_num(dur.get('min'))} / {_num(dur.get('med'))} ms"],
        ["Latency p90 / p95 / p99", f"{_num(dur.get('p90'))} / {_num(dur.get('p95'))} / {_num(dur.get('p99'))} ms"],
        ["Latency max", f"{_num(dur.get('max'))} ms"],
        ["Checks passed", percent(m["checks"]["rate"]) if "checks" in m else "no checks"],
        ["Iterations", _num(m.get("iterations", {}).get("count"))],
        ["VUs max", _num(m.get("vus_max", {}).get("max"))],
        [
            "Data received / sent",
            f"{_num(m.get('data_received', {}).get('count'))} / {_num(m.get('data_sent', {}).get('count'))} bytes",
        ],
        ["k6 exit", f"{doc['k6']['exit_code']} — {doc['k6']['exit_reason']}"],
        *([["k6 processes", split]] if (split := segments_text(doc)) else []),
    ]
    return [_p("Key metrics", styles["h1"]), _table(rows, styles, [60 * mm, 110 * mm])]


def baseline_comparison(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    comparison = history.comparison_shown(doc)
    finding = history.regression_finding(comparison)
    if comparison is None or finding is None:
        return []
    rows = history.comparison_rows(comparison)
    widths = [27 * mm, 17 * mm, 17 * mm, 17 * mm, 15 * mm, 23 * mm, 41 * mm, 21 * mm]
    table = _table([history.COMPARISON_HEADER, *(row["cells"] for row in rows)], styles, widths)
    table.setStyle(TableStyle([("BACKGROUND", (0, line), (-1, line), colors.HexColor(REGRESSION_ROW))
                               for line, row in enumerate(rows, start=1) if row["regression"]]))  # fmt: skip
    flow: Flowables = [
        _p("Compared with the baseline", styles["h1"]),
        _p(history.comparison_intro(doc, comparison), styles["body"]),
        Spacer(1, 2 * mm),
        table,
        _p(finding["headline"], styles["h2"]),
        *(_p(f"• {item}", styles["body"]) for item in finding["items"]),
    ]
    if changes := history.state_change_rows(comparison):
        flow += [_p("Thresholds and checks that changed state", styles["h2"]),
                 _table([history.STATE_CHANGES_HEADER, *changes], styles, [118 * mm, 30 * mm, 30 * mm])]  # fmt: skip
    return flow


def last_runs(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    trend = history.trend_shown(doc)
    if trend is None:
        return []
    spec = history.trend_chart_spec(trend, doc["id"])
    cells = [[_p(chart["title"], styles["h2"]), _chart_image(spec, chart, RUNS_FIGURE_INCHES)] for chart in spec["charts"]]
    grid = Table([cells[0:2], cells[2:4]], colWidths=[89 * mm, 89 * mm], hAlign="LEFT")
    widths = [8 * mm, 25 * mm, 22 * mm, 35 * mm, 15 * mm, 15 * mm, 13 * mm, 14 * mm, 12 * mm, 19 * mm]
    return [
        KeepTogether([_p(history.trend_title(trend), styles["h1"]), grid]),
        _table([history.TREND_HEADER, *history.trend_rows(trend, doc["id"])], styles, widths),
    ]


def failures(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    found = doc.get("failures") or {}
    if not found.get("total"):
        return []
    widths = [16 * mm, 16 * mm, 45 * mm, 51 * mm, 50 * mm]
    flow: Flowables = [
        _p("Failures", styles["h1"]),
        _p(f"{found['total']:,} failed requests, by reason.", styles["body"]),
        _table([FAILURES_HEADER, *failure_rows(found)], styles, widths),
    ]
    return flow


def charts(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    """The run's charts from the specs every surface draws (runs/engine/charts.py), at print resolution; the limits
    that fall outside a chart's data are stated under it."""
    spec = run_charts(doc)
    if not spec["charts"]:
        return [_p("Charts", styles["h1"]), _p("No time series: the run produced no samples.", styles["body"])]
    flow: Flowables = [_p("Charts", styles["h1"])]
    if stages := stage_list(spec):
        flow.append(_p(stages, styles["small"]))
    for chart in spec["charts"]:
        notes = [_p(chart["note"], styles["small"])] if chart.get("note") else []
        notes += [_p(r["note"], styles["small"]) for r in chart["references"] if not r["drawn"]]
        flow.append(KeepTogether([_p(chart["title"], styles["h2"]), _chart_image(spec, chart), *notes]))
    return flow + [_p(note, styles["small"]) for note in spec["notes"]]


def _chart_image(spec: dict[str, Any], chart: dict[str, Any], inches: tuple[float, float] = FIGURE_INCHES) -> Image:
    width, height = inches
    return Image(io.BytesIO(chart_png(spec, chart, inches)), width=width * inch, height=height * inch)


def scenarios(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    shown = doc.get("scenarios") or []
    rows = scenario_rows(shown)
    if not rows:
        return []
    widths = [38 * mm, 34 * mm, 17 * mm, 14 * mm, 16 * mm, 16 * mm, 19 * mm, 16 * mm]
    flow: Flowables = [_p("Scenarios", styles["h1"]), _table([SCENARIO_HEADER, *rows], styles, widths)]
    flow.append(_p(SCENARIO_NOTE, styles["small"]))
    if thresholds := scenario_threshold_rows(shown):
        widths = [38 * mm, 110 * mm, 22 * mm]
        flow += [_p("Thresholds on scenarios", styles["h2"]), _table([SCENARIO_THRESHOLDS_HEADER, *thresholds], styles, widths)]
    return flow


def endpoints(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    rows = [["Endpoint", "Method", "Status", "Count", "Errors", "p50", "p95", "p99"]]
    for e in (doc.get("endpoints") or [])[:25]:
        rows.append([e["name"], e["method"], e["status"], _num(e["count"]), percent(e["error_rate"]),
                     _num(e["p50_ms"]), _num(e["p95_ms"]), _num(e["p99_ms"])])  # fmt: skip
    widths = [62 * mm, 17 * mm, 14 * mm, 15 * mm, 18 * mm, 14 * mm, 14 * mm, 14 * mm]
    if len(rows) == 1:
        return [_p("Endpoints", styles["h1"]), _p("No requests.", styles["body"])]
    note = (doc.get("k6") or {}).get("collection_note")
    return [_p("Endpoints", styles["h1"]), _table(rows, styles, widths), *([_p(note, styles["small"])] if note else [])]


def request_timings(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    rows = timing_rows(doc.get("timings") or [])
    if not rows:
        return []
    return [_p("Request timing breakdown", styles["h1"]), _table([TIMINGS_HEADER, *rows], styles, [80 * mm, 30 * mm, 30 * mm])]


def custom_metrics(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    rows = custom_metric_rows(doc.get("custom_metrics") or [])
    if not rows:
        return []
    return [_p("Custom metrics", styles["h1"]), _table([CUSTOM_HEADER, *rows], styles, [45 * mm, 16 * mm, 80 * mm, 37 * mm])]


def thresholds_and_checks(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    flow: Flowables = [_p("Thresholds and checks", styles["h1"])]
    thresholds = [["Metric", "Threshold", "Result"]] + [
        [t["metric"], t["expression"], "passed" if t["ok"] else "FAILED"] for t in doc.get("thresholds") or []
    ]
    flow.append(_table(thresholds, styles) if len(thresholds) > 1 else _p("The script defines no thresholds.", styles["body"]))
    flow.append(_p("Checks, by group", styles["h2"]))
    flow.append(
        _check_tree(check_rows(doc), styles) if doc.get("checks") else _p("The script defines no checks.", styles["body"])
    )
    return flow


def _check_tree(rows: list[dict[str, Any]], styles: dict[str, ParagraphStyle]) -> Table:
    """Checks under their groups, each level indented; a group's row counts everything in it."""
    table = _table([CHECKS_HEADER, *(row["cells"] for row in rows)], styles, [110 * mm, 22 * mm, 22 * mm, 24 * mm])
    indents = [("LEFTPADDING", (0, line), (0, line), 3 + 12 * row["depth"]) for line, row in enumerate(rows, start=1)]
    groups = [("BACKGROUND", (0, line), (-1, line), colors.HexColor("#f5f7f9")) for line, row in enumerate(rows, start=1)
              if row["kind"] == "group"]  # fmt: skip
    table.setStyle(TableStyle(indents + groups))
    return table


def insights(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    flow: Flowables = [_p("Insights", styles["h1"])]
    for insight in doc.get("insights") or []:
        flow.append(_p(f"[{insight['severity']}] {insight['title']}", styles["h2"]))
        flow.append(_p(f"Evidence: {evidence_text(insight['evidence'])}", styles["small"]))
        flow.append(_p(insight["recommendation"], styles["body"]))
    if len(flow) == 1:
        flow.append(_p("No rule found anything worth acting on.", styles["body"]))
    return flow


def ai_analysis(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    analysis = doc.get("analysis") or {}
    ai = doc.get("ai") or {}
    label = "AI analysis" if analysis.get("source") == "ai" else f"Analysis from the insights (AI: {ai.get('status', 'not run')})"
    risk = analysis.get("risk_assessment") or {}
    flow: Flowables = [_p(label, styles["h1"]), _p("Risk assessment", styles["h2"]),
                       _p(f"Level: {risk.get('level', '–')}", styles["body"])]  # fmt: skip
    flow += [_p(f"• {item}", styles["body"]) for item in risk.get("items", [])]
    flow.append(_p("Optimization guidance", styles["h2"]))
    flow += [
        _p(f"{g['priority']}. {g['action']} — {g['impact']}", styles["body"]) for g in analysis.get("optimization_guidance", [])
    ]
    flow.append(_p("Bottlenecks", styles["h2"]))
    flow += [_p(f"• {b}", styles["body"]) for b in analysis.get("bottlenecks", [])] or [_p("None identified.", styles["body"])]
    flow += [_p("Scaling advice", styles["h2"]), _p(analysis.get("scaling_advice", "–"), styles["body"])]
    flow.append(_p("Security notes", styles["h2"]))
    flow += [_p(f"• {n}", styles["body"]) for n in analysis.get("security_notes", [])] or [_p("None.", styles["body"])]
    if ai.get("status") == "ok":
        flow.append(
            _p(f"Model {ai.get('model')}, {ai.get('attempts')} attempt(s), {_num(ai.get('latency_ms'))} ms.", styles["small"])
        )
    return flow


def security_headers(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    result = (doc.get("analyzers") or {}).get("headers")
    flow: Flowables = [_p("Security headers", styles["h1"])]
    if (skip := _skipped(result, styles)) is not None:
        return flow + skip
    assert result is not None
    flow.append(
        _p(
            f"Grade {result['grade']} (score {result['score']}); {result['present']} of {result['total']} key headers present.",
            styles["body"],
        )
    )
    rows = [["Test", "Result", "Modifier", "Recommendation"]] + [
        [t["name"], t["result"], f"{t['modifier']:+d}" if t["scored"] else "info", t["recommendation"] or "–"]
        for t in result["tests"]
    ]
    return flow + [_table(rows, styles, [38 * mm, 55 * mm, 16 * mm, 71 * mm])]


def tls(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    result = (doc.get("analyzers") or {}).get("tls")
    flow: Flowables = [_p("SSL/TLS", styles["h1"])]
    if (skip := _skipped(result, styles)) is not None:
        return flow + skip
    assert result is not None
    sub = result["subscores"]
    flow.append(_p(f"Grade {result['grade']} (score {sub['total']}: protocol {sub['protocol']}, key exchange {sub['key_exchange']}, "
                   f"cipher {sub['cipher']}).", styles["body"]))  # fmt: skip
    flow += [_p(f"Cap {c['grade']}: {c['reason']}", styles["body"]) for c in result["caps"]]
    protocols = ", ".join(name for name, on in result["protocols"].items() if on)
    cert = result["certificate"]
    rows = [["Item", "Value"], ["Protocols", protocols], ["Subject", cert.get("subject")], ["Issuer", cert.get("issuer")],
            ["Valid until", f"{cert.get('not_after')} ({cert.get('days_left')} days)"],
            ["Key", f"{cert.get('key_type')} {cert.get('key_bits')}"], ["Trusted / name match", f"{cert.get('trusted')} / {cert.get('hostname_matches')}"]]  # fmt: skip
    rows += [
        [f"Mozilla {name}", "compliant" if c["compliant"] else f"not compliant ({len(c['issues'])} issues)"]
        for name, c in result["mozilla"].items()
    ]
    return flow + [_table(rows, styles, [45 * mm, 135 * mm])]


def page_test(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    result = (doc.get("analyzers") or {}).get("pagetest")
    flow: Flowables = [_p("Page test", styles["h1"])]
    if (skip := _skipped(result, styles)) is not None:
        return flow + skip
    assert result is not None
    first, repeat = result["first_view"], result["repeat_view"]
    flow.append(_p(f"Grade {result['grade']} (score {result['score']}) on {result['profile']['name']}.", styles["body"]))
    metrics = ("ttfb_ms", "fcp_ms", "lcp_ms", "speed_index_ms", "load_ms", "cls", "tbt_ms", "bytes", "requests")
    rows = [["Metric", "First view", "Repeat view"]] + [[m, _num(first.get(m)), _num(repeat.get(m))] for m in metrics]
    flow.append(_table(rows, styles, [50 * mm, 40 * mm, 40 * mm]))
    checks = [["Check", "Grade", "Score"]] + [[name, c["grade"], _num(c["score"])] for name, c in result["checks"].items()]
    flow += [Spacer(1, 3 * mm), _table(checks, styles, [50 * mm, 20 * mm, 20 * mm]), _p("Waterfall (first view)", styles["h2"])]
    waterfall = [["Start", "URL", "Type", "Status", "Size", "Wait", "Download"]] + [
        [
            _num(r["start_ms"], 0),
            r["url"][-60:],
            r["type"],
            r["status"],
            _num(r["size"]),
            _num(r["wait_ms"], 0),
            _num(r["download_ms"], 0),
        ]
        for r in first["waterfall"][:20]
    ]
    flow.append(_table(waterfall, styles, [14 * mm, 76 * mm, 14 * mm, 12 * mm, 20 * mm, 14 * mm, 18 * mm]))
    frames = [f for f in first.get("filmstrip", []) if (result_dir / "filmstrip" / f["file"]).exists()][:6]
    if frames:
        flow.append(_p("Filmstrip (first view)", styles["h2"]))
        images = [Image(str(result_dir / "filmstrip" / f["file"]), width=28 * mm, height=16 * mm) for f in frames]
        flow.append(Table([images, [_p(f"{f['t_ms']} ms", styles["small"]) for f in frames]]))
    return flow


def lighthouse(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    result = (doc.get("analyzers") or {}).get("lighthouse")
    flow: Flowables = [_p("Lighthouse", styles["h1"])]
    if (skip := _skipped(result, styles)) is not None:
        return flow + skip
    assert result is not None
    desktop = result.get("desktop", {})
    rows = [["Category", "Mobile", "Desktop"]] + [
        [k, v, desktop.get("scores", {}).get(k, "–")] for k, v in result["scores"].items()
    ]
    rows += [[k, _num(v), _num(desktop.get("metrics", {}).get(k))] for k, v in result["metrics"].items()]
    flow.append(_table(rows, styles, [50 * mm, 30 * mm, 30 * mm]))
    if throttling := throttling_text(result):
        flow.append(_p(throttling, styles["body"]))
    flow += [_p(f"Opportunity: {o['title']} (≈{o['savings_ms']} ms)", styles["body"]) for o in result.get("opportunities", [])]
    return flow


def appendix(doc: dict[str, Any], styles: dict[str, ParagraphStyle], result_dir: Path) -> Flowables:
    script_lines = (doc.get("script") or "").splitlines()
    shown = "\n".join(script_lines[:SCRIPT_LINES]) + (
        f"\n… {len(script_lines) - SCRIPT_LINES} more lines" if len(script_lines) > SCRIPT_LINES else ""
    )
    config = orjson.dumps(doc.get("config"), option=orjson.OPT_INDENT_2).decode()
    return [PageBreak(), _p("Appendix: script and run configuration", styles["h1"]), _p("Script", styles["h2"]),
            Preformatted(shown, styles["mono"]), _p("Configuration", styles["h2"]), Preformatted(config, styles["mono"])]  # fmt: skip


SECTIONS = [  # in the order of the HTML report and the run page
    cover, executive_summary, scorecard, load_delivered, key_metrics, baseline_comparison, last_runs, failures, charts, scenarios,
    endpoints, request_timings, custom_metrics, thresholds_and_checks, insights, ai_analysis, security_headers, tls, page_test,
    lighthouse, appendix,
]  # fmt: skip
