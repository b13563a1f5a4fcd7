"""The run's one verdict — passed, failed or not graded — and a sentence with the numbers for each reason.

Every surface (run page, lists, reports, API, CLI) shows this first, so it is
derived in one place from what is stored: the run's status, its scorecard
(SLA criteria, k6 thresholds, dropped iterations) and how the load ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runs.engine.formatting import seconds
from runs.engine.scoring import criterion_sentence, format_value

PASSED, FAILED, NOT_GRADED = "passed", "failed", "not_graded"
HEADLINES = {PASSED: "Passed", FAILED: "Failed", NOT_GRADED: "Not graded"}


@dataclass(frozen=True)
class VerdictFacts:
    status: str  # the run's lifecycle status
    error: str = ""
    scorecard: dict[str, Any] = field(default_factory=dict)
    delivery: dict[str, Any] = field(default_factory=dict)
    has_result: bool = False


def verdict_for(facts: VerdictFacts) -> dict[str, Any] | None:
    """None while k6 still runs; otherwise {status, headline, reasons}."""
    if facts.status == "failed":
        return _verdict(NOT_GRADED, [f"The run failed, so it is not graded: {facts.error or 'no reason was recorded.'}"])
    if facts.status == "cancelled":
        return _verdict(NOT_GRADED, [_cancelled_sentence(facts.delivery)])
    if not facts.has_result:
        return None
    criteria = facts.scorecard.get("criteria") or []
    failures = _criteria_failures(criteria) + _stop_failures(facts.delivery, criteria)
    if not facts.scorecard or facts.scorecard.get("grade") is None:
        if failures:  # nothing to grade, but the script's own rules failed (k6 exits 99 or 110)
            return _verdict(FAILED, failures)
        reasons = facts.scorecard.get("reasons") or ["k6 wrote no summary, so there is nothing to grade."]
        return _verdict(NOT_GRADED, list(reasons))
    if failures:
        return _verdict(FAILED, failures)
    return _verdict(PASSED, [_passed_sentence(criteria)])


def _verdict(status: str, reasons: list[str]) -> dict[str, Any]:
    return {"status": status, "headline": HEADLINES[status], "reasons": reasons}


def _criteria_failures(criteria: list[dict[str, Any]]) -> list[str]:
    reasons = [criterion_sentence(c) + "." for c in criteria if c["kind"] not in ("threshold", "end") and not c["met"]]
    thresholds = [c for c in criteria if c["kind"] == "threshold"]
    failed = [c for c in thresholds if not c["met"]]
    if failed:
        details = "; ".join(f"{c['label']} was {format_value(c['value'], c['unit'])}" for c in failed)
        noun = "threshold" if len(thresholds) == 1 else "thresholds"
        reasons.append(f"{len(failed)} of {len(thresholds)} k6 {noun} failed: {details}.")
    return reasons


def _stop_failures(delivery: dict[str, Any], criteria: list[dict[str, Any]]) -> list[str]:
    """How the test ended, when that alone fails it."""
    ran = _ran(delivery)
    end = delivery.get("end_reason") or "completed"
    if end == "threshold_abort":
        return [f"k6 stopped the test after {ran}: a threshold with abortOnFail was crossed."]
    if end == "script_abort":
        return [f"The script stopped the test with test.abort() after {ran}."]
    if end == "script_fail":
        return ["The script marked the test as failed with test.fail()."]
    if end == "thresholds_failed":
        if any(c["kind"] == "threshold" and not c["met"] for c in criteria):
            return []
        return ["k6 exited 99 (a threshold was crossed), but its summary names no failed threshold."]
    if end != "completed":
        return [f"k6 stopped after {ran} ({end.replace('_', ' ')}), before the test's planned end."]
    return []


def _ran(delivery: dict[str, Any]) -> str:
    return f"{seconds(delivery.get('actual_duration_s'))} of {seconds(delivery.get('planned_duration_s'))} planned"


def _passed_sentence(criteria: list[dict[str, Any]]) -> str:
    sla = [c for c in criteria if c["kind"] == "sla"]
    thresholds = [c for c in criteria if c["kind"] == "threshold"]
    parts = [f"all {len(sla)} SLA criteria met"]
    if len(thresholds) == 1:
        parts.append("the k6 threshold passed")
    elif thresholds:
        parts.append(f"all {len(thresholds)} k6 thresholds passed")
    for c in criteria:
        if c["kind"] == "dropped":
            parts.append(
                f"{format_value(c['value'], 'rate')} of planned iterations dropped (limit {format_value(c['threshold'], 'rate')})"
            )
    text = ", ".join(parts)
    return text[0].upper() + text[1:] + "."


def _cancelled_sentence(delivery: dict[str, Any]) -> str:
    if delivery.get("actual_duration_s"):
        return f"The run was cancelled after {_ran(delivery)}; a partial test is not graded (its measurements are kept)."
    return "The run was cancelled before it produced any data."
