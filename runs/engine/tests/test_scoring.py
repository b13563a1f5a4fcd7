"""The scorecard at every boundary (README: "Verdict, score and grade"): SLA criteria, k6 thresholds, dropped load."""

from __future__ import annotations

from typing import Any

import pytest

from runs.engine.scoring import SUCCESSFUL_DURATION, Delivered, SlaThresholds, grade_for, score_run

SLA = SlaThresholds(success_rate=0.95, error_rate=0.1, p90_ms=1500.0)
NOTHING_ELSE = Delivered(thresholds=[], dropped_ratio=None, max_dropped_ratio=0.05)


def metrics(
    error_rate: float = 0.0, p90_ms: float | None = 100.0, checks_rate: float | None = None, count: int = 1000
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "http_reqs": {"count": count, "rate": 10.0},
        "http_req_failed": {"rate": error_rate, "passes": round(count * error_rate), "fails": count - round(count * error_rate)},
        # All requests, failed ones included: the scorecard must not read this one.
        "http_req_duration": {"p90": 1.0, "p95": 1.0},
    }
    if p90_ms is not None:
        data[SUCCESSFUL_DURATION] = {"p90": p90_ms}
    if checks_rate is not None:
        data["checks"] = {"rate": checks_rate}
    return data


def score(
    data: dict[str, Any], has_checks: bool, sla: SlaThresholds = SLA, delivered: Delivered = NOTHING_ELSE
) -> dict[str, Any]:
    return score_run(data, has_checks, sla, delivered)


def thresholds(*oks: bool) -> Delivered:
    rows = [{"metric": "http_req_duration", "expression": f"p(95)<{100 + i}", "ok": ok} for i, ok in enumerate(oks)]
    return Delivered(thresholds=rows, dropped_ratio=None, max_dropped_ratio=0.05)


@pytest.mark.parametrize(
    "score, grade",
    [(100, "A"), (90.0, "A"), (89.9, "B"), (75.0, "B"), (74.9, "C"), (60.0, "C"), (59.9, "F"), (0, "F")],
)
def test_grade_bands(score: float, grade: str) -> None:
    assert grade_for(score)[0] == grade


def test_all_met_with_margin_is_a_perfect_a() -> None:
    card = score(metrics(error_rate=0.0, p90_ms=100.0, checks_rate=1.0), True, SLA)
    assert (card["score"], card["grade"], card["passed"]) == (100.0, "A", True)


def test_exactly_at_every_threshold_counts_as_met() -> None:
    card = score(metrics(error_rate=0.1, p90_ms=1500.0, checks_rate=0.95), True, SLA)
    assert all(c["met"] for c in card["criteria"])
    assert card["passed"] is True
    # Met without headroom earns 80 % of each weight: a B, not an A.
    assert card["score"] == 80.0 and card["grade"] == "B"


def test_just_past_a_threshold_is_a_miss() -> None:
    card = score(metrics(p90_ms=1500.1, checks_rate=1.0), True, SLA)
    assert [c["key"] for c in card["criteria"] if not c["met"]] == ["p90_ms"]


def test_one_miss_is_at_most_c() -> None:
    # Latency missed only barely; everything else perfect would be 85 without the cap.
    card = score(metrics(p90_ms=1501.0, checks_rate=1.0), True, SLA)
    assert card["score"] == 74.0 and card["grade"] == "C"
    assert card["reasons"] == ["p90 latency 1501.0 ms misses <= 1500.0 ms"]


def test_two_misses_are_f() -> None:
    card = score(metrics(p90_ms=1501.0, checks_rate=0.94), True, SLA)
    assert card["score"] <= 59.0 and card["grade"] == "F"


def test_zero_requests_carry_no_grade_and_say_why() -> None:
    card = score(metrics(count=0), False, SLA)
    assert (card["score"], card["grade"], card["grade_label"]) == (None, None, None)
    assert "no HTTP requests" in card["reasons"][0]


def test_errors_are_not_penalised_twice_without_checks() -> None:
    # 15 % errors: success rate (85 %) and error rate both miss, but they are one signal.
    card = score(metrics(error_rate=0.15, p90_ms=100.0), False, SLA)
    assert sum(not c["met"] for c in card["criteria"]) == 2
    assert card["grade"] == "C"  # one miss, not two (two would be F)
    success, errors = card["criteria"][0], card["criteria"][1]
    assert success["points"] / success["max_points"] == errors["points"] / errors["max_points"]


def test_with_checks_the_two_rates_are_independent() -> None:
    card = score(metrics(error_rate=0.15, p90_ms=100.0, checks_rate=0.80), True, SLA)
    assert card["grade"] == "F"


def test_headroom_raises_the_score_monotonically() -> None:
    scores = [score(metrics(p90_ms=p90, checks_rate=1.0), True, SLA)["score"] for p90 in (1500, 1400, 1300, 1125, 500)]
    assert scores == sorted(scores)
    assert scores[-1] == 100.0 and scores[0] == 94.0


def test_per_run_overrides_replace_settings() -> None:
    sla = SlaThresholds.from_settings({"p90_ms": 50.0})
    card = score(metrics(p90_ms=100.0, checks_rate=1.0), True, sla)
    assert card["thresholds"]["p90_ms"] == 50.0 and card["grade"] != "A"


def test_latency_is_graded_on_successful_responses_only() -> None:
    # Every request failed fast: all-request p90 is 1 ms, but nothing succeeded to be measured.
    card = score(metrics(error_rate=1.0, p90_ms=None), False, SLA)
    latency = next(c for c in card["criteria"] if c["key"] == "p90_ms")
    assert latency["met"] is False and latency["points"] == 0.0 and latency["value"] is None
    assert card["grade"] == "F"


def test_slow_successes_miss_latency_even_when_failures_are_fast() -> None:
    card = score(metrics(p90_ms=1600.0, checks_rate=1.0), True, SLA)
    assert [c["key"] for c in card["criteria"] if not c["met"]] == ["p90_ms"]


@pytest.mark.parametrize(
    "oks, grade_at_best",
    [
        ((True,), "A"),
        ((True, True), "A"),
        ((False,), "C"),
        ((True, False), "C"),
        ((False, False), "F"),
        ((False, False, False), "F"),
    ],
)
def test_failed_k6_thresholds_cap_like_missed_criteria(oks: tuple[bool, ...], grade_at_best: str) -> None:
    card = score(metrics(p90_ms=100.0, checks_rate=1.0), True, delivered=thresholds(*oks))
    assert card["grade"] == grade_at_best
    rows = [c for c in card["criteria"] if c["kind"] == "threshold"]
    assert [c["met"] for c in rows] == list(oks) and all(c["max_points"] == 0 for c in rows)


def test_a_failed_threshold_plus_a_missed_sla_criterion_is_f() -> None:
    card = score(metrics(p90_ms=1600.0, checks_rate=1.0), True, delivered=thresholds(False))
    assert card["grade"] == "F" and card["score"] <= 59.0


def test_threshold_rows_carry_the_observed_value() -> None:
    data = {**metrics(checks_rate=1.0), "http_req_duration": {"p95": 412.0}}
    card = score(data, True, delivered=thresholds(False))
    row = next(c for c in card["criteria"] if c["kind"] == "threshold")
    assert (row["value"], row["threshold"], row["comparator"], row["unit"]) == (412.0, 100.0, "<", "ms")


def test_a_counters_rate_threshold_reads_per_second_not_as_a_share() -> None:
    data = {**metrics(checks_rate=1.0), "http_reqs": {"count": 1000, "rate": 250.0}}
    delivered = Delivered([{"metric": "http_reqs", "expression": "rate>300", "ok": False}], None, 0.05)
    row = next(c for c in score(data, True, delivered=delivered)["criteria"] if c["kind"] == "threshold")
    assert (row["unit"], row["value"]) == ("per_s", 250.0)
    from runs.engine.scoring import criterion_sentence

    assert criterion_sentence(row) == "k6 threshold http_reqs rate>300 failed (observed 250/s)"


def test_zero_requests_still_carry_the_scripts_own_criteria() -> None:
    delivered = Delivered([{"metric": "my_counter", "expression": "count<2", "ok": False}], None, 0.05)
    card = score(metrics(count=0), False, delivered=delivered)
    assert card["grade"] is None and [c["met"] for c in card["criteria"]] == [False]


def test_without_the_expected_response_tag_latency_falls_back_to_all_responses() -> None:
    data = metrics(checks_rate=1.0, p90_ms=None)
    data["http_req_failed"] = {"rate": 0.0, "passes": 0, "fails": 1000}
    data["http_req_duration"] = {"p90": 120.0}
    latency = next(c for c in score(data, True)["criteria"] if c["key"] == "p90_ms")
    assert (latency["value"], latency["met"]) == (120.0, True) and "expected_response" in latency["note"]


@pytest.mark.parametrize("ratio, met, grade", [(0.0, True, "A"), (0.05, True, "A"), (0.0501, False, "C"), (0.42, False, "C")])
def test_dropped_iterations_above_the_limit_are_a_missed_criterion(ratio: float, met: bool, grade: str) -> None:
    delivered = Delivered(thresholds=[], dropped_ratio=ratio, max_dropped_ratio=0.05)
    card = score(metrics(checks_rate=1.0), True, delivered=delivered)
    dropped = next(c for c in card["criteria"] if c["kind"] == "dropped")
    assert (dropped["met"], card["grade"]) == (met, grade)
