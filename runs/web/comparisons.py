"""What the compare page, the test pages and the run page's comparison show: the documents of
runs/loadtests.py (comparisons, trends, experiments) arranged for the templates and the charts.

Every function is given the runs the user may see (`visible`) and shows nothing made of others.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Max, QuerySet
from django.urls import reverse

from runs.engine import formatting
from runs.loadtests import NotComparable, comparison, labelled, trend, variant_comparison
from runs.models import LoadTest, Run
from runs.templatetags.k6intel_format import label_pairs
from runs.web.forms import ExperimentForm

# (name in a comparison document, what the page calls it, its unit)
METRICS = (
    ("p50", "p50 latency", "ms"),
    ("p90", "p90 latency", "ms"),
    ("p95", "p95 latency", "ms"),
    ("p99", "p99 latency", "ms"),
    ("rps", "Requests per second", "rps"),
    ("error_rate", "Error rate", "rate"),
    ("checks", "Checks passed", "rate"),
    ("dropped_iterations", "Dropped iterations", "count"),
)
SCENARIO_MEASURES = (("requests", "count"), ("error_rate", "rate"), ("p95_ms", "ms"), ("iterations", "count"))
MAX_DIFF_LINES = 2000
MAX_CANDIDATES = 20
MAX_SUGGESTED_LABELS = 500  # runs read for the label suggestions of a test page


def _briefly(runs: QuerySet[Run]) -> QuerySet[Run]:
    """Runs as a line about them shows them (when, labels, grade), without their scripts and bundles."""
    return runs.select_related(None).only("id", "created_at", "labels", "grade", "status")


def compare_url(base_id: Any = None, run_id: Any = None) -> str:
    query = {name: str(value) for name, value in (("base", base_id), ("run", run_id)) if value}
    return f"{reverse('compare')}?{urlencode(query)}"


# --- numbers as the tables show them ------------------------------------------------------


def _shown(unit: str, value: float | None) -> str:
    if value is None:
        return "–"
    if unit == "ms":
        return formatting.milliseconds(value)
    if unit == "rate":
        return formatting.percent(value)
    if unit == "rps":
        return f"{value:.1f}/s"
    return f"{value:g}"


def _change(unit: str, value: float | None) -> str:
    """A difference with its sign; a rate's in percentage points (a relative change has its own column)."""
    if value is None:
        return "–"
    text = f"{100 * value:.2f} pp" if unit == "rate" else _shown(unit, value)
    return f"+{text}" if value > 0 else text


def _direction(delta: dict[str, Any]) -> str:
    """'worse', 'better' or 'same', by the side on which the metric gets worse."""
    if not delta["delta"]:
        return "same"
    return "worse" if (delta["delta"] > 0) == (delta["worse_when"] == "higher") else "better"


def delta_row(label: str, unit: str, delta: dict[str, Any]) -> dict[str, Any]:
    """One compared metric: both values, the differences, and what the statistical test said."""
    p_value = delta.get("p_value")
    spread = delta.get("spread") or {}
    return {
        "label": label,
        "base": _shown(unit, delta["base"]),
        "run": _shown(unit, delta["run"]),
        "delta": _change(unit, delta["delta"]),
        "delta_pct": "–" if delta.get("delta_pct") is None else f"{delta['delta_pct']:+.1f} %",
        "significant": delta.get("significant"),
        "p_value": None if p_value is None else f"{p_value:.2g}",
        "method": delta.get("method") or "",
        "regression": bool(delta.get("regression")),
        "direction": _direction(delta),
        "spread": {side: _range(unit, spread.get(side)) for side in ("base", "run")} if spread else None,
    }


def _range(unit: str, spread: dict[str, Any] | None) -> str:
    if not spread:
        return ""
    return f"{_shown(unit, spread['min'])} – {_shown(unit, spread['max'])}, n = {spread['n']}"


def metric_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": name, **delta_row(label, unit, metrics[name])} for name, label, unit in METRICS if name in metrics]


def verdict_of(document: dict[str, Any]) -> dict[str, Any]:
    """The rows, the regressions and how they were judged: the tolerance, alpha and the tests used."""
    rows = metric_rows(document.get("metrics") or {})
    return {
        "rows": rows,
        "regressions": document.get("regressions") or [],
        "methods": sorted({row["method"] for row in rows if row["significant"] is not None}),
        "tolerance_pct": document.get("tolerance_pct"),
        "alpha": document.get("alpha"),
    }


# --- the run page ----------------------------------------------------------------------------


def run_belonging(run: Run, visible: QuerySet[Run]) -> dict[str, Any]:
    """The run's test and baseline, what it may do with them, and its comparison with the baseline."""
    test = run.test
    baseline_id = test.baseline_id if test else None
    baseline_seen = baseline_id is not None and visible.filter(pk=baseline_id).exists()
    return {
        "test": test,
        "is_baseline": baseline_id is not None and baseline_id == run.pk,
        "can_make_baseline": test is not None and run.status == Run.Status.DONE and baseline_id != run.pk,
        "compare_url": compare_url(baseline_id if baseline_seen and baseline_id != run.pk else None, run.pk),
        "baseline_comparison": _baseline_comparison(run, visible),
    }


def _baseline_comparison(run: Run, visible: QuerySet[Run]) -> dict[str, Any] | None:
    """The comparison stored when the run ended, shown only if its base is a run the user can see."""
    stored = run.comparison
    if not stored:
        return None
    base = _briefly(visible).filter(pk=stored.get("base_id")).first()
    if base is None:
        return {"hidden": True}
    current = run.test is not None and run.test.baseline_id == base.pk
    return {"base": base, "current": current, "url": compare_url(base.pk, run.pk), **verdict_of(stored)}


# --- the compare page ----------------------------------------------------------------------


class CannotCompare(Exception):
    """What the compare page says instead of a comparison, with its HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def compare_page(visible: QuerySet[Run], base_id: Any, run_id: Any) -> dict[str, Any]:
    """Everything the compare page shows of run `run_id` against `base_id`; with one of them only, the runs
    to pick the other from. CannotCompare for a run the user cannot see, or one without results."""
    asked = {"base run": base_id, "compared run": run_id}
    found = {role: visible.select_related("test").filter(pk=pk).first() if pk else None for role, pk in asked.items()}
    if missing := [f"No {role} {asked[role]} that you can see." for role, run in found.items() if asked[role] and not run]:
        raise CannotCompare(" ".join(missing), 404)
    base, run = found["base run"], found["compared run"]
    if base is None or run is None:
        return {"picking": True, "base": base, "run": run, "candidates": candidates(base, run, visible)}
    try:
        document = comparison(base, run)
    except NotComparable as exc:
        raise CannotCompare(str(exc), 409) from None
    return {
        "base": base,
        "run": run,
        "sides": [("Base", base), ("Run", run)],
        "doc": document,
        "verdict": verdict_of(document),
        "endpoints": [
            {"endpoint": row["endpoint"], "count": row["count"], **delta_row("p95", "ms", row["p95_ms"])}
            for row in document["endpoints"]
        ],
        "scenarios": [_scenario_row(row) for row in document["scenarios"]],
        "series": overlaid_series(document["timeseries"]),
        "config_diff": diff_lines(document["config_diff"]),
        "script_diff": diff_lines(document["script_diff"]),
    }


def _scenario_row(row: dict[str, Any]) -> dict[str, Any]:
    cells = []
    for key, unit in SCENARIO_MEASURES:
        before, after = row[key].get("base"), row[key].get("run")
        difference = after - before if before is not None and after is not None else None
        cells.append({"base": _shown(unit, before), "run": _shown(unit, after), "delta": _change(unit, difference)})
    return {"scenario": row["scenario"], "cells": cells}


def overlaid_series(timeseries: dict[str, list[list[float]]]) -> dict[str, Any]:
    """Both runs' per-second p95, RPS and error rate on one elapsed-time axis (null where a run has no such second)."""
    seconds = {side: {point[0]: point for point in timeseries.get(side) or []} for side in ("base", "run")}
    elapsed = sorted(set(seconds["base"]) | set(seconds["run"]))

    def column(side: str, index: int, scale: float = 1.0) -> list[float | None]:
        points = seconds[side]
        return [None if t not in points or points[t][index] is None else round(scale * points[t][index], 4) for t in elapsed]

    measures = {"p95_ms": (1, 1.0), "rps": (2, 1.0), "error_percent": (3, 100.0)}
    return {"t": elapsed} | {
        name: {side: column(side, index, scale) for side in ("base", "run")} for name, (index, scale) in measures.items()
    }


def diff_lines(diff: str) -> dict[str, Any]:
    """A unified diff as lines with their kind (file, hunk, add, del, same), for a styled <pre>."""
    lines = diff.splitlines()
    return {"lines": [{"kind": _diff_kind(line), "text": line} for line in lines[:MAX_DIFF_LINES]],
            "more": max(0, len(lines) - MAX_DIFF_LINES)}  # fmt: skip


def _diff_kind(line: str) -> str:
    if line.startswith(("+++ ", "--- ")):
        return "file"
    if line.startswith("@@"):
        return "hunk"
    return {"+": "add", "-": "del"}.get(line[:1], "same")


def candidates(base: Run | None, run: Run | None, visible: QuerySet[Run]) -> list[dict[str, Any]]:
    """When one side is given: the other finished runs of its test, each with the link that compares it."""
    given = run or base
    if given is None or given.test_id is None or (base and run):
        return []
    others = visible.filter(test_id=given.test_id, status=Run.Status.DONE).exclude(pk=given.pk).order_by("-created_at")
    return [
        {"run": other, "url": compare_url(other.pk, run.pk) if run else compare_url(base.pk if base else None, other.pk)}
        for other in _briefly(others)[:MAX_CANDIDATES]
    ]


# --- tests --------------------------------------------------------------------------------


def tests_of(visible: QuerySet[Run]) -> QuerySet[LoadTest]:
    """The tests with runs the user can see, counted over those runs only, the latest first."""
    return (
        LoadTest.objects.filter(runs__in=visible)
        .annotate(run_count=Count("runs", distinct=True), last_run_at=Max("runs__created_at"))
        .select_related("project")
        .order_by("-last_run_at", "pk")
    )


def visible_baselines(tests: list[LoadTest], visible: QuerySet[Run]) -> dict[Any, Any]:
    """When each test's baseline ran, for those the user can see."""
    baselines = visible.filter(pk__in=[test.baseline_id for test in tests if test.baseline_id])
    return dict(baselines.values_list("pk", "created_at"))


def test_page(test: LoadTest, visible: QuerySet[Run], labels: dict[str, str], experiment: ExperimentForm) -> dict[str, Any]:
    """The test page beyond its runs table: the baseline, the trend over the matching runs, the experiment."""
    among = labelled(visible, labels)
    document = trend(test, among=among)
    return {
        "baseline": _briefly(visible).filter(pk=test.baseline_id).first() if test.baseline_id else None,
        "trend": trend_chart(document["points"]),
        "experiment": _experiment(test, among, experiment),
        "suggestions": label_suggestions(visible.filter(test=test)),
    }


def trend_chart(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Columns by run order (oldest first), with each point's tag, tooltip and page, and the baseline's index."""
    return {
        "n": list(range(1, len(points) + 1)),
        "p95_ms": [point["p95"] for point in points],
        "p99_ms": [point["p99"] for point in points],
        "rps": [point["rps"] for point in points],
        "error_percent": [None if point["error_rate"] is None else round(100 * point["error_rate"], 4) for point in points],
        "score": [point["score"] for point in points],
        "baseline": next((index for index, point in enumerate(points) if point["baseline"]), None),
        "tags": [_tag(point["labels"]) for point in points],
        "tips": [_tip(number, point) for number, point in enumerate(points, 1)],
        "urls": [reverse("run-detail", args=[point["run_id"]]) for point in points],
    }


def _tag(labels: dict[str, str]) -> str:
    """What a point is labelled with on the chart: its variant and short git SHA."""
    return " ".join(part for part in (labels.get("variant") or "", (labels.get("git_sha") or "")[:7]) if part)


def _tip(number: int, point: dict[str, Any]) -> str:
    labels = " · ".join(f"{key}={value}" for key, value in label_pairs(point["labels"]))
    grade = f"grade {point['grade']}" if point["grade"] else (point["verdict"] or "").replace("_", " ")
    heading = f"Run {number}{' (baseline)' if point['baseline'] else ''} · {point['created_at'][:16].replace('T', ' ')}"
    return "\n".join(line for line in (heading, labels, grade, f"p95 {formatting.milliseconds(point['p95'])}") if line)


def label_suggestions(runs: QuerySet[Run]) -> dict[str, list[str]]:
    """The label keys, values and KEY:VALUE filters that occur among these runs, for the forms' suggestions."""
    seen: set[tuple[str, str]] = set()
    for labels in runs.order_by("-created_at").values_list("labels", flat=True)[:MAX_SUGGESTED_LABELS]:
        seen.update((str(key), str(value)) for key, value in (labels or {}).items())
    return {
        "keys": sorted({key for key, _ in seen}),
        "values": sorted({value for _, value in seen}),
        "filters": sorted(f"{key}:{value}" for key, value in seen),
    }


def _experiment(test: LoadTest, among: QuerySet[Run], form: ExperimentForm) -> dict[str, Any] | None:
    if not form.is_bound or not form.is_valid():
        return None
    asked = form.cleaned_data
    try:
        document = variant_comparison(test, asked["key"], asked["base"], asked["run"], among=among)
    except NotComparable as exc:
        form.add_error(None, str(exc))
        return None
    return {**verdict_of(document), "doc": document}
