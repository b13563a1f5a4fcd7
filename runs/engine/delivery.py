"""Load actually delivered: planned against actual duration, VUs reached, iterations k6 had to drop.

A test that stopped early or could not start the iterations it planned has not
applied the load it describes; the verdict and the page must say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# k6 writes this when a threshold with abortOnFail stops the test (exit code 99).
THRESHOLD_ABORT_LOG = "stopping test prematurely"
END_BY_EXIT = {"ok": "completed", "script_aborted": "script_abort", "marked_as_failed": "script_fail"}


# How each ending reads wherever the delivered load is shown.
END_REASONS = {
    "completed": "ran to its planned end",
    "thresholds_failed": "ran to its planned end; a k6 threshold failed",
    "threshold_abort": "stopped early: a k6 threshold with abortOnFail was crossed",
    "script_abort": "stopped early by test.abort() in the script",
    "script_fail": "the script marked the test as failed with test.fail()",
}


def ending_text(end_reason: str) -> str:
    return END_REASONS.get(end_reason, f"stopped early ({end_reason.replace('_', ' ')})" if end_reason else "–")


@dataclass(frozen=True)
class Plan:
    planned_duration_s: int
    graceful_stop_s: int
    max_vus: int
    arrival_rate: bool  # an arrival-rate executor plans iterations, so dropping them means lost load


@dataclass(frozen=True)
class Ending:
    """How k6 ended: its exit name, its log and how long its process ran."""

    exit_name: str
    log_text: str
    elapsed_s: float


def delivery_for(
    plan: Plan, metrics: dict[str, Any], timeseries: list[dict[str, Any]], ending: Ending, max_dropped_ratio: float
) -> dict[str, Any]:
    iterations = int(metrics.get("iterations", {}).get("count", 0))
    dropped = int(metrics.get("dropped_iterations", {}).get("count", 0))
    planned_iterations = iterations + dropped
    measured = plan.arrival_rate or dropped > 0
    return {
        "planned_duration_s": plan.planned_duration_s,
        "graceful_stop_s": plan.graceful_stop_s,
        "actual_duration_s": actual_duration_s(timeseries, ending.elapsed_s),
        "max_vus_planned": plan.max_vus,
        "max_vus_reached": _vus_reached(metrics, timeseries),
        "iterations": iterations,
        "dropped_iterations": dropped,
        "dropped_ratio": round(dropped / planned_iterations, 6) if measured and planned_iterations else None,
        "max_dropped_ratio": max_dropped_ratio,
        "end_reason": _end_reason(ending.exit_name, ending.log_text),
    }


def actual_duration_s(timeseries: list[dict[str, Any]], k6_elapsed_s: float) -> float:
    """How long load ran: k6's own run time, but never past the last second that still had VUs or requests.

    Samples carry whole-second timestamps, so their span alone overstates a 2 s run as 3 s; k6's
    process time includes its start-up and summary, so it bounds the span from the other side.
    """
    active = [p["t"] for p in timeseries if p.get("rps") or p.get("vus") or p.get("iterations")]
    if not active:
        return 0.0
    return round(min(float(active[-1] + 1), k6_elapsed_s), 1)


def _vus_reached(metrics: dict[str, Any], timeseries: list[dict[str, Any]]) -> int:
    # `vus` is the number of active VUs (`vus_max` only counts the ones allocated).
    from_summary = metrics.get("vus", {}).get("max")
    if from_summary is not None:
        return int(from_summary)
    return max((int(p.get("vus") or 0) for p in timeseries), default=0)


def _end_reason(exit_name: str, log_text: str) -> str:
    if exit_name == "thresholds_failed" and THRESHOLD_ABORT_LOG in log_text:
        return "threshold_abort"
    return END_BY_EXIT.get(exit_name, exit_name)  # "thresholds_failed", or how k6 was stopped (external_abort …)
