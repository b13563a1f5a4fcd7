"""SLA score (0–100) and grade (A/B/C/F). The README documents this formula.

Three criteria: success rate ≥ threshold, error rate ≤ threshold, p90 ≤ threshold.
A met criterion earns 80 % of its weight, rising to 100 % with headroom
(a quarter of the way from the threshold to the ideal); a missed one earns at
most 50 %, falling to 0 when it misses by half. One miss caps the score at 74
(C at best), two or more at 59 (F). With no checks in the script, success rate
is just 1 − error rate, so the two are scored as one signal: both use the worse
of the two and they count as a single miss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings

WEIGHTS = {"success_rate": 35.0, "error_rate": 35.0, "p90_ms": 30.0}
MET_BASE = 0.8
FULL_HEADROOM = 0.25
MISS_BASE = 0.5
MISS_TO_ZERO = 1.0
ONE_MISS_CAP = 74.0
TWO_MISS_CAP = 59.0
EPSILON = 1e-9
GRADES = (("A", 90.0, "Excellent"), ("B", 75.0, "Good"), ("C", 60.0, "Needs improvement"), ("F", float("-inf"), "Fail"))


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
    value: float
    threshold: float
    comparator: str  # ">=" or "<="
    met: bool
    points: float
    max_points: float
    note: str = ""


def grade_for(score: float) -> tuple[str, str]:
    for letter, floor, label in GRADES:
        if score >= floor:
            return letter, label
    raise AssertionError("unreachable: F has no floor")


def score_run(metrics: dict[str, Any], has_checks: bool, sla: SlaThresholds) -> dict[str, Any]:
    requests = metrics.get("http_reqs", {}).get("count", 0)
    if not requests:
        return _scorecard(0.0, ["The run made no HTTP requests, so there is nothing to grade."], sla)
    error_rate = metrics["http_req_failed"]["rate"]
    success_rate = metrics["checks"]["rate"] if has_checks else 1.0 - error_rate
    p90_ms = metrics["http_req_duration"]["p90"]
    q_success = _quality_at_least(success_rate, sla.success_rate)
    q_error = _quality_at_most_rate(error_rate, sla.error_rate)
    q_latency = _quality_at_most(p90_ms, sla.p90_ms)
    note = ""
    if not has_checks:
        # Same signal twice: score it once.
        q_success = q_error = min(q_success, q_error)
        note = "no checks in the script: success rate is 1 − error rate and is scored with it"
    criteria = [
        _criterion("success_rate", "Success rate", success_rate, sla.success_rate, ">=", q_success, note),
        _criterion("error_rate", "Error rate", error_rate, sla.error_rate, "<=", q_error, note),
        _criterion("p90_ms", "p90 latency (ms)", p90_ms, sla.p90_ms, "<=", q_latency),
    ]
    return _scorecard(*_total(criteria, has_checks), sla, criteria)


def _criterion(
    key: str, label: str, value: float, threshold: float, comparator: str, quality: float, note: str = ""
) -> Criterion:
    met = value >= threshold - EPSILON if comparator == ">=" else value <= threshold + EPSILON
    return Criterion(key, label, value, threshold, comparator, met, round(WEIGHTS[key] * quality, 2), WEIGHTS[key], note)


def _total(criteria: list[Criterion], has_checks: bool) -> tuple[float, list[str]]:
    score = sum(c.points for c in criteria)
    missed = [c for c in criteria if not c.met]
    misses = len(missed)
    if not has_checks and not criteria[0].met and not criteria[1].met:
        misses -= 1  # one signal, one miss
    reasons = [f"{c.label} {_fmt(c.value)} misses {c.comparator} {_fmt(c.threshold)}" for c in missed]
    if misses == 1:
        score = min(score, ONE_MISS_CAP)
    elif misses >= 2:
        score = min(score, TWO_MISS_CAP)
    return round(score, 1), reasons


def _scorecard(score: float, reasons: list[str], sla: SlaThresholds, criteria: list[Criterion] | None = None) -> dict[str, Any]:
    letter, label = grade_for(score)
    return {
        "score": score,
        "grade": letter,
        "grade_label": label,
        "passed": all(c.met for c in criteria) if criteria else False,
        "criteria": [asdict(c) for c in criteria or []],
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


def _fmt(value: float) -> str:
    return f"{value:.4g}"
