"""The self-contained HTML report: one file, no external requests, interactive charts.

The text of the verdict, scorecard, delivered-load, failure, scenario, timing, custom-metric
and check tables is built here once; the PDF renders the same rows, so both reports read alike.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string

from reports.charts import stage_list, theme_colours
from reports.history import (
    COMPARISON_HEADER,
    STATE_CHANGES_HEADER,
    TREND_HEADER,
    comparison_intro,
    comparison_rows,
    comparison_shown,
    regression_finding,
    state_change_rows,
    trend_chart_spec,
    trend_rows,
    trend_shown,
    trend_title,
)
from runs.engine.charts import run_charts
from runs.engine.delivery import ending_text
from runs.engine.formatting import custom_value, evidence_text, milliseconds, percent, seconds, segments_text, thresholds_text
from runs.engine.results import group_rows, without_tag
from runs.engine.scoring import format_value

ANALYZER_TITLES = (("headers", "Security headers"), ("tls", "SSL/TLS"), ("pagetest", "Page test"), ("lighthouse", "Lighthouse"))
PAGETEST_METRICS = ("ttfb_ms", "fcp_ms", "lcp_ms", "speed_index_ms", "load_ms", "cls", "tbt_ms", "bytes", "requests")
MAX_FAILURE_ROWS = 20
TOP_INSIGHTS = 3  # on the one-page executive summary
SCORECARD_HEADER = ["Criterion", "Value", "Limit", "Met", "Points"]
FAILURES_HEADER = ["Count", "First seen", "Reason", "Meaning", "Example URL"]
TIMINGS_HEADER = ["Request phase", "avg", "p95"]
CUSTOM_HEADER = ["Metric", "Type", "Values", "Thresholds"]
SCENARIO_HEADER = [
    "Scenario",
    "Executor",
    "Requests",
    "Req/s",
    "Error rate",
    "p95",
    "Iterations",
    "Busy VUs (peak)",
]
SCENARIO_THRESHOLDS_HEADER = ["Scenario", "Threshold", "Result"]
SCENARIO_NOTE = (
    "Req/s: over the seconds the scenario sent requests. Busy VUs: the iteration time the scenario's VUs spent in a "
    "second (k6 counts VUs for the whole test only)."
)
CHECKS_HEADER = ["Group / check", "Passed", "Failed", "Pass rate"]


def render_html(document: dict[str, Any], result_dir: Path) -> str:
    analyzers = document.get("analyzers") or {}
    pagetest = analyzers.get("pagetest") or {}
    failures = document.get("failures") or {}
    scenarios = document.get("scenarios") or []
    comparison, trend, run_id = comparison_shown(document), trend_shown(document), str(document.get("id") or "")
    spec = run_charts(document)
    context = {
        "doc": document,
        "verdict": verdict_shown(document),
        "finding": regression_finding(comparison),
        "comparison": _comparison_context(document, comparison),
        "trend": _trend_context(run_id, trend),
        "scorecard": scorecard_rows(document.get("sla") or {}),
        "score_line": score_line(document),
        "segments_text": segments_text(document),
        "delivery": delivery_rows(document.get("delivery") or {}),
        "failures": failure_rows(failures),
        "failures_total": failures.get("total") or 0,
        "scenarios": scenario_rows(scenarios),
        "scenario_header": SCENARIO_HEADER,
        "scenario_thresholds": scenario_threshold_rows(scenarios) if len(scenarios) > 1 else [],
        "scenario_note": SCENARIO_NOTE,
        "timings": timing_rows(document.get("timings") or []),
        "custom_metrics": custom_metric_rows(document.get("custom_metrics") or []),
        "checks": check_rows(document),
        "insights": [{**i, "evidence_text": evidence_text(i["evidence"])} for i in document.get("insights") or []],
        "chart_spec": spec,
        "stages": stage_list(spec),
        **_chart_assets(),
        "analyzer_sections": [(kind, title, analyzers.get(kind)) for kind, title in ANALYZER_TITLES],
        "pagetest_rows": _pagetest_rows(pagetest),
        "filmstrip": _filmstrip(pagetest, result_dir),
        "config_json": orjson.dumps(document.get("config"), option=orjson.OPT_INDENT_2).decode(),
    }
    return render_to_string("reports/report.html", context)


# --- what both reports show ------------------------------------------------------


def verdict_shown(document: dict[str, Any]) -> dict[str, Any]:
    """The verdict, or a pending one while k6 still runs (a report is normally written after it)."""
    verdict = document.get("verdict")
    if verdict:
        return verdict
    return {"status": "pending", "headline": "Verdict pending", "reasons": [f"The run is {document.get('status')}."]}


def score_line(document: dict[str, Any]) -> str:
    """'Score 82.5 / 100 — Good', or '' when the run is not graded (no score or grade is shown then)."""
    if document.get("grade") is None or document.get("score") is None:
        return ""
    return f"Score {document['score']:,.1f} / 100 — grade {document['grade']} ({document.get('grade_label') or ''})"


def key_number_rows(document: dict[str, Any]) -> list[list[str]]:
    """The numbers a manager reads first, as the executive summary shows them."""
    metrics = document.get("metrics") or {}
    requests, failed, duration = (
        metrics.get("http_reqs") or {},
        metrics.get("http_req_failed") or {},
        metrics.get("http_req_duration") or {},
    )
    checks = metrics.get("checks")
    return [
        ["Requests", f"{requests.get('count') or 0:,}"],
        ["Requests per second", f"{requests.get('rate') or 0:,.1f}"],
        ["Failed requests", percent(failed.get("rate") or 0.0)],
        ["Latency p50 / p95 / p99", " / ".join(milliseconds(duration.get(key)) for key in ("med", "p95", "p99"))],
        ["Checks passed", percent(checks["rate"]) if checks else "no checks"],
        ["VUs (peak)", f"{(metrics.get('vus_max') or metrics.get('vus') or {}).get('max') or '–'}"],
    ]


def top_insights(document: dict[str, Any], count: int = TOP_INSIGHTS) -> list[dict[str, Any]]:
    """The most severe insights (they are stored most severe first)."""
    return (document.get("insights") or [])[:count]


def scorecard_rows(sla: dict[str, Any]) -> list[dict[str, Any]]:
    graded = sla.get("graded", True) and sla.get("score") is not None
    return [_scorecard_row(criterion, graded) for criterion in sla.get("criteria") or []]


def _scorecard_row(criterion: dict[str, Any], graded: bool) -> dict[str, Any]:
    unit = criterion.get("unit", "")
    comparator = criterion.get("comparator") or ""
    if not criterion.get("max_points"):
        points = "cap"  # a k6 threshold or dropped iterations: a miss caps the grade, it earns no points
    elif graded:
        points = f"{criterion['points']:.1f} / {criterion['max_points']:.0f}"
    else:
        points = "–"
    return {
        "label": criterion["label"],
        "note": criterion.get("note") or "",
        # A row with no limit (how the script ended) has no value to show either.
        "value": format_value(criterion["value"], unit) if comparator or criterion["value"] is not None else "–",
        "limit": f"{comparator} {format_value(criterion['threshold'], unit)}" if comparator else "–",
        "met": criterion["met"],
        "points": points,
    }


def delivery_rows(delivery: dict[str, Any]) -> list[list[str]]:
    if not delivery:
        return []
    rows = [
        ["Duration", f"{seconds(delivery.get('actual_duration_s'))} of {seconds(delivery.get('planned_duration_s'))} planned "
                     f"(+ up to {seconds(delivery.get('graceful_stop_s'))} graceful stop)"],
        ["VUs reached", f"{delivery.get('max_vus_reached')} of {delivery.get('max_vus_planned')} planned"],
        ["Iterations", f"{delivery.get('iterations') or 0:,}"],
    ]  # fmt: skip
    if delivery.get("dropped_ratio") is not None:
        rows.append(
            ["Dropped iterations", f"{delivery.get('dropped_iterations') or 0:,} ({percent(delivery['dropped_ratio'])} of planned, "
                                   f"limit {percent(delivery.get('max_dropped_ratio'))})"]
        )  # fmt: skip
    rows.append(["Ended", ending_text(delivery.get("end_reason") or "")])
    return rows


def failure_rows(failures: dict[str, Any]) -> list[list[str]]:
    """The most frequent failure reasons; a last row counts the requests of the reasons left out."""
    reasons = failures.get("by_reason") or []
    rows = [
        [f"{r['count']:,}", f"{r['first_seen_s']} s", r["message"], r.get("meaning") or "–", (r.get("sample_urls") or ["–"])[0]]
        for r in reasons[:MAX_FAILURE_ROWS]
    ]
    rest = reasons[MAX_FAILURE_ROWS:]
    if rest:
        rows.append([f"{sum(r['count'] for r in rest):,}", "–", f"{len(rest)} more reasons", "–", "–"])
    return rows


def timing_rows(timings: list[dict[str, Any]]) -> list[list[str]]:
    return [[t["label"], milliseconds(t.get("avg_ms")), milliseconds(t.get("p95_ms"))] for t in timings]


def custom_metric_rows(metrics: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            m["name"],
            m["type"],
            ", ".join(f"{key} {custom_value(m['type'], key, value)}" for key, value in m["values"].items()),
            thresholds_text(m.get("thresholds") or []),
        ]
        for m in metrics
    ]


def scenario_rows(scenarios: list[dict[str, Any]]) -> list[list[str]]:
    """A row per scenario; none for a single scenario (the run's own numbers are its numbers)."""
    if len(scenarios) < 2:
        return []
    return [
        [
            s["name"],
            s.get("executor") or "–",
            f"{s['requests']:,}",
            f"{s['rps']:,.1f}",
            percent(s["error_rate"]),
            milliseconds(s["p95_ms"]),
            f"{s['iterations']:,}",
            f"{s['busy_vus_max']:.1f}",
        ]
        for s in scenarios
    ]


def scenario_threshold_rows(scenarios: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [s["name"], f"{without_tag(t['metric'], 'scenario')} {t['expression']}", "passed" if t["ok"] else "FAILED"]
        for s in scenarios
        for t in s["thresholds"]
    ]


def check_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The group tree as rows (depth, group or check) with the four columns of CHECKS_HEADER as text."""
    return [
        {**row, "cells": [row["name"], f"{row['passes']:,}", f"{row['fails']:,}", percent(row["rate"])]}
        for row in group_rows(document.get("groups") or [], document.get("checks") or [])
    ]


# --- HTML only ---------------------------------------------------------------------


def _chart_assets() -> dict[str, str]:
    """uPlot and the UI's chart drawer (static/k6intel/charts.js) inlined, with the light scheme's colours: the
    report draws the same specs as the run page and requests nothing."""
    light = theme_colours()["light"]
    variables = "".join(
        f"--{name}: {value}; " for name, value in light.items() if name.startswith("chart-") or name in ("ink", "line")
    )
    return {
        "uplot_css": _static_text("vendor/uplot/dist/uPlot.min.css"),
        "uplot_js": _static_text("vendor/uplot/dist/uPlot.iife.min.js"),
        "charts_js": _static_text("k6intel/charts.js"),
        "theme_css": f":root {{ {variables}}}",
    }


def _static_text(name: str) -> str:
    path = finders.find(name)
    if not isinstance(path, str):
        raise FileNotFoundError(f"{name} is not among the static files (is uPlot installed? `make` runs npm ci)")
    return Path(path).read_text()


def _comparison_context(document: dict[str, Any], comparison: dict[str, Any] | None) -> dict[str, Any] | None:
    if comparison is None:
        return None
    return {
        "intro": comparison_intro(document, comparison),
        "header": COMPARISON_HEADER,
        "rows": comparison_rows(comparison),
        "state_header": STATE_CHANGES_HEADER,
        "state_changes": state_change_rows(comparison),
    }


def _trend_context(run_id: str, trend: dict[str, Any] | None) -> dict[str, Any] | None:
    if trend is None:
        return None
    spec = {**trend_chart_spec(trend, run_id), "syncKey": "runs"}  # zoomed together, apart from the time charts
    return {"title": trend_title(trend), "header": TREND_HEADER, "rows": trend_rows(trend, run_id), "spec": spec}


def _pagetest_rows(result: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    if result.get("status") != "ok":
        return []
    first, repeat = result["first_view"], result["repeat_view"]
    return [(metric, first.get(metric), repeat.get(metric)) for metric in PAGETEST_METRICS]


def _filmstrip(result: dict[str, Any], result_dir: Path) -> list[dict[str, Any]]:
    """Thumbnails inlined as data: URIs, so the file needs nothing else."""
    frames = []
    for frame in (result.get("first_view") or {}).get("filmstrip", [])[:8]:
        path = result_dir / "filmstrip" / frame["file"]
        if path.exists():
            frames.append(
                {"t_ms": frame["t_ms"], "data_uri": "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode()}
            )
    return frames
