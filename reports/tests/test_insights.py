"""Insight rules on constructed time series (the numbers decide) and on a real saturating run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from reports.insights import RunFacts, insights_for
from runs.api.serializers import BuilderRunSerializer
from runs.pipeline import run_create_from_builder, run_execute


def point(t: int, vus: int, rps: int, error_rate: float = 0.0, p95_ms: float = 50.0) -> dict[str, Any]:
    return {
        "t": t,
        "vus": vus,
        "rps": rps,
        "error_rate": error_rate,
        "p50_ms": p95_ms / 2,
        "p95_ms": p95_ms,
        "p99_ms": p95_ms * 1.2,
    }


def facts(series: list[dict[str, Any]], **extra: Any) -> RunFacts:
    metrics = {"iterations": {"count": 10_000}, "http_reqs": {"count": sum(p["rps"] for p in series)}}
    return RunFacts(timeseries=series, metrics=extra.pop("metrics", metrics), **extra)


def ids(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {insight["id"]: insight for insight in found}


def test_flat_throughput_while_vus_rise_is_a_throughput_limit() -> None:
    # RPS reaches 90 % of its plateau at t=8 (26 VUs), then stays at 100 while VUs climb to 88.
    series = [point(t, vus=10 + 2 * t, rps=min(100, 10 * (t + 1))) for t in range(40)]
    found = ids(insights_for(facts(series)))
    limit = found["throughput_limit"]
    assert limit["evidence"] == {"rps_plateau": 100, "vus_at_plateau_start": 26, "vus_max": 88, "t_s": 8}
    assert limit["severity"] == "warning" and "saturated" in limit["recommendation"]


def test_throughput_that_follows_vus_is_not_a_limit() -> None:
    series = [point(t, vus=10 + t, rps=10 * (10 + t)) for t in range(40)]
    assert "throughput_limit" not in ids(insights_for(facts(series)))


def test_rising_and_early_failures() -> None:
    rising = [point(t, 10, 100, error_rate=0.0 if t < 20 else 0.2) for t in range(40)]
    assert ids(insights_for(facts(rising)))["rising_failure_rate"]["evidence"] == {
        "error_rate_first_half": 0.0,
        "error_rate_second_half": 0.2,
    }
    early = [point(t, 10, 100, error_rate=0.5) for t in range(40)]
    found = ids(insights_for(facts(early)))
    assert found["high_failure_early"]["evidence"]["error_rate_first_seconds"] == 0.5 and "rising_failure_rate" not in found


def test_latency_that_doubles_with_load() -> None:
    series = [point(t, vus=5 + t, rps=100, p95_ms=40 + 5 * t) for t in range(40)]
    evidence = ids(insights_for(facts(series)))["latency_degrades_with_load"]["evidence"]
    assert (
        evidence["vus_low"] == 5
        and evidence["vus_high"] == 44
        and evidence["p95_ms_at_high_load"] > 2 * evidence["p95_ms_at_low_load"]
    )


def test_breaking_point_of_a_stress_run_names_the_vu_level() -> None:
    series = [point(t, vus=t + 1, rps=50, error_rate=0.01 if t < 25 else 0.08) for t in range(40)]
    breaking = ids(insights_for(facts(series, preset="stress")))["breaking_point"]
    assert breaking["evidence"]["vus"] == 26 and "26 VUs" in breaking["title"] and "errors above 5 %" in breaking["title"]
    slow = [point(t, vus=t + 1, rps=50, p95_ms=100 if t < 30 else 2500) for t in range(40)]
    assert "31 VUs (p95 above 2 s)" in ids(insights_for(facts(slow, preset="stress")))["breaking_point"]["title"]
    # From the time series of any run (a script's too), not only of the presets.
    assert ids(insights_for(facts(series)))["breaking_point"]["evidence"]["vus"] == 26


def test_spike_recovery_and_its_absence() -> None:
    def spike(after_p95: float) -> list[dict[str, Any]]:
        return (
            [point(t, 5, 50, p95_ms=60) for t in range(10)]
            + [point(10 + t, 50, 200, p95_ms=900) for t in range(5)]
            + [point(15 + t, 5, 50, p95_ms=after_p95) for t in range(10)]
        )

    recovered = ids(insights_for(facts(spike(65))))["spike_recovered"]  # no preset needed: the series shows the spike
    assert recovered["evidence"]["recovery_s"] == 0 and recovered["evidence"]["load_dropped_at_s"] == 15
    not_recovered = ids(insights_for(facts(spike(400), preset="spike")))["spike_not_recovered"]
    assert not_recovered["evidence"]["baseline_p95_ms"] == 60 and not_recovered["evidence"]["after_spike_p95_ms"] == 400


def test_recovery_time_counts_the_seconds_until_latency_is_back() -> None:
    series = (
        [point(t, 5, 50, p95_ms=60) for t in range(10)]
        + [point(10 + t, 50, 200, p95_ms=900) for t in range(5)]
        + [point(15 + t, 5, 50, p95_ms=400 if t < 4 else 62) for t in range(12)]
    )
    recovered = ids(insights_for(facts(series)))["spike_recovered"]
    assert recovered["evidence"]["recovery_s"] == 4 and "Recovered 4 s after the spike" == recovered["title"]


def test_a_ramp_hold_and_ramp_down_is_not_a_spike() -> None:
    ramp = [point(t, vus=min(t + 1, 20, 40 - t), rps=10 * min(t + 1, 20, 40 - t)) for t in range(40)]
    assert {"spike_recovered", "spike_not_recovered"}.isdisjoint(ids(insights_for(facts(ramp))))


def test_an_sla_breach_reads_its_rate_as_a_percentage() -> None:
    from runs.engine.formatting import evidence_text

    criterion = {"key": "error_rate", "label": "Error rate", "value": 0.03, "threshold": 0.01, "comparator": "<=",
                 "met": False, "kind": "sla", "unit": "rate"}  # fmt: skip
    found = ids(insights_for(facts([point(t, 2, 10) for t in range(8)], sla={"criteria": [criterion]})))
    assert evidence_text(found["sla_breach_error_rate"]["evidence"]) == "value_rate 3.00 %, threshold_rate 1.00 %, comparator <="


def test_dropped_arrivals_are_a_breaking_point_never_no_breaking_point() -> None:
    def arrivals(t: int) -> dict[str, Any]:
        return {**point(t, vus=2 + t // 5, rps=10), "iterations": 10, "dropped_iterations": 0 if t < 6 else 8}

    series = [arrivals(t) for t in range(20)]
    delivery = {"dropped_ratio": 0.42, "max_dropped_ratio": 0.05}
    found = ids(insights_for(facts(series, delivery=delivery)))
    assert "no_breaking_point" not in found
    assert found["breaking_point"]["evidence"]["t_s"] == 6 and "dropped" in found["breaking_point"]["title"]
    assert "about 18 arrivals/s" in found["breaking_point"]["title"]  # 10 started + 8 dropped in that second


def test_constant_load_without_trouble_claims_no_breaking_point_either_way() -> None:
    assert {"breaking_point", "no_breaking_point"}.isdisjoint(ids(insights_for(facts([point(t, 10, 100) for t in range(20)]))))


def test_short_runs_many_urls_cpu_and_sla() -> None:
    series = [point(t, 2, 10) for t in range(8)]
    sla = {
        "criteria": [
            {"key": "p90_ms", "label": "p90 latency (ms)", "value": 1800.0, "threshold": 1500.0, "comparator": "<=", "met": False}
        ]
    }
    endpoints = [{"name": f"http://t/items/{n}"} for n in range(150)]
    resources = {"cores": 2, "k6_cpu_percent_of_machine": {"avg": 91.0}, "system_cpu_percent": {"avg": 97.0}}
    sla["criteria"].append(
        {"key": "threshold:http_req_duration:p(95)<200", "label": "http_req_duration p(95)<200", "value": 412.0,
         "threshold": 200.0, "comparator": "<", "met": False, "kind": "threshold"}
    )  # fmt: skip
    found = ids(
        insights_for(facts(series, metrics={"iterations": {"count": 80}}, sla=sla, endpoints=endpoints, resources=resources))
    )
    assert found["not_enough_data"]["evidence"]["iterations"] == 80
    assert found["sla_breach_p90_ms"]["evidence"] == {"value": 1800.0, "threshold": 1500.0, "comparator": "<="}  # no unit given
    assert found["too_many_unique_urls"]["evidence"]["unique_names"] == 150
    assert found["load_generator_cpu_saturated"]["evidence"]["system_cpu_avg_percent"] == 97.0
    assert found["threshold_failed"]["evidence"] == {"metric_expression": "http_req_duration p(95)<200", "observed": 412.0}
    assert list(found)[0].startswith("sla_breach")  # critical first


def test_a_busy_machine_with_an_idle_k6_is_not_blamed_on_k6() -> None:
    resources = {"cores": 2, "k6_cpu_percent_of_machine": {"avg": 3.0}, "system_cpu_percent": {"avg": 96.0}}
    found = ids(insights_for(facts([point(t, 2, 10) for t in range(8)], resources=resources)))
    assert "load_generator_cpu_saturated" not in found
    assert found["load_generator_cpu_contended"]["evidence"]["k6_cpu_avg_percent"] == 3.0


def test_security_and_tls_findings() -> None:
    analyzers = {
        "headers": {
            "status": "ok",
            "grade": "F",
            "score": 10,
            "tests": [{"name": "x-frame-options", "scored": True, "modifier": -20}],
        },
        "tls": {
            "status": "ok",
            "grade": "T",
            "caps": [{"grade": "T", "reason": "certificate expired"}],
            "certificate": {"days_left": 5},
        },
    }
    found = ids(insights_for(facts([point(0, 1, 1)], analyzers=analyzers)))
    assert found["security_headers_weak"]["evidence"]["failing_tests"] == ["x-frame-options"]
    assert found["tls_weak"]["severity"] == "critical" and found["tls_weak"]["evidence"]["caps"] == ["certificate expired"]
    assert found["certificate_expiring"]["evidence"] == {"days_left": 5}


@pytest.mark.django_db(transaction=True)
def test_a_real_saturating_target_shows_a_throughput_limit(demo_target: Callable[..., Any]) -> None:
    # Two requests at a time, 20 ms each: the server tops out near 100 requests/s however many VUs come.
    target = demo_target(latency_min_ms=20, latency_max_ms=20, concurrency=2)
    serializer = BuilderRunSerializer(
        data={"url": target.url + "/api", "stages": [{"duration": "3s", "target": 4}, {"duration": "5s", "target": 24}]}
    )
    assert serializer.is_valid(), serializer.errors
    run = run_execute(run_create_from_builder(serializer).pk)
    insight = {i["id"]: i for i in run.analysis.insights}["throughput_limit"]
    assert 70 <= insight["evidence"]["rps_plateau"] <= 110
    assert insight["evidence"]["vus_max"] >= 1.5 * insight["evidence"]["vus_at_plateau_start"]
