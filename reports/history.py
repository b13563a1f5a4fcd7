"""What both reports show of the run's test: its comparison with the baseline, and its last runs.

The comparison is the one stored with the run when k6 finished (`comparison` in the result document);
the last runs are the trend points (runs.loadtests) the report stage adds as `test_trend`. Neither
changes the verdict: a regression is a finding of its own, beside it.
"""

from __future__ import annotations

from typing import Any

from runs.engine.charts import runs_charts
from runs.engine.formatting import compared_change, compared_value, milliseconds, percent

COMPARISON_HEADER = ["Metric", "Baseline", "This run", "Δ", "Δ %", "Significant", "Test", "Regression"]
STATE_CHANGES_HEADER = ["Threshold or check", "Baseline", "This run"]
TREND_HEADER = ["#", "Run", "When", "Labels", "p95", "p99", "Req/s", "Errors", "Score", "Verdict"]
TREND_RUNS = 10
# The measures of the last runs, each drawn as a chart: (id, title, [(series label, point key, multiplier, colour)],
# scale); the colours are the run charts' for the same measure.
TREND_CHARTS: tuple[tuple[str, str, tuple[tuple[str, str, float, str], ...], str], ...] = (
    ("runs-latency", "p95 and p99 latency", (("p95", "p95", 1.0, "p95"), ("p99", "p99", 1.0, "p99")), "ms"),
    ("runs-rps", "Requests per second", (("requests/s", "rps", 1.0, "rps"),), "rps"),
    ("runs-errors", "Failed requests", (("errors", "error_rate", 100.0, "errors"),), "pct"),
    ("runs-score", "Score", (("score", "score", 1.0, "vus"),), "score"),
)
SHORT_SHA = 7
SHORT_ID = 8


def comparison_shown(document: dict[str, Any]) -> dict[str, Any] | None:
    """The stored comparison with the baseline; None for a run with none (no baseline, or the baseline itself)."""
    comparison = document.get("comparison") or {}
    return comparison if comparison.get("metrics") else None


def comparison_intro(document: dict[str, Any], comparison: dict[str, Any]) -> str:
    base_id = str(comparison.get("base_id") or "")
    labels = labels_text(comparison.get("base_labels") or {})
    now = (document.get("test") or {}).get("baseline_id")
    replaced = f" (the baseline then; it is now run {now[:SHORT_ID]})" if now and now != base_id else ""
    return (
        f"Compared with run {base_id[:SHORT_ID]}{f' ({labels})' if labels else ''}, the baseline of test "
        f"“{comparison.get('test') or '–'}”{replaced}, when k6 had finished. A change is a regression only when it is "
        f"worse by more than {comparison.get('tolerance_pct')} % (REGRESSION_TOLERANCE) and significant "
        f"(p < {comparison.get('alpha')})."
    )


def comparison_rows(comparison: dict[str, Any]) -> list[dict[str, Any]]:
    """A row per compared metric: its cells (COMPARISON_HEADER) and whether it is a regression."""
    return [{"cells": _delta_cells(name, delta), "regression": bool(delta.get("regression"))}
            for name, delta in comparison["metrics"].items()]  # fmt: skip


def _delta_cells(name: str, delta: dict[str, Any]) -> list[str]:
    change_pct = delta.get("delta_pct")
    return [
        name,
        compared_value(name, delta.get("base")),
        compared_value(name, delta.get("run")),
        compared_change(name, delta.get("delta")),
        "–" if change_pct is None else f"{change_pct:+.1f} %",
        _significance(delta),
        delta.get("method") or "–",
        "REGRESSION" if delta.get("regression") else "no",
    ]


def _significance(delta: dict[str, Any]) -> str:
    if delta.get("significant") is None:
        return "no test"
    return f"{'yes' if delta['significant'] else 'no'} (p = {delta['p_value']:.3g})"


def regression_finding(comparison: dict[str, Any] | None) -> dict[str, Any] | None:
    """The regressions against the baseline as their own finding (a headline and the engine's sentences),
    or that there are none; None without a comparison."""
    if comparison is None:
        return None
    regressions = comparison.get("regressions") or []
    against = f"against the baseline (run {str(comparison.get('base_id'))[:SHORT_ID]} of test “{comparison.get('test')}”)"
    if not regressions:
        return {"regressed": False, "headline": f"No regression {against}.", "items": []}
    count = "A regression" if len(regressions) == 1 else f"{len(regressions)} regressions"
    return {"regressed": True, "headline": f"{count} {against}:", "items": regressions}


def state_change_rows(comparison: dict[str, Any]) -> list[list[str]]:
    """Thresholds that passed in one run and failed in the other, and checks that went from passing to failing or back."""
    rows = [
        [f"threshold {t['metric']} {t['expression']}", _passed(t["base"]), _passed(t["run"])]
        for t in comparison.get("thresholds_changed") or []
    ]
    rows += [
        # A check by its k6 path (`::group::check`), as the summary CSV names it.
        [f"check {c.get('group') or ''}::{c['name']}", _passing(c["base"]), _passing(c["run"])]
        for c in comparison.get("checks_changed") or []
    ]
    return rows


def _passed(ok: bool) -> str:
    return "passed" if ok else "FAILED"


def _passing(ok: bool) -> str:
    return "all passing" if ok else "FAILING"


# --- the last runs of the test -------------------------------------------------------


def trend_shown(document: dict[str, Any]) -> dict[str, Any] | None:
    """The test's last runs, when there are at least two (one run is no trend)."""
    trend = document.get("test_trend") or {}
    return trend if len(trend.get("points") or []) >= 2 else None


def trend_title(trend: dict[str, Any]) -> str:
    return f"Last {len(trend['points'])} runs of test “{trend['test']['name']}”"


def trend_rows(trend: dict[str, Any], run_id: str) -> list[list[str]]:
    return [_trend_cells(position, point, run_id) for position, point in enumerate(trend["points"], start=1)]


def _trend_cells(position: int, point: dict[str, Any], run_id: str) -> list[str]:
    marks = [mark for mark, on in (("baseline", point["baseline"]), ("this run", point["run_id"] == run_id)) if on]
    return [
        str(position),
        point["run_id"][:SHORT_ID] + (f" ({', '.join(marks)})" if marks else ""),
        (point.get("created_at") or "")[:16].replace("T", " "),
        labels_text(point.get("labels") or {}) or "–",
        milliseconds(point.get("p95")),
        milliseconds(point.get("p99")),
        compared_value("rps", point.get("rps")),
        percent(point.get("error_rate")),
        "–" if point.get("score") is None else f"{point['score']:.1f}",
        (point.get("verdict") or "–").replace("_", " "),
    ]


def point_label(point: dict[str, Any]) -> str:
    """How a chart names a run: its variant and git SHA when it has them, else its id."""
    labels = point.get("labels") or {}
    parts = [str(labels["variant"])[:16]] if labels.get("variant") else []
    parts += [str(labels["git_sha"])[:SHORT_SHA]] if labels.get("git_sha") else []
    return " · ".join(parts) or point["run_id"][:SHORT_ID]


def trend_marks(trend: dict[str, Any], run_id: str) -> dict[int, str]:
    """The positions a chart marks: the baseline and this run."""
    marks: dict[int, list[str]] = {}
    for index, point in enumerate(trend["points"]):
        if point["baseline"]:
            marks.setdefault(index, []).append("baseline")
        if point["run_id"] == run_id:
            marks.setdefault(index, []).append("this run")
    return {index: ", ".join(names) for index, names in marks.items()}


def trend_chart_spec(trend: dict[str, Any], run_id: str) -> dict[str, Any]:
    """The last runs' charts (TREND_CHARTS) as chart specs, drawn like the run's own (runs/engine/charts.py)."""
    charts = [
        (chart_id, title, [(label, scale, colour, _values(trend, key, multiplier)) for label, key, multiplier, colour in series])
        for chart_id, title, series, scale in TREND_CHARTS
    ]
    return runs_charts(charts, [point_label(p) for p in trend["points"]], trend_marks(trend, run_id))


def _values(trend: dict[str, Any], key: str, multiplier: float) -> list[float | None]:
    """A key's values over the runs, oldest first (None where a run has no such number)."""
    return [None if p.get(key) is None else round(p[key] * multiplier, 3) for p in trend["points"]]


def labels_text(labels: dict[str, Any]) -> str:
    return ", ".join(f"{key}={str(value)[:12] if key == 'git_sha' else value}" for key, value in labels.items())
