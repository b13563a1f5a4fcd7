"""The SLA formula at every boundary (README: "SLA score and grade")."""

from __future__ import annotations

from typing import Any

import pytest

from runs.scoring import SlaThresholds, grade_for, score_run

SLA = SlaThresholds(success_rate=0.95, error_rate=0.1, p90_ms=1500.0)


def metrics(
    error_rate: float = 0.0, p90_ms: float = 100.0, checks_rate: float | None = None, count: int = 1000
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "http_reqs": {"count": count, "rate": 10.0},
        "http_req_failed": {"rate": error_rate},
        "http_req_duration": {"p90": p90_ms},
    }
    if checks_rate is not None:
        data["checks"] = {"rate": checks_rate}
    return data


@pytest.mark.parametrize(
    "score, grade",
    [(100, "A"), (90.0, "A"), (89.9, "B"), (75.0, "B"), (74.9, "C"), (60.0, "C"), (59.9, "F"), (0, "F")],
)
def test_grade_bands(score: float, grade: str) -> None:
    assert grade_for(score)[0] == grade


def test_all_met_with_margin_is_a_perfect_a() -> None:
    card = score_run(metrics(error_rate=0.0, p90_ms=100.0, checks_rate=1.0), True, SLA)
    assert (card["score"], card["grade"], card["passed"]) == (100.0, "A", True)


def test_exactly_at_every_threshold_counts_as_met() -> None:
    card = score_run(metrics(error_rate=0.1, p90_ms=1500.0, checks_rate=0.95), True, SLA)
    assert all(c["met"] for c in card["criteria"])
    assert card["passed"] is True
    # Met without headroom earns 80 % of each weight: a B, not an A.
    assert card["score"] == 80.0 and card["grade"] == "B"


def test_just_past_a_threshold_is_a_miss() -> None:
    card = score_run(metrics(p90_ms=1500.1, checks_rate=1.0), True, SLA)
    assert [c["key"] for c in card["criteria"] if not c["met"]] == ["p90_ms"]


def test_one_miss_is_at_most_c() -> None:
    # Latency missed only barely; everything else perfect would be 85 without the cap.
    card = score_run(metrics(p90_ms=1501.0, checks_rate=1.0), True, SLA)
    assert card["score"] == 74.0 and card["grade"] == "C"
    assert card["reasons"] == ["p90 latency (ms) 1501 misses <= 1500"]


def test_two_misses_are_f() -> None:
    card = score_run(metrics(p90_ms=1501.0, checks_rate=0.94), True, SLA)
    assert card["score"] <= 59.0 and card["grade"] == "F"


def test_zero_requests_is_f_with_a_reason() -> None:
    card = score_run(metrics(count=0), False, SLA)
    assert (card["score"], card["grade"]) == (0.0, "F")
    assert "no HTTP requests" in card["reasons"][0]


def test_errors_are_not_penalised_twice_without_checks() -> None:
    # 15 % errors: success rate (85 %) and error rate both miss, but they are one signal.
    card = score_run(metrics(error_rate=0.15, p90_ms=100.0), False, SLA)
    assert sum(not c["met"] for c in card["criteria"]) == 2
    assert card["grade"] == "C"  # one miss, not two (two would be F)
    success, errors = card["criteria"][0], card["criteria"][1]
    assert success["points"] / success["max_points"] == errors["points"] / errors["max_points"]


def test_with_checks_the_two_rates_are_independent() -> None:
    card = score_run(metrics(error_rate=0.15, p90_ms=100.0, checks_rate=0.80), True, SLA)
    assert card["grade"] == "F"


def test_headroom_raises_the_score_monotonically() -> None:
    scores = [score_run(metrics(p90_ms=p90, checks_rate=1.0), True, SLA)["score"] for p90 in (1500, 1400, 1300, 1125, 500)]
    assert scores == sorted(scores)
    assert scores[-1] == 100.0 and scores[0] == 94.0


def test_per_run_overrides_replace_settings() -> None:
    sla = SlaThresholds.from_settings({"p90_ms": 50.0})
    card = score_run(metrics(p90_ms=100.0, checks_rate=1.0), True, sla)
    assert card["thresholds"]["p90_ms"] == 50.0 and card["grade"] != "A"
