"""Chart specs: what every chart of a run shows, from its result document, as plain JSON.

One spec feeds every surface (static/k6intel/charts.js draws it with uPlot), so the same data looks
the same everywhere and tests assert on series, axes and reference lines rather than on pixels.

A spec: `t` (elapsed seconds, the x of every chart), `annotations` (moments on that axis: stage
changes, the breaking point, the recovery), `charts` and `notes` (charts that could not be drawn, and
why). A chart has `axes` (one per scale: its unit, side and range), `series` (each with its real name,
its scale and its values, one per `t`) and `references` (limits: `drawn` when they fall inside the
data, else a `note` to state beside the chart).
"""

from __future__ import annotations

import math
import re
from typing import Any

from runs.engine.presets import planned_stages
from runs.engine.results import SAMPLED_PHASES

# A limit this far above the highest value is still drawn (its axis stretches to it); farther, it
# would flatten every curve into the floor, so it is stated beside the chart instead.
REFERENCE_HEADROOM = 1.25
# Each scale: its axis label, unit and the top of its range when every value is zero (so a run without
# errors shows 0 to 1 %, not ticks of 1e-9).
SCALES: dict[str, dict[str, Any]] = {
    "rps": {"label": "requests/s", "unit": "req/s", "empty_top": 1},
    "vus": {"label": "VUs", "unit": "VUs", "empty_top": 1},
    "ms": {"label": "latency (ms)", "unit": "ms", "empty_top": 1},
    "pct": {"label": "errors (%)", "unit": "%", "empty_top": 1},
    "failed": {"label": "failed requests/s", "unit": "req/s", "empty_top": 1},
    "iterations": {"label": "iterations/s", "unit": "it/s", "empty_top": 1},
    "score": {"label": "score", "unit": "points", "empty_top": 1},
}
LEFT, RIGHT = "left", "right"
PERCENTILES = (("p50_ms", "p50"), ("p90_ms", "p90"), ("p95_ms", "p95"), ("p99_ms", "p99"))
SCENARIO_MEASURES = (
    ("requests", "Requests per second by scenario", "rps"),
    ("errors", "Failed requests per second by scenario", "failed"),
    ("p95_ms", "p95 latency by scenario", "ms"),
    ("iterations", "Iterations per second by scenario", "iterations"),
    ("busy_vus", "Busy VUs by scenario (from iteration time)", "vus"),
)
THRESHOLD = re.compile(
    r"^\s*(?P<stat>avg|min|max|med|rate|count|value|p\((?P<pct>[\d.]+)\))\s*(?P<op><=|>=|<|>|==|!=)\s*(?P<limit>-?[\d.]+)\s*$"
)
SUBMETRIC = re.compile(r"^(?P<base>[\w.]+)(?:\{scenario:(?P<scenario>[^}]+)\})?$")
# Short legend names of k6's request phases (the table of averages names them in full).
PHASE_LABELS = tuple(
    zip(SAMPLED_PHASES, ("blocked", "connecting", "TLS handshake", "sending", "waiting (TTFB)", "receiving"), strict=True)
)
NO_TIMING_SERIES = "Request timing breakdown: this run was recorded before k6intel kept request phases per second."
NO_ENDPOINT_SERIES = "Per-endpoint p95 over time: this run was recorded before k6intel kept endpoints per second."


def run_charts(document: dict[str, Any]) -> dict[str, Any]:
    """Every chart of a run's result document (an empty `charts` list when no second was recorded)."""
    points = document.get("timeseries") or []
    t = [point["t"] for point in points]
    if not t:
        return {"t": [], "annotations": [], "charts": [], "notes": []}
    charts = [overview_chart(points), latency_chart(document, points)]
    timed = "waiting_ms" in points[0]  # results stored before the phases were kept per second have none
    charts += [timings_chart(points)] if timed else []
    charts += [errors_chart(document, points)]
    charts += [failures_chart(document)] if (document.get("failures") or {}).get("over_time", {}).get("series") else []
    endpoints = endpoint_chart(document.get("endpoint_series") or {})
    charts += [endpoints] if endpoints else []
    charts += scenario_charts(document.get("scenarios") or [])
    threshold_charts, notes = failing_threshold_charts(document, points)
    notes = [NO_ENDPOINT_SERIES] * (not document.get("endpoint_series")) + [NO_TIMING_SERIES] * (not timed) + notes
    return {"t": t, "annotations": chart_annotations(document, t), "charts": charts + threshold_charts, "notes": notes}


# --- the charts ------------------------------------------------------------------------------------


def overview_chart(points: list[dict[str, Any]]) -> dict[str, Any]:
    series = [  # the first scale is the left axis, the second the right: VUs never share the requests/s axis
        _series("requests/s", "rps", "rps", _column(points, "rps")),
        _series("VUs", "vus", "vus", _column(points, "vus")),
        _series("p95", "ms", "p95", _column(points, "p95_ms")),
        _series("errors", "pct", "errors", _percent(_column(points, "error_rate"))),
    ]
    return _chart("overview", "Overview: load, throughput, p95 latency and errors", series, [])


def latency_chart(document: dict[str, Any], points: list[dict[str, Any]]) -> dict[str, Any]:
    present = [(key, name) for key, name in PERCENTILES if key in points[0]]  # results stored before p90 have none
    series = [_series(name, "ms", name, _column(points, key)) for key, name in present]
    limits = [("SLA p90 limit", value)] if (value := sla_p90_ms(document)) else []
    limits += [(f"k6 threshold {t['expression']}", limit) for t, limit in _thresholds_on(document, "http_req_duration")]
    return _chart("latency", "Latency percentiles per second", series, [_reference(label, "ms", v) for label, v in limits])


def timings_chart(points: list[dict[str, Any]]) -> dict[str, Any]:
    """k6's six request phases, each second's mean over the requests sampled in it (runs/engine/results.py)."""
    series = [_series(label, "ms", f"c{i}", _column(points, f"{phase}_ms")) for i, (phase, label) in enumerate(PHASE_LABELS)]
    chart = _chart("timings", "Request timing breakdown (mean per second)", series, [])
    sampled = sum(point.get("timing_samples") or 0 for point in points)
    chart["note"] = f"Mean of {sampled:,} sampled requests; a fast run's phases are read from a sample of its requests."
    return chart


def endpoint_chart(found: dict[str, Any]) -> dict[str, Any] | None:
    """p95 per second of the busiest endpoints (method + name tag), when the run kept any."""
    if not found.get("series"):
        return None
    series = [_series(s["label"], "ms", f"c{i}", s["p95_ms"]) for i, s in enumerate(found["series"])]
    busiest = "the busiest endpoint" if len(series) == 1 else f"the {len(series)} busiest endpoints"
    chart = _chart("endpoints", f"p95 latency of {busiest} per second", series, [])
    if found.get("endpoints", 0) > found.get("tracked", 0):
        chart["note"] = (
            f"Per-second p95 is kept for the first {found['tracked']} endpoints seen; this run had {found['endpoints']}."
        )
    return chart


def errors_chart(document: dict[str, Any], points: list[dict[str, Any]]) -> dict[str, Any]:
    series = [_series("errors", "pct", "errors", _percent(_column(points, "error_rate")))]
    limits = [(f"k6 threshold {t['expression']}", 100 * limit) for t, limit in _thresholds_on(document, "http_req_failed")]
    return _chart("errors", "Error rate per second", series, [_reference(label, "pct", v) for label, v in limits])


def failures_chart(document: dict[str, Any]) -> dict[str, Any]:
    over_time = document["failures"]["over_time"]
    series = [_series(s["label"], "failed", f"c{i}", s["counts"]) for i, s in enumerate(over_time["series"])]
    return _chart("failures", "Failed requests per second by reason", series, [])


def scenario_charts(scenarios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A line per scenario for each measure; none for a single scenario (the run's own charts are it)."""
    if len(scenarios) < 2:
        return []
    return [
        _chart(
            f"scenario-{key}",
            title,
            [_series(s["name"], scale, f"c{i}", s["timeseries"][key]) for i, s in enumerate(scenarios)],
            [],
        )
        for key, title, scale in SCENARIO_MEASURES
    ]


def failing_threshold_charts(document: dict[str, Any], points: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Each failed k6 threshold's metric over time with its limit, where the metric has a per-second series."""
    charts, notes = [], []
    failed = [t for t in document.get("thresholds") or [] if not t.get("ok")]
    for index, threshold in enumerate(failed):
        found = _threshold_series(document, points, threshold)
        name = f"{threshold['metric']} {threshold['expression']}"
        if found is None:
            notes.append(f"Failed threshold {name}: k6intel keeps no per-second series of it, so it has no chart.")
            continue
        series, limit = found
        reference = _reference(f"limit {threshold['expression']}", series["scale"], limit)
        charts.append(_chart(f"threshold-{index}", f"Failed threshold {name}", [series], [reference]))
    return charts, notes


def _threshold_series(
    document: dict[str, Any], points: list[dict[str, Any]], threshold: dict[str, Any]
) -> tuple[dict[str, Any], float] | None:
    """The series a threshold is about and its limit in the series' unit, or None when there is no such series."""
    expression, metric = THRESHOLD.match(threshold["expression"]), SUBMETRIC.match(threshold["metric"])
    if expression is None or metric is None:
        return None
    stat, limit = _stat_key(expression), float(expression["limit"])
    base, scenario = metric["base"], metric["scenario"]
    if scenario is not None:
        return _scenario_threshold_series(document, scenario, base, stat, limit)
    if base == "http_req_duration" and f"{stat}_ms" in points[0]:
        return _series(stat, "ms", stat, _column(points, f"{stat}_ms")), limit
    if base == "http_req_failed" and stat == "rate":
        return _series("errors", "pct", "errors", _percent(_column(points, "error_rate"))), 100 * limit
    if base == "http_reqs" and stat == "rate":
        return _series("requests/s", "rps", "rps", _column(points, "rps")), limit
    if base in ("vus", "vus_max") and stat in ("value", "max"):
        return _series("VUs", "vus", "vus", _column(points, "vus")), limit
    return None


def _scenario_threshold_series(
    document: dict[str, Any], name: str, base: str, stat: str, limit: float
) -> tuple[dict[str, Any], float] | None:
    scenario = next((s for s in document.get("scenarios") or [] if s["name"] == name), None)
    if scenario is None:
        return None
    columns = scenario["timeseries"]
    if base == "http_req_duration" and stat == "p95":
        return _series(f"{name} p95", "ms", "p95", columns["p95_ms"]), limit
    if base == "http_req_failed" and stat == "rate":
        rates = [100 * e / r if r else 0.0 for e, r in zip(columns["errors"], columns["requests"], strict=True)]
        return _series(f"{name} errors", "pct", "errors", [round(rate, 3) for rate in rates]), 100 * limit
    return None


def _stat_key(expression: re.Match[str]) -> str:
    """`p(95)` → p95, `med` → p50; avg, min, max, rate, count and value as they are."""
    if expression["pct"] is not None:
        return f"p{float(expression['pct']):g}"
    return "p50" if expression["stat"] == "med" else expression["stat"]


# --- annotations -----------------------------------------------------------------------------------


def chart_annotations(document: dict[str, Any], t: list[int]) -> list[dict[str, Any]]:
    """Stage changes of the builder's plan and the insights' breaking point and recovery, inside the recorded seconds."""
    marks = stage_marks(document) + insight_marks(document.get("insights") or [])
    return sorted((mark for mark in marks if t[0] <= mark["t"] <= t[-1]), key=lambda mark: mark["t"])


def stage_marks(document: dict[str, Any]) -> list[dict[str, Any]]:
    config = document.get("config") or {}
    stages = planned_stages(config.get("spec") or {}, config.get("planned_duration_s") or 0, config.get("max_vus") or 0)
    marks, start_s, previous = [], 0, 0
    for number, stage in enumerate(stages, start=1):
        if number > 1:
            verb = "hold" if stage.target == previous else "ramp to"
            marks.append({"t": start_s, "kind": "stage", "label": f"stage {number}: {verb} {stage.target} VUs"})
        start_s, previous = start_s + stage.duration_s, stage.target
    return marks


def insight_marks(insights: list[dict[str, Any]]) -> list[dict[str, Any]]:
    marks = []
    for insight in insights:
        evidence = insight.get("evidence") or {}
        if insight.get("id") == "breaking_point" and "t_s" in evidence:
            marks.append({"t": evidence["t_s"], "kind": "breaking_point", "label": "breaking point"})
        elif insight.get("id") == "spike_recovered" and "recovery_s" in evidence:
            marks.append({"t": evidence["load_dropped_at_s"] + evidence["recovery_s"], "kind": "recovery", "label": "recovered"})
        elif insight.get("id") == "spike_not_recovered" and "load_dropped_at_s" in evidence:
            marks.append({"t": evidence["load_dropped_at_s"], "kind": "recovery", "label": "load dropped; not recovered"})
    return marks


# --- building blocks -------------------------------------------------------------------------------


def sla_p90_ms(document: dict[str, Any]) -> float | None:
    scored = ((document.get("sla") or {}).get("thresholds") or {}).get("p90_ms")
    return scored or ((document.get("config") or {}).get("sla") or {}).get("p90_ms")


def _thresholds_on(document: dict[str, Any], metric: str) -> list[tuple[dict[str, Any], float]]:
    """The run-wide thresholds on `metric` with their limits (a submetric's belong to its scenario)."""
    found = []
    for threshold in document.get("thresholds") or []:
        match = THRESHOLD.match(threshold["expression"])
        if threshold["metric"] == metric and match is not None:
            found.append((threshold, float(match["limit"])))
    return found


def _column(points: list[dict[str, Any]], key: str) -> list[float | None]:
    return [point.get(key) for point in points]


def _percent(rates: list[float | None]) -> list[float | None]:
    return [None if rate is None else round(100 * rate, 3) for rate in rates]


def _series(label: str, scale: str, colour: str, values: list[Any]) -> dict[str, Any]:
    return {"label": label, "scale": scale, "unit": SCALES[scale]["unit"], "colour": colour, "values": values}


def _reference(label: str, scale: str, value: float) -> dict[str, Any]:
    return {"label": label, "scale": scale, "unit": SCALES[scale]["unit"], "value": value}


def _chart(chart_id: str, title: str, series: list[dict[str, Any]], references: list[dict[str, Any]]) -> dict[str, Any]:
    """Axes for the scales the series use, ranged to the data and to the references that fit beside it."""
    axes = []
    for index, scale in enumerate(dict.fromkeys(s["scale"] for s in series)):
        peak = max((v for s in series if s["scale"] == scale for v in s["values"] if v is not None), default=0)
        data_top = max(peak, SCALES[scale]["empty_top"])
        for reference in references:
            if reference["scale"] == scale:
                _place(reference, data_top)
        drawn = [r["value"] for r in references if r["scale"] == scale and r["drawn"]]
        side = LEFT if index % 2 == 0 else RIGHT
        axes.append({"scale": scale, **_axis_fields(scale), "side": side, "range": [0, nice_ceiling(max([data_top, *drawn]))]})
    return {"id": chart_id, "title": title, "axes": axes, "series": series, "references": references}


def _axis_fields(scale: str) -> dict[str, Any]:
    return {key: SCALES[scale][key] for key in ("label", "unit")}


def _place(reference: dict[str, Any], data_top: float) -> None:
    """Drawn when inside [0, data top × headroom]; otherwise the note that says where it lies."""
    value = reference["value"]
    reference["drawn"] = 0 <= value <= data_top * REFERENCE_HEADROOM
    where = "above" if value > 0 else "below"
    reference["note"] = (
        None if reference["drawn"] else f"{reference['label']} {_amount(value, reference['unit'])} — {where} the data"
    )


def _amount(value: float, unit: str) -> str:
    return f"{value:g} {unit}"


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^n at or above `value` (a positive number): an axis top with round ticks."""
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * 10.0**exponent
        if top >= value * (1 - 1e-12):
            return round(top, 12)
    return 10.0 ** (exponent + 1)


def runs_charts(
    charts: list[tuple[str, str, list[tuple[str, str, str, list[float | None]]]]], names: list[str], marks: dict[int, str]
) -> dict[str, Any]:
    """Charts over a test's runs in the spec format: x is each run's place, oldest first, named by `names`
    (`x`); `charts` are (id, title, [(series label, scale, colour, values)]); `marks` name places (the
    baseline, this run), drawn as the annotations of a time chart are."""
    built = [
        _chart(chart_id, title, [_series(label, scale, colour, values) for label, scale, colour, values in series], [])
        for chart_id, title, series in charts
    ]
    return {
        "t": list(range(len(names))),
        "x": {"label": "runs, oldest first", "names": names},
        "annotations": [{"t": place, "kind": "event", "label": text} for place, text in sorted(marks.items())],
        "charts": built,
        "notes": [],
    }


def live_charts() -> dict[str, Any]:
    """The overview while k6 runs: no data yet, so its axes follow the data as it arrives (`range` null)."""
    chart = {**overview_chart([]), "id": "live-overview"}  # beside the results' overview while both show
    for axis in chart["axes"]:
        axis["range"] = None
    return {"t": [], "annotations": [], "charts": [chart], "notes": []}
