"""Two runs (or two groups of repeated runs) side by side, with a statistical verdict on each delta.

A difference is a regression only when it is both larger than the tolerance
(REGRESSION_TOLERANCE, relative) and significant (p < alpha) in the direction
that is worse. Latency is judged on whole distributions: every run stores
the HDR histogram of its request durations, and the two are compared with a
two-sided Mann-Whitney U test (scipy); throughput on the per-second request
counts, also with Mann-Whitney U; error and check rates with Fisher's exact
test on their counts. Each metric says which test decided it.
"""

from __future__ import annotations

import difflib
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from hdrh.histogram import HdrHistogram
from scipy import stats

from runs.engine.formatting import milliseconds, percent
from runs.engine.results import ALL_REQUESTS

ALPHA = 0.01
MAX_SAMPLES_PER_SIDE = 200_000  # a bigger distribution is scaled down, its shape kept, before ranking
MWU_LATENCY = "Mann-Whitney U (two-sided) on the request latency distributions"
MWU_LATENCY_SERIES = "Mann-Whitney U (two-sided) on per-second p95 (no stored distribution)"
MWU_RPS = "Mann-Whitney U (two-sided) on requests per second"
FISHER = "Fisher's exact test on the counts"
NO_TEST = "count, no test"
LATENCY_KEYS = {"p50": "med", "p90": "p90", "p95": "p95", "p99": "p99"}


@dataclass(frozen=True)
class RunFacts:
    """What a comparison needs of one run (read from its stored result)."""

    id: str
    metrics: dict[str, Any]
    timeseries: list[dict[str, Any]] = field(default_factory=list)
    endpoints: list[dict[str, Any]] = field(default_factory=list)
    scenarios: list[dict[str, Any]] = field(default_factory=list)
    thresholds: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    delivery: dict[str, Any] = field(default_factory=dict)
    histograms: dict[str, str] = field(default_factory=dict)  # endpoint key (or ALL_REQUESTS) -> encoded HDR
    config: dict[str, Any] = field(default_factory=dict)
    script: str = ""


@dataclass(frozen=True)
class Delta:
    name: str
    base: float
    run: float
    significant: bool | None  # None: no test applies
    p_value: float | None
    method: str
    worse_when: str  # "higher" or "lower"
    regression: bool = False

    @property
    def delta(self) -> float:
        return self.run - self.base

    @property
    def delta_pct(self) -> float | None:
        return round(100 * self.delta / self.base, 2) if self.base else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "base": _round(self.base),
            "run": _round(self.run),
            "delta": _round(self.delta),
            "delta_pct": self.delta_pct,
            "significant": self.significant,
            "p_value": None if self.p_value is None else float(f"{self.p_value:.3g}"),
            "method": self.method,
            "worse_when": self.worse_when,
            "regression": self.regression,
        }


def compare_runs(base: RunFacts, run: RunFacts, tolerance: float, alpha: float = ALPHA) -> dict[str, Any]:
    """The comparison document: headline deltas with their tests, per endpoint and scenario, what changed state."""
    deltas = _headline(base, run, tolerance, alpha)
    return {
        "base_id": base.id,
        "run_id": run.id,
        "tolerance_pct": round(100 * tolerance, 2),
        "alpha": alpha,
        "metrics": {delta.name: delta.as_dict() for delta in deltas},
        "regressions": [_regression_text(delta) for delta in deltas if delta.regression],
        "endpoints": _endpoint_deltas(base, run, tolerance, alpha),
        "scenarios": _scenario_deltas(base, run),
        "thresholds_changed": _changed(base.thresholds, run.thresholds, ("metric", "expression"), "ok"),
        "checks_changed": _check_changes(base.checks, run.checks),
        "timeseries": {"base": _series(base.timeseries), "run": _series(run.timeseries)},
        "config_diff": _diff(_config_text(base.config), _config_text(run.config), "base", "run"),
        "script_diff": _diff(base.script, run.script, "base/script", "run/script"),
    }


def compare_groups(base: list[RunFacts], run: list[RunFacts], tolerance: float, alpha: float = ALPHA) -> dict[str, Any]:
    """Two variants of repeated runs: the median of each metric over a variant's runs, with its range, and
    the tests on the variants' pooled distributions and counts."""
    pooled_base, pooled_run = _pooled(base), _pooled(run)
    deltas = _headline(pooled_base, pooled_run, tolerance, alpha, medians=(base, run))
    spread = {name: {"base": _spread(base, name), "run": _spread(run, name)} for name in (*LATENCY_KEYS, "rps", "error_rate")}
    return {
        "base_runs": [facts.id for facts in base],
        "runs": [facts.id for facts in run],
        "tolerance_pct": round(100 * tolerance, 2),
        "alpha": alpha,
        "metrics": {delta.name: {**delta.as_dict(), "spread": spread.get(delta.name)} for delta in deltas},
        "regressions": [_regression_text(delta) for delta in deltas if delta.regression],
    }


# --- the headline metrics ------------------------------------------------------------


def _headline(
    base: RunFacts, run: RunFacts, tolerance: float, alpha: float, medians: tuple[list[RunFacts], list[RunFacts]] | None = None
) -> list[Delta]:
    def value(facts: RunFacts, group: list[RunFacts] | None, name: str) -> float:
        return statistics.median(_value(member, name) for member in group) if group else _value(facts, name)

    base_group, run_group = medians or (None, None)
    latency_p, latency_method = _latency_test(base, run)
    rps_p = _mwu([point["rps"] for point in _steady(base.timeseries)], [point["rps"] for point in _steady(run.timeseries)])
    error_p = _fisher(_failed_counts(base), _failed_counts(run))
    checks_p = _fisher(_check_counts(base), _check_counts(run))
    rows = [
        *((name, latency_p, latency_method, "higher") for name in LATENCY_KEYS),
        ("rps", rps_p, MWU_RPS, "lower"),
        ("error_rate", error_p, FISHER, "higher"),
        ("checks", checks_p, FISHER, "lower"),
        ("dropped_iterations", None, NO_TEST, "higher"),
    ]
    deltas = []
    for name, p_value, method, worse_when in rows:
        if name == "checks" and not _check_counts(base)[1] and not _check_counts(run)[1]:
            continue  # neither run has checks
        before, after = value(base, base_group, name), value(run, run_group, name)
        significant = None if p_value is None else p_value < alpha
        delta = Delta(name, before, after, significant, p_value, method, worse_when)
        deltas.append(_judged(delta, tolerance))
    return deltas


def _judged(delta: Delta, tolerance: float) -> Delta:
    worse = delta.delta > 0 if delta.worse_when == "higher" else delta.delta < 0
    if delta.base:
        beyond = abs(delta.delta) > tolerance * abs(delta.base)
    else:
        beyond = abs(delta.delta) > 0  # from nothing (no errors) to something
    regression = bool(
        worse and beyond and (delta.significant or (delta.significant is None and delta.name == "dropped_iterations"))
    )
    return Delta(**{**delta.__dict__, "regression": regression})


def _value(facts: RunFacts, name: str) -> float:
    metrics = facts.metrics
    if name in LATENCY_KEYS:
        return float((metrics.get("http_req_duration") or {}).get(LATENCY_KEYS[name]) or 0.0)
    if name == "rps":
        return float((metrics.get("http_reqs") or {}).get("rate") or 0.0)
    if name == "error_rate":
        return float((metrics.get("http_req_failed") or {}).get("rate") or 0.0)
    if name == "checks":
        return float((metrics.get("checks") or {}).get("rate") or 0.0)
    return float((metrics.get("dropped_iterations") or {}).get("count") or 0.0)


def _failed_counts(facts: RunFacts) -> tuple[int, int]:
    failed = facts.metrics.get("http_req_failed") or {}
    return int(failed.get("passes") or 0), int((failed.get("passes") or 0) + (failed.get("fails") or 0))


def _check_counts(facts: RunFacts) -> tuple[int, int]:
    checks = facts.metrics.get("checks") or {}
    passes, fails = int(checks.get("passes") or 0), int(checks.get("fails") or 0)
    return fails, passes + fails  # failures first: a rise is what hurts


# --- the tests -----------------------------------------------------------------------


def _latency_test(base: RunFacts, run: RunFacts) -> tuple[float | None, str]:
    before, after = base.histograms.get(ALL_REQUESTS), run.histograms.get(ALL_REQUESTS)
    if before and after:
        return _mwu_histograms(before, after), MWU_LATENCY
    series = [[point["p95_ms"] for point in _steady(facts.timeseries)] for facts in (base, run)]
    return _mwu(series[0], series[1]), MWU_LATENCY_SERIES


def _mwu_histograms(before: str, after: str) -> float | None:
    return _mwu_arrays(_samples(before), _samples(after))


def _samples(encoded: str) -> np.ndarray:
    """The recorded durations (µs) of an encoded HDR histogram, as many as were recorded, at most
    MAX_SAMPLES_PER_SIDE (each bucket's count scaled alike beyond that). Read from its counts array:
    the library's own iterator steps through every empty bucket in Python."""
    histogram = HdrHistogram.decode(encoded.encode())
    counts = np.ctypeslib.as_array(histogram.counts)[: histogram.counts_len]
    filled = np.nonzero(counts)[0]
    values = [histogram.get_highest_equivalent_value(histogram.get_value_from_index(int(index))) for index in filled]
    total = int(counts[filled].sum())
    scale = min(1.0, MAX_SAMPLES_PER_SIDE / total) if total else 1.0
    scaled = np.maximum(1, np.rint(counts[filled] * scale)).astype(np.int64)
    return np.repeat(np.asarray(values, dtype=np.float64), scaled)


def _mwu(before: list[float], after: list[float]) -> float | None:
    return _mwu_arrays(np.asarray(before, dtype=np.float64), np.asarray(after, dtype=np.float64))


def _mwu_arrays(before: np.ndarray, after: np.ndarray) -> float | None:
    if len(before) < 2 or len(after) < 2:
        return None
    if np.all(before == before[0]) and np.all(after == before[0]):
        return 1.0  # identical constants: nothing to tell apart
    return float(stats.mannwhitneyu(before, after, alternative="two-sided", method="asymptotic").pvalue)


def _fisher(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    (hits_before, total_before), (hits_after, total_after) = before, after
    if not total_before or not total_after:
        return None
    table = np.array([[hits_before, total_before - hits_before], [hits_after, total_after - hits_after]])
    return float(stats.fisher_exact(table).pvalue)


def _steady(timeseries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The seconds between the first and the last (both partial) that had requests."""
    active = [point for point in timeseries if point.get("rps")]
    return active[1:-1] if len(active) > 3 else active


# --- endpoints, scenarios, states, series, diffs ----------------------------------------------


def _endpoint_key(row: dict[str, Any]) -> str:
    return f"{row.get('method', '')} {row.get('name', '')} {row.get('status', '')}".strip()


def _endpoint_deltas(base: RunFacts, run: RunFacts, tolerance: float, alpha: float) -> list[dict[str, Any]]:
    before = {_endpoint_key(row): row for row in base.endpoints}
    rows = []
    for row in run.endpoints:
        key = _endpoint_key(row)
        if key not in before:
            continue
        histograms = (base.histograms.get(key), run.histograms.get(key))
        p_value = _mwu_histograms(*histograms) if all(histograms) else None  # type: ignore[arg-type]
        delta = _judged(
            Delta("p95", before[key]["p95_ms"], row["p95_ms"], None if p_value is None else p_value < alpha, p_value,
                  MWU_LATENCY if p_value is not None else NO_TEST, "higher"),
            tolerance,
        )  # fmt: skip
        rows.append({"endpoint": key, "count": {"base": before[key]["count"], "run": row["count"]}, "p95_ms": delta.as_dict()})
    return rows


def _scenario_deltas(base: RunFacts, run: RunFacts) -> list[dict[str, Any]]:
    before = {row.get("name"): row for row in base.scenarios}
    rows = []
    for row in run.scenarios:
        if (old := before.get(row.get("name"))) is None:
            continue
        rows.append(
            {
                "scenario": row.get("name"),
                **{
                    key: {"base": old.get(key), "run": row.get(key)} for key in ("requests", "error_rate", "p95_ms", "iterations")
                },
            }
        )
    return rows


def _changed(
    before: list[dict[str, Any]], after: list[dict[str, Any]], keys: tuple[str, ...], state: str
) -> list[dict[str, Any]]:
    old = {tuple(row.get(key) for key in keys): row.get(state) for row in before}
    return [
        {**{key: row.get(key) for key in keys}, "base": old[identity], "run": row.get(state)}
        for row in after
        if (identity := tuple(row.get(key) for key in keys)) in old and old[identity] != row.get(state)
    ]


def _check_changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Checks that went from all passing to failing, or back."""
    passing = [{**row, "passing": not row.get("fails")} for row in before]
    now = [{**row, "passing": not row.get("fails")} for row in after]
    return _changed(passing, now, ("group", "name"), "passing")


def _series(timeseries: list[dict[str, Any]]) -> list[list[float]]:
    """[elapsed s, p95 ms, rps, error rate] per second: both runs aligned on their start."""
    return [[point["t"], point.get("p95_ms", 0.0), point.get("rps", 0), point.get("error_rate", 0.0)] for point in timeseries]


def _config_text(config: dict[str, Any]) -> str:
    return orjson.dumps(config, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def _diff(before: str, after: str, before_name: str, after_name: str) -> str:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), before_name, after_name, lineterm="")
    return "\n".join(lines)


# --- groups ------------------------------------------------------------------------------


def _pooled(group: list[RunFacts]) -> RunFacts:
    """One variant's runs as one: histograms added, counts summed, seconds concatenated."""
    merged: HdrHistogram | None = None
    for facts in group:
        if encoded := facts.histograms.get(ALL_REQUESTS):
            histogram = HdrHistogram.decode(encoded.encode())
            merged = histogram if merged is None else _added(merged, histogram)
    metrics = {
        "http_req_failed": _summed(group, "http_req_failed", ("passes", "fails")),
        "checks": _summed(group, "checks", ("passes", "fails")),
    }
    histograms = {ALL_REQUESTS: merged.encode().decode()} if merged is not None else {}
    timeseries = [point for facts in group for point in _steady(facts.timeseries)]
    return RunFacts(id=",".join(facts.id for facts in group), metrics=metrics, timeseries=timeseries, histograms=histograms)


def _added(into: HdrHistogram, other: HdrHistogram) -> HdrHistogram:
    into.add(other)
    return into


def _summed(group: Iterable[RunFacts], metric: str, keys: tuple[str, ...]) -> dict[str, int]:
    return {key: sum(int((facts.metrics.get(metric) or {}).get(key) or 0) for facts in group) for key in keys}


def _spread(group: list[RunFacts], name: str) -> dict[str, float] | None:
    values = sorted(_value(facts, name) for facts in group)
    if not values:
        return None
    return {"min": _round(values[0]), "median": _round(statistics.median(values)), "max": _round(values[-1]), "n": len(values)}


# --- words ---------------------------------------------------------------------------------


def _regression_text(delta: Delta) -> str:
    if delta.name in LATENCY_KEYS:
        before, after = milliseconds(delta.base), milliseconds(delta.run)
    elif delta.name in ("error_rate", "checks"):
        before, after = percent(delta.base), percent(delta.run)
    else:
        unit = " req/s" if delta.name == "rps" else ""
        before, after = f"{delta.base:.4g}{unit}", f"{delta.run:.4g}{unit}"
    change = f" ({delta.delta_pct:+.1f} %)" if delta.delta_pct is not None else ""
    test = "" if delta.p_value is None else f", p = {delta.p_value:.2g} ({delta.method})"
    return f"{delta.name} went from {before} to {after}{change}{test}"


def _round(value: float) -> float:
    return round(float(value), 4)
