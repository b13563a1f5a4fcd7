"""One test split over several k6 processes, and their results made one again.

k6 splits a test itself (`--execution-segment`): each process runs its share of the VUs and iterations of
every scenario. What it cannot do is add the parts up — its summary's percentiles are not mergeable and
each process judges its thresholds on its own share (grafana/k6#140). So each segment keeps, beside
k6's summary, what can be added up: per metric and per thresholded submetric the sample count, sum,
min, max, last value and an HDR histogram, read from its CSV samples once k6 has ended. The merged
summary has k6's export shape, its thresholds judged again on the merged numbers, so everything after
it (scorecard, verdict, reports) reads a split run like any other.
"""

from __future__ import annotations

import csv
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from runs.engine.results import metric_tags, new_histogram, percentile, record_ms

# A sum of vus (each process has its share); for other gauges the latest value wins.
SUMMED_GAUGES = {"vus", "vus_max"}
THRESHOLD = re.compile(
    r"^\s*(avg|min|max|med|count|rate|value|p\((\d+(?:\.\d+)?)\))\s*(<=|>=|===|==|!=|<|>)\s*(-?[\d.]+(?:e-?\d+)?)\s*$"
)
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "===": operator.eq, "!=": operator.ne,
}  # fmt: skip
TREND_STATS = ("avg", "min", "med", "max", "p(90)", "p(95)", "p(99)")
EXACT_MAX = 10_000  # a Trend's values kept as they are up to this many (per segment, and merged)


def segment_arguments(index: int, count: int) -> list[str]:
    """k6's flags for segment `index` (from 0) of `count` equal ones; the sequence makes every process cut
    the test the same way, so the parts add up to exactly the whole (k6's VU striping)."""
    if count <= 1:
        return []
    bounds = [Fraction(i, count) for i in range(count + 1)]
    sequence = ",".join(str(bound) for bound in bounds)
    return ["--execution-segment", f"{bounds[index]}:{bounds[index + 1]}", "--execution-segment-sequence", sequence]


# --- what a segment keeps --------------------------------------------------------


@dataclass
class Aggregate:
    """Every sample of one metric (or submetric) in one process, in a form that adds up across processes."""

    count: int = 0
    total: float = 0.0
    minimum: float | None = None
    maximum: float | None = None
    nonzero: int = 0  # a Rate's true samples
    last: float | None = None
    last_t: int = -1
    trend: bool = True  # only a Trend's distribution is kept: the others are counts
    histogram: HdrHistogram = field(default_factory=new_histogram)
    # A Trend's values themselves while there are few (k6's own percentile on them, exactly); None past EXACT_MAX.
    values: list[float] | None = field(default_factory=list)

    def add(self, value: float, t: int) -> None:
        self.count += 1
        self.total += value
        self.minimum = value if self.minimum is None else min(self.minimum, value)
        self.maximum = value if self.maximum is None else max(self.maximum, value)
        self.nonzero += value != 0
        if t >= self.last_t:
            self.last, self.last_t = value, t
        if self.trend:
            record_ms(self.histogram, value)  # in the Trend's own unit (ms for time), to 1/1000 of it
            self._keep([value])

    def merge(self, other: Aggregate) -> None:
        self.count += other.count
        self.total += other.total
        for bound, pick in (("minimum", min), ("maximum", max)):
            mine, theirs = getattr(self, bound), getattr(other, bound)
            setattr(self, bound, theirs if mine is None else mine if theirs is None else pick(mine, theirs))
        self.nonzero += other.nonzero
        if other.last_t > self.last_t:
            self.last, self.last_t = other.last, other.last_t
        if self.trend and other.count:
            self.histogram.add(other.histogram)
            self._keep(other.values)

    def _keep(self, values: list[float] | None) -> None:
        if self.values is None or values is None or len(self.values) + len(values) > EXACT_MAX:
            self.values = None
        else:
            self.values.extend(values)

    def as_state(self) -> dict[str, Any]:
        return {
            "count": self.count, "total": self.total, "min": self.minimum, "max": self.maximum, "nonzero": self.nonzero,
            "last": self.last, "last_t": self.last_t, "hdr": self.histogram.encode().decode() if self.trend and self.count else "",
            "values": self.values if self.trend else None,
        }  # fmt: skip

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Aggregate:
        hdr = state.get("hdr")
        histogram = HdrHistogram.decode(hdr.encode()) if hdr else new_histogram()
        fields = (state["count"], state["total"], state["min"], state["max"], state["nonzero"], state["last"], state["last_t"])
        return cls(*fields, trend=bool(hdr), histogram=histogram, values=state.get("values"))

    def percentile(self, pct: float) -> float:
        """k6's own percentile (linear between ranks) on the values when they were kept, else the histogram's."""
        if not self.count:
            return 0.0
        if self.values is not None and len(self.values) == self.count:
            return percentile(sorted(self.values), pct / 100)
        return self.histogram.get_value_at_percentile(pct) / 1000


def aggregate_samples(csv_path: Path, summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each metric and submetric of k6's summary, added up from the CSV samples (what merging needs)."""
    names = list(summary.get("metrics", {}))
    wanted: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for name in names:
        wanted.setdefault(name.split("{", 1)[0], []).append((name, metric_tags(name)))
    metrics = summary.get("metrics", {})
    aggregates = {name: Aggregate(trend=_kind(metrics[name]) == "trend") for name in names}
    try:
        handle = csv_path.open(newline="", encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return {}
    with handle:
        rows = csv.reader(handle)
        columns = {column: index for index, column in enumerate(next(rows, []))}
        for row in rows:
            targets = wanted.get(row[0]) if row else None
            if not targets:
                continue
            try:
                value, t = float(row[columns["metric_value"]]), int(row[columns["timestamp"]])
            except (IndexError, ValueError):
                continue  # a row cut short when k6 was killed mid-write
            tags: dict[str, str] | None = None
            for name, selector in targets:
                if selector:
                    tags = tags if tags is not None else _row_tags(row, columns)
                    if any(tags.get(key) != wanted_value for key, wanted_value in selector.items()):
                        continue
                aggregates[name].add(value, t)
    return {name: aggregate.as_state() for name, aggregate in aggregates.items()}


def _row_tags(row: list[str], columns: dict[str, int]) -> dict[str, str]:
    tags = {name: row[index] for name, index in columns.items() if name not in ("extra_tags", "metadata") and index < len(row)}
    extra = row[columns["extra_tags"]] if "extra_tags" in columns and columns["extra_tags"] < len(row) else ""
    for pair in filter(None, extra.split("&")):
        key, _, value = pair.partition("=")
        tags[key] = value
    return tags


# --- merging ---------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentPart:
    """What one segment brought back: k6's summary and its samples added up (`aggregate_samples`)."""

    summary: dict[str, Any]
    aggregates: dict[str, dict[str, Any]]


def merge_summaries(parts: list[SegmentPart]) -> dict[str, Any]:
    """One summary in k6's export shape for the whole test, thresholds judged on the merged numbers."""
    kinds = {name: _kind(values) for part in parts for name, values in part.summary.get("metrics", {}).items()}
    expressions: dict[str, list[str]] = {}
    for part in parts:
        for name, values in part.summary.get("metrics", {}).items():
            for expression in values.get("thresholds", {}):
                if expression not in expressions.setdefault(name, []):
                    expressions[name].append(expression)
    durations_s = [_duration_s(part.summary) for part in parts]
    duration_s = max((d for d in durations_s if d), default=0.0)
    metrics: dict[str, Any] = {}
    for name, kind in kinds.items():
        merged = Aggregate(trend=kind == "trend")
        for part in parts:
            if name in part.aggregates:
                merged.merge(Aggregate.from_state(part.aggregates[name]))
        values = _values(name, kind, merged, parts, duration_s)
        if name in expressions:
            values["thresholds"] = {expression: crossed(expression, values, merged) for expression in expressions[name]}
        metrics[name] = values
    return {"metrics": metrics, "root_group": merge_groups([part.summary.get("root_group", {}) for part in parts])}


def _kind(values: dict[str, Any]) -> str:
    if "passes" in values:
        return "rate"
    if "count" in values:
        return "counter"
    if "avg" in values or "p(95)" in values or "med" in values:
        return "trend"
    return "gauge"


def _duration_s(summary: dict[str, Any]) -> float:
    """How long the process ran its test, from a counter's count and rate (k6's export leaves it out)."""
    for values in summary.get("metrics", {}).values():
        if values.get("count") and values.get("rate"):
            return float(values["count"]) / float(values["rate"])
    return 0.0


def _values(name: str, kind: str, merged: Aggregate, parts: list[SegmentPart], duration_s: float) -> dict[str, Any]:
    if kind == "trend":
        if not merged.count:
            return dict.fromkeys(TREND_STATS, 0.0)
        pcts = {"med": 50.0, "p(90)": 90.0, "p(95)": 95.0, "p(99)": 99.0}
        return {
            "avg": merged.total / merged.count,
            "min": merged.minimum or 0.0,
            "max": merged.maximum or 0.0,
            **{stat: _within(merged.percentile(pct), merged) for stat, pct in pcts.items()},
        }
    if kind == "rate":
        passes = sum(part.summary["metrics"].get(name, {}).get("passes", 0) for part in parts)
        fails = sum(part.summary["metrics"].get(name, {}).get("fails", 0) for part in parts)
        return {"passes": passes, "fails": fails, "value": passes / (passes + fails) if passes + fails else 0.0}
    if kind == "counter":
        count = sum(part.summary["metrics"].get(name, {}).get("count", 0) for part in parts)
        return {"count": count, "rate": count / duration_s if duration_s else 0.0}
    given = [part.summary["metrics"][name] for part in parts if name in part.summary["metrics"]]
    if name.split("{", 1)[0] in SUMMED_GAUGES:
        return {key: sum(values.get(key, 0) for values in given) for key in ("value", "min", "max")}
    return {
        "value": merged.last if merged.last is not None else max((v.get("value", 0) for v in given), default=0),
        "min": min((v.get("min", 0) for v in given), default=0),
        "max": max((v.get("max", 0) for v in given), default=0),
    }


def _within(value: float, merged: Aggregate) -> float:
    """A histogram percentile never outside the samples' exact range (the histogram rounds to 1/1000)."""
    low = merged.minimum if merged.minimum is not None else value
    high = merged.maximum if merged.maximum is not None else value
    return min(max(value, low), high)


def crossed(expression: str, values: dict[str, Any], merged: Aggregate) -> bool:
    """Whether a k6 threshold expression is crossed by the merged values (k6's export: true = crossed).

    As k6 does, a Rate without samples crosses nothing (it has no rate), while an empty Counter, Gauge or
    Trend is judged on zeros; an expression this cannot read is crossed, so that it is never passed unread.
    """
    match = THRESHOLD.match(expression)
    if not match:
        return True
    aggregation, pct, op, bound = match.groups()
    if "passes" in values and not values["passes"] + values["fails"]:
        return False
    if pct is not None:
        actual: float | None = _within(merged.percentile(float(pct)), merged)
    else:
        actual = values.get("value") if aggregation == "rate" and "passes" in values else values.get(aggregation)
    if actual is None:
        return True
    return not OPERATORS[op](float(actual), float(bound))


def merge_groups(roots: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """k6's group tree with every check's passes and fails summed over the processes."""
    merged: dict[str, Any] = {}
    for root in roots:
        _merge_group(merged, root)
    return merged


def _merge_group(into: dict[str, Any], group: dict[str, Any]) -> None:
    for key in ("name", "path", "id"):
        if key in group:
            into.setdefault(key, group[key])
    checks = into.setdefault("checks", {})
    for key, check in (group.get("checks") or {}).items():
        mine = checks.setdefault(key, {**check, "passes": 0, "fails": 0})
        mine["passes"] += check.get("passes", 0)
        mine["fails"] += check.get("fails", 0)
    groups = into.setdefault("groups", {})
    for key, child in (group.get("groups") or {}).items():
        _merge_group(groups.setdefault(key, {}), child)
