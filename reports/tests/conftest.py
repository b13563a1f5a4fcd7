"""One way to build a result document without running k6: the runs app's own scoring and verdict
turn chosen metrics into the scorecard and verdict the reports render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runs.engine.results import custom_metrics, request_timings
from runs.engine.scoring import SUCCESSFUL_DURATION, Delivered, SlaThresholds, score_run
from runs.engine.verdict import NOT_GRADED, VerdictFacts, verdict_for

SLA = SlaThresholds(success_rate=0.95, error_rate=0.1, p90_ms=1500.0)
SECONDS = 5


def _metrics(error_rate: float) -> dict[str, Any]:
    return {
        "http_reqs": {"count": 500, "rate": 100.0},
        "http_req_failed": {"rate": error_rate, "passes": int(500 * error_rate), "fails": 500 - int(500 * error_rate)},
        "http_req_duration": {"avg": 20.0, "min": 2.0, "med": 18.0, "max": 90.0, "p90": 30.0, "p95": 40.0, "p99": 80.0},
        SUCCESSFUL_DURATION: {"avg": 22.0, "p90": 31.0, "p95": 41.0},
        "http_req_waiting": {"avg": 15.5, "p95": 35.25},
        "http_req_connecting": {"avg": 0.25, "p95": 1.5},
        "iterations": {"count": 500, "rate": 100.0},
        "vus": {"max": 10},
        "checkout_duration": {"avg": 120.0, "min": 100.0, "med": 110.0, "p90": 150.0, "p95": 170.0, "p99": 190.0, "max": 200.0},
        "cart_errors": {"rate": 0.125, "passes": 1, "fails": 7},
    }


def _failures(total: int) -> dict[str, Any]:
    """Nine in ten failures are 503s from the second second on, the rest refused connections from the fourth."""
    refused_count = total // 10
    refused = {"status": "0", "error_code": "1212", "message": "dial: connection refused (1212)",
               "meaning": "TCP: connection refused (nothing listens on that port).", "count": refused_count, "first_seen_s": 3,
               "sample_urls": ["http://127.0.0.1:9/api/cart"]}  # fmt: skip
    unavailable = {"status": "503", "error_code": "1503", "message": "HTTP 503",
                   "meaning": "HTTP 503 Service Unavailable: the server failed.", "count": total - refused_count, "first_seen_s": 1,
                   "sample_urls": ["http://127.0.0.1:8000/api/checkout", "http://127.0.0.1:8000/api/pay"]}  # fmt: skip
    per_second = (total - refused_count) // 4
    return {
        "total": total,
        "by_reason": [unavailable, refused],
        "over_time": {
            "t": list(range(SECONDS)),
            "series": [
                {
                    "label": unavailable["message"],
                    "counts": [0, per_second, per_second, per_second, total - refused_count - 3 * per_second],
                },
                {"label": refused["message"], "counts": [0, 0, 0, refused_count // 2, refused_count - refused_count // 2]},
            ],
        },
        "samples": [],
    }


def _delivery(actual_duration_s: float, end_reason: str) -> dict[str, Any]:
    return {"planned_duration_s": SECONDS, "graceful_stop_s": 10, "actual_duration_s": actual_duration_s, "max_vus_planned": 10,
            "max_vus_reached": 10, "iterations": 500, "dropped_iterations": 12, "dropped_ratio": 0.0234,
            "max_dropped_ratio": 0.05, "end_reason": end_reason}  # fmt: skip


def build_document(outcome: str) -> dict[str, Any]:
    """`outcome`: "passed", "failed" (error rate and a k6 threshold missed) or "not_graded" (cancelled midway)."""
    error_rate = 0.2 if outcome == "failed" else 0.02
    metrics = _metrics(error_rate)
    thresholds = [{"metric": "http_req_duration", "expression": "p(95)<1" if outcome == "failed" else "p(95)<500",
                   "ok": outcome != "failed"}]  # fmt: skip
    delivery = _delivery(2.4, "external_abort") if outcome == NOT_GRADED else _delivery(5.2, "completed")
    scorecard = score_run(metrics, False, SLA, Delivered(thresholds, delivery["dropped_ratio"], delivery["max_dropped_ratio"]))
    status = "cancelled" if outcome == "not_graded" else "done"
    verdict = verdict_for(VerdictFacts(status=status, scorecard=scorecard, delivery=delivery, has_result=True))
    assert verdict is not None and verdict["status"] == outcome
    if outcome == NOT_GRADED:  # as the result document shows it: measured, but no score, grade or pass
        scorecard = {**scorecard, "score": None, "grade": None, "grade_label": None, "passed": None, "graded": False}
    series = [{"t": t, "vus": 10, "rps": 100, "error_rate": error_rate, "p50_ms": 18.0, "p95_ms": 40.0, "p99_ms": 80.0,
               "iterations": 100, "statuses": {"200": 98, "503": 2}} for t in range(SECONDS)]  # fmt: skip
    return {
        "verdict": verdict, "id": f"run-{outcome}", "project": "Shop", "mode": "builder", "target_url": "http://127.0.0.1:8000/api",
        "status": status, "stage": "", "grade": scorecard["grade"], "grade_label": scorecard["grade_label"],
        "score": scorecard["score"], "error": None, "created_at": "2026-01-01T00:00:00", "finished_at": "2026-01-01T00:00:08",
        "stage_durations_s": {"k6": 5.2}, "k6": {"exit_code": 0, "exit_reason": "ok", "exit_name": "ok"},
        "config": {"planned_duration_s": SECONDS}, "metrics": metrics, "sla": scorecard, "delivery": delivery,
        "timings": request_timings(metrics), "custom_metrics": custom_metrics(metrics), "thresholds": thresholds, "checks": [],
        "groups": [], "endpoints": [{"name": "http://127.0.0.1:8000/api/checkout", "method": "GET", "status": "200", "count": 500,
                                     "failed": 100, "error_rate": error_rate, "p50_ms": 18.0, "p95_ms": 40.0, "p99_ms": 80.0}],
        "timeseries": series, "failures": _failures(int(500 * error_rate)), "analyzers": {}, "insights": [],
        "ai": {"status": "not_configured"}, "analysis": None, "script": "export default function () {}", "links": {},
    }  # fmt: skip


@pytest.fixture
def result_document() -> Callable[[str], dict[str, Any]]:
    return build_document
