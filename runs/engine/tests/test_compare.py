"""The comparison's statistics on distributions whose truth is known (drawn here with a fixed seed)."""

from __future__ import annotations

import random

from hdrh.histogram import HdrHistogram

from runs.engine.compare import ALL_REQUESTS, FISHER, MWU_LATENCY, RunFacts, compare_groups, compare_runs
from runs.engine.results import percentile

TOLERANCE = 0.10


def facts(run_id: str, latencies_ms: list[float], failed: int = 0, seconds: int = 10) -> RunFacts:
    """A run whose requests took these times, spread evenly over `seconds`."""
    ordered = sorted(latencies_ms)
    histogram = HdrHistogram(1, 3_600_000_000, 3)
    for value in latencies_ms:
        histogram.record_value(round(value * 1000))
    per_second = len(latencies_ms) // seconds
    metrics = {
        "http_req_duration": {
            key: percentile(ordered, pct) for key, pct in (("med", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99))
        },
        "http_reqs": {"count": len(latencies_ms), "rate": len(latencies_ms) / seconds},
        "http_req_failed": {"rate": failed / len(latencies_ms), "passes": failed, "fails": len(latencies_ms) - failed},
    }
    timeseries = [
        {"t": t, "rps": per_second, "p95_ms": metrics["http_req_duration"]["p95"], "error_rate": 0.0} for t in range(seconds)
    ]
    return RunFacts(run_id, metrics, timeseries, histograms={ALL_REQUESTS: histogram.encode().decode()})


def uniform(rng: random.Random, low_ms: float, high_ms: float, count: int = 2000) -> list[float]:
    return [rng.uniform(low_ms, high_ms) for _ in range(count)]


def test_a_slower_variant_is_a_significant_p95_regression() -> None:
    rng = random.Random(7)
    comparison = compare_runs(facts("base", uniform(rng, 10, 30)), facts("run", uniform(rng, 30, 60)), TOLERANCE)
    p95 = comparison["metrics"]["p95"]
    assert p95["significant"] and p95["regression"] and p95["method"] == MWU_LATENCY and p95["p_value"] < 1e-10
    assert 90 < p95["delta_pct"] < 110  # p95 of U(10,30) is 29, of U(30,60) 58.5
    assert any(text.startswith("p95 went from 29.") for text in comparison["regressions"])


def test_the_same_distribution_is_never_flagged_over_many_draws() -> None:
    rng = random.Random(11)
    false_alarms = 0
    for _ in range(50):
        comparison = compare_runs(facts("a", uniform(rng, 10, 30)), facts("b", uniform(rng, 10, 30)), TOLERANCE)
        false_alarms += bool(comparison["regressions"])
    assert false_alarms == 0


def test_a_difference_within_the_tolerance_is_not_a_regression_even_when_significant() -> None:
    rng = random.Random(3)
    base, run = uniform(rng, 10, 30, 20_000), uniform(rng, 10.5, 31.5, 20_000)  # +5 %: detectable, tolerated
    p95 = compare_runs(facts("base", base), facts("run", run), TOLERANCE)["metrics"]["p95"]
    assert p95["significant"] and not p95["regression"]


def test_a_faster_variant_is_significant_but_no_regression() -> None:
    rng = random.Random(5)
    p95 = compare_runs(facts("base", uniform(rng, 30, 60)), facts("run", uniform(rng, 10, 30)), TOLERANCE)["metrics"]["p95"]
    assert p95["significant"] and not p95["regression"] and p95["delta_pct"] < -40


def test_errors_are_judged_with_fishers_test_on_their_counts() -> None:
    rng = random.Random(9)
    latencies = uniform(rng, 10, 30)
    worse = compare_runs(facts("base", latencies, failed=10), facts("run", latencies, failed=120), TOLERANCE)["metrics"][
        "error_rate"
    ]
    noise = compare_runs(facts("base", latencies, failed=10), facts("run", latencies, failed=13), TOLERANCE)["metrics"][
        "error_rate"
    ]
    assert worse["method"] == FISHER and worse["regression"] and worse["p_value"] < 1e-10
    assert not noise["significant"] and not noise["regression"]


def test_repeated_runs_compare_medians_with_their_spread() -> None:
    rng = random.Random(13)
    baseline = [facts(f"b{i}", uniform(rng, 10, 30, 800)) for i in range(3)]
    cached = [facts(f"c{i}", uniform(rng, 2, 6, 800)) for i in range(3)]
    comparison = compare_groups(baseline, cached, TOLERANCE)
    p95 = comparison["metrics"]["p95"]
    assert p95["spread"]["base"]["n"] == 3 and p95["spread"]["base"]["min"] <= p95["base"] <= p95["spread"]["base"]["max"]
    assert p95["significant"] and not p95["regression"] and p95["delta_pct"] < -70
    assert compare_groups(cached, baseline, TOLERANCE)["metrics"]["p95"]["regression"]
