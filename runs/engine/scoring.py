"""SLA score (0–100) and grade (A/B/C/F). The README documents this formula.

Three weighted criteria: success rate ≥ threshold, error rate ≤ threshold, p90
of the *successful* responses ≤ threshold. A met criterion earns 80 % of its
weight, rising to 100 % with headroom (a quarter of the way from the threshold
to the ideal); a missed one earns at most 50 %, falling to 0 when it misses by
half. With no checks in the script, success rate is just 1 − error rate, so the
two are scored as one signal: both use the worse of the two and they count as
a single miss.

Unweighted criteria only cap: every k6 threshold of the script, and (for
arrival-rate runs) the share of planned iterations k6 dropped. One miss of any
kind caps the score at 74 (C at best), two or more at 59 (F).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings

from runs.engine.formatting import milliseconds, percent

WEIGHTS = {"success_rate": 35.0, "error_rate": 35.0, "p90_ms": 30.0}
MET_BASE = 0.8
FULL_HEADROOM = 0.25
MISS_BASE = 0.5
MISS_TO_ZERO = 1.0
ONE_MISS_CAP = 74.0
TWO_MISS_CAP = 59.0
EPSILON = 1e-9
GRADES = (("A", 90.0, "Excellent"), ("B", 75.0, "Good"), ("C", 60.0, "Needs improvement"), ("F", float("-inf"), "Fail"))
# k6 reports latency of the responses it counts as expected (2xx/3xx by default) under this sub-metric.
SUCCESSFUL_DURATION = "http_req_duration{expected_response:true}"
THRESHOLD_EXPRESSION = re.compile(
    r"^\s*(?P<stat>[a-z]+|p\(\d+(?:\.\d+)?\))\s*(?P<op><=|>=|===|==|!=|<|>)\s*(?P<limit>-?[\d.]+)\s*$"
)
STAT_KEYS = {"p(90)": "p90", "p(95)": "p95", "p(99)": "p99"}
# How a script can declare its own test failed: a missed criterion, like a failed threshold.
SCRIPT_ENDINGS = {
    "script_abort": ("Ran to its end", "the script stopped the test with test.abort()"),
    "script_fail": ("Not marked failed", "the script marked the test as failed with test.fail()"),
}


@dataclass(frozen=True)
class SlaThresholds:
    success_rate: float
    error_rate: float
    p90_ms: float

    @classmethod
    def from_settings(cls, overrides: dict[str, float] | None = None) -> SlaThresholds:
        values = {
            "success_rate": settings.THRESHOLD_SUCCESS_RATE,
            "error_rate": settings.THRESHOLD_ERROR_RATE,
            "p90_ms": settings.THRESHOLD_P90_MS,
        }
        values.update(overrides or {})
        return cls(**values)


@dataclass(frozen=True)
class Criterion:
    key: str
    label: str
    value: float | None  # None: nothing to measure it on (no successful response, a stat k6 did not export)
    threshold: float
    comparator: str  # ">=", "<=", or a k6 threshold's own operator
    met: bool
    points: float
    max_points: float
    note: str = ""
    kind: str = "sla"  # "sla" (weighted), "threshold" (a k6 threshold) or "dropped" (arrival-rate load)
    unit: str = ""  # "ms", "rate" or ""


@dataclass(frozen=True)
class Delivered:
    """What the unweighted criteria read besides the metrics."""

    thresholds: list[dict[str, Any]]
    dropped_ratio: float | None  # None: not an arrival-rate run (k6 dropped nothing)
    max_dropped_ratio: float
    end_reason: str = "completed"  # "script_abort" / "script_fail": the script itself declared the test failed


def grade_for(score: float) -> tuple[str, str]:
    for letter, floor, label in GRADES:
        if score >= floor:
            return letter, label
    raise AssertionError("unreachable: F has no floor")


def score_run(metrics: dict[str, Any], has_checks: bool, sla: SlaThresholds, delivered: Delivered) -> dict[str, Any]:
    unweighted = _threshold_criteria(metrics, delivered.thresholds)
    if delivered.dropped_ratio is not None:
        unweighted.append(_dropped_criterion(delivered.dropped_ratio, delivered.max_dropped_ratio))
    if delivered.end_reason in SCRIPT_ENDINGS:
        unweighted.append(_ended_by_script(delivered.end_reason))
    if not metrics.get("http_reqs", {}).get("count", 0):
        # Nothing to grade, but a failed threshold (k6 exits 99) or test.fail() still fails the verdict.
        return _ungraded(["The run made no HTTP requests, so there is nothing to grade."], sla, unweighted)
    criteria = _sla_criteria(metrics, has_checks, sla) + unweighted
    return _scorecard(*_total(criteria, has_checks), sla, criteria)


def _sla_criteria(metrics: dict[str, Any], has_checks: bool, sla: SlaThresholds) -> list[Criterion]:
    error_rate = metrics["http_req_failed"]["rate"]
    success_rate = metrics["checks"]["rate"] if has_checks else 1.0 - error_rate
    p90_ms, latency_note = _successful_p90_ms(metrics)
    q_success = _quality_at_least(success_rate, sla.success_rate)
    q_error = _quality_at_most_rate(error_rate, sla.error_rate)
    q_latency = _quality_at_most(p90_ms, sla.p90_ms) if p90_ms is not None else 0.0
    note = ""
    if not has_checks:
        # Same signal twice: score it once.
        q_success = q_error = min(q_success, q_error)
        note = "no checks in the script: success rate is 1 − error rate and is scored with it"
    return [
        _criterion("success_rate", "Success rate", success_rate, sla.success_rate, ">=", q_success, note, "rate"),
        _criterion("error_rate", "Error rate", error_rate, sla.error_rate, "<=", q_error, note, "rate"),
        _criterion("p90_ms", "p90 latency", p90_ms, sla.p90_ms, "<=", q_latency, latency_note, "ms"),
    ]


def _successful_p90_ms(metrics: dict[str, Any]) -> tuple[float | None, str]:
    """Failed requests are often fast: latency is graded on the successful ones only."""
    if metrics["http_req_failed"].get("fails", 1) == 0:  # `fails` of http_req_failed: requests that did not fail
        return None, "no successful response to measure"
    successful = metrics.get(SUCCESSFUL_DURATION)
    if successful and successful.get("p90") is not None:
        return successful["p90"], "of successful responses"
    # The script turned off the expected_response system tag, so k6 exported no such sub-metric.
    return metrics["http_req_duration"].get("p90"), "of all responses (the script turned off the expected_response tag)"


def _threshold_criteria(metrics: dict[str, Any], thresholds: list[dict[str, Any]]) -> list[Criterion]:
    return [_threshold_criterion(metrics, row) for row in thresholds]


def _threshold_criterion(metrics: dict[str, Any], row: dict[str, Any]) -> Criterion:
    parsed = THRESHOLD_EXPRESSION.match(row["expression"])
    stat = parsed.group("stat") if parsed else ""
    observed = metrics.get(row["metric"], {}).get(STAT_KEYS.get(stat, stat)) if parsed else None
    return Criterion(
        key=f"threshold:{row['metric']}:{row['expression']}",
        label=f"{row['metric']} {row['expression']}",
        value=observed if isinstance(observed, (int, float)) else None,
        threshold=float(parsed.group("limit")) if parsed else 0.0,
        comparator=parsed.group("op") if parsed else "",
        met=bool(row["ok"]),
        points=0.0,
        max_points=0.0,
        note="k6 threshold from the script",
        kind="threshold",
        unit=threshold_unit(row["metric"], stat, "passes" in metrics.get(row["metric"], {})),
    )


def threshold_unit(metric: str, stat: str, is_rate_metric: bool) -> str:
    if stat == "rate":
        return "rate" if is_rate_metric else "per_s"  # a Counter's rate is per second, not a share
    if stat == "count":
        return ""
    base = metric.split("{", 1)[0]
    return "ms" if base.startswith("http_req_") or base.endswith("_duration") else ""


def _dropped_criterion(ratio: float, limit: float) -> Criterion:
    met = ratio <= limit + EPSILON
    note = "share of the planned iterations k6 could not start (not enough VUs: the target was too slow)"
    return Criterion("dropped_ratio", "Dropped iterations", ratio, limit, "<=", met, 0.0, 0.0, note, "dropped", "rate")


def _ended_by_script(end_reason: str) -> Criterion:
    label, note = SCRIPT_ENDINGS[end_reason]
    return Criterion("script_end", label, None, 0.0, "", False, 0.0, 0.0, note, "end")


def _criterion(
    key: str, label: str, value: float | None, threshold: float, comparator: str, quality: float, note: str, unit: str
) -> Criterion:
    if value is None:
        met = False
    else:
        met = value >= threshold - EPSILON if comparator == ">=" else value <= threshold + EPSILON
    return Criterion(
        key, label, value, threshold, comparator, met, round(WEIGHTS[key] * quality, 2), WEIGHTS[key], note, "sla", unit
    )


def _total(criteria: list[Criterion], has_checks: bool) -> tuple[float, list[str]]:
    score = sum(c.points for c in criteria)
    missed = [c for c in criteria if not c.met]
    misses = len(missed)
    by_key = {c.key: c for c in criteria}
    if not has_checks and not by_key["success_rate"].met and not by_key["error_rate"].met:
        misses -= 1  # one signal, one miss
    if misses == 1:
        score = min(score, ONE_MISS_CAP)
    elif misses >= 2:
        score = min(score, TWO_MISS_CAP)
    return round(score, 1), [criterion_sentence(c) for c in missed]


def criterion_sentence(c: Criterion | dict[str, Any]) -> str:
    """One sentence with the numbers: 'p90 latency 412.0 ms misses <= 200.0 ms'."""
    row = asdict(c) if isinstance(c, Criterion) else c
    if row["kind"] == "threshold":
        return f"k6 threshold {row['label']} failed (observed {format_value(row['value'], row['unit'])})"
    if row["kind"] == "end":
        return row["note"][0].upper() + row["note"][1:]
    if row["value"] is None:
        return f"{row['label']} could not be measured ({row['note']}), so it is missed"
    value, limit = format_value(row["value"], row["unit"]), format_value(row["threshold"], row["unit"])
    return f"{row['label']} {value} misses {row['comparator']} {limit}"


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "not exported by k6"
    if unit == "rate":
        return percent(value)
    if unit == "ms":
        return milliseconds(value)
    if unit == "per_s":
        return f"{value:.4g}/s"
    return f"{value:.4g}"


def _scorecard(score: float, reasons: list[str], sla: SlaThresholds, criteria: list[Criterion]) -> dict[str, Any]:
    letter, label = grade_for(score)
    return {
        "score": score,
        "grade": letter,
        "grade_label": label,
        "passed": all(c.met for c in criteria),
        "criteria": [asdict(c) for c in criteria],
        "reasons": reasons,
        "thresholds": asdict(sla),
    }


def _ungraded(reasons: list[str], sla: SlaThresholds, criteria: list[Criterion]) -> dict[str, Any]:
    return {
        "score": None,
        "grade": None,
        "grade_label": None,
        "passed": False,
        "criteria": [asdict(c) for c in criteria],
        "reasons": reasons,
        "thresholds": asdict(sla),
    }


def _quality_met(headroom: float) -> float:
    return MET_BASE + (1 - MET_BASE) * min(1.0, max(0.0, headroom) / FULL_HEADROOM)


def _quality_missed(overshoot: float) -> float:
    return MISS_BASE * max(0.0, 1 - overshoot / MISS_TO_ZERO)


def _quality_at_least(value: float, threshold: float) -> float:
    if value >= threshold - EPSILON:
        return _quality_met((value - threshold) / (1 - threshold) if threshold < 1 else 1.0)
    return _quality_missed((threshold - value) / threshold)


def _quality_at_most_rate(value: float, threshold: float) -> float:
    if value <= threshold + EPSILON:
        return _quality_met((threshold - value) / threshold if threshold > 0 else 1.0)
    return _quality_missed((value - threshold) / (1 - threshold) if threshold < 1 else 0.0)


def _quality_at_most(value: float, threshold: float) -> float:
    if value <= threshold + EPSILON:
        return _quality_met((threshold - value) / threshold)
    return _quality_missed((value - threshold) / threshold)
