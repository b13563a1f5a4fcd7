"""Rule-based insights: always on, offline. Each says what the numbers show and what to do.

Every rule is a small function over the stored result (time series, metrics,
scorecard, endpoints, analyzer findings) returning zero or more insights with
the evidence that triggered them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from runs.engine.formatting import percent

ERROR_BREAK = 0.05
P95_BREAK_MS = 2000.0
SHORT_RUN_S = 30
FEW_ITERATIONS = 100
MANY_ENDPOINTS = 100
CPU_SATURATED = 85.0  # % of the machine
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
SPIKE_BASELINE_S = 3  # seconds of baseline load needed before and after a spike
SPIKE_SHARE = 0.4  # a spike's high load covers at most this share of the run
# A URL's query string (tokens, keys): it ends at white space, a quote or JSON's escaping backslash.
QUERY_STRING = re.compile(r"\?[^\s\"'\\]*")


@dataclass(frozen=True)
class Insight:
    id: str
    severity: str  # critical | warning | info
    title: str
    evidence: dict[str, Any]
    recommendation: str


@dataclass
class RunFacts:
    """What the rules read: built from a run and its stored result (or constructed in tests)."""

    timeseries: list[dict[str, Any]]
    metrics: dict[str, Any]
    sla: dict[str, Any] = field(default_factory=dict)
    endpoints: list[dict[str, Any]] = field(default_factory=list)
    analyzers: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None
    planned_duration_s: int = 0
    resources: dict[str, Any] = field(default_factory=dict)
    max_endpoints: int = 200
    failures: dict[str, Any] = field(default_factory=dict)
    delivery: dict[str, Any] = field(default_factory=dict)
    verdict: dict[str, Any] | None = None


Rule = Callable[[RunFacts], list[Insight]]


def insights_for(facts: RunFacts) -> list[dict[str, Any]]:
    found = [insight for rule in RULES for insight in rule(facts)]
    return [asdict(i) for i in sorted(found, key=lambda i: SEVERITY_ORDER[i.severity])]


# --- helpers ----------------------------------------------------------------------


def _busy(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [point for point in series if point["rps"] > 0]


def _weighted_error_rate(points: list[dict[str, Any]]) -> float:
    requests = sum(p["rps"] for p in points)
    return sum(p["error_rate"] * p["rps"] for p in points) / requests if requests else 0.0


def _avg(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _top_failure(facts: RunFacts) -> dict[str, Any] | None:
    reasons = facts.failures.get("by_reason") or []
    return reasons[0] if reasons else None


def _load_level(point: dict[str, Any]) -> int:
    return int(point.get("vus") or 0)


def _load_varies(points: list[dict[str, Any]]) -> bool:
    """Breaking points and recovery need the load to change; a constant load has neither."""
    levels = [_load_level(p) for p in points]
    return bool(levels) and max(levels) >= 2 * max(1, min(levels))


def _dropped_share(point: dict[str, Any]) -> float:
    dropped = point.get("dropped_iterations") or 0
    planned = dropped + (point.get("iterations") or 0)
    return dropped / planned if planned else 0.0


# --- the rules --------------------------------------------------------------------


def throughput_limit(facts: RunFacts) -> list[Insight]:
    points = [p for p in _busy(facts.timeseries) if p["vus"] > 0]
    if len(points) < 6:
        return []
    peak_rps = max(p["rps"] for p in points)
    first_at_peak = next(p for p in points if p["rps"] >= 0.9 * peak_rps)
    later_vus = max(p["vus"] for p in points if p["t"] >= first_at_peak["t"])
    if later_vus < 1.5 * first_at_peak["vus"]:
        return []
    evidence = {
        "rps_plateau": peak_rps,
        "vus_at_plateau_start": first_at_peak["vus"],
        "vus_max": later_vus,
        "t_s": first_at_peak["t"],
    }
    return [
        Insight(
            "throughput_limit", "warning",
            f"Throughput stops growing at about {peak_rps} requests/s",
            evidence,
            f"Requests per second stayed within 10 % of {peak_rps} while VUs grew from {first_at_peak['vus']} to {later_vus}: "
            "the system is saturated. Find the constrained resource (CPU, DB pool, thread pool, rate limiter) before adding load.",
        )
    ]  # fmt: skip


def rising_failures(facts: RunFacts) -> list[Insight]:
    points = _busy(facts.timeseries)
    if len(points) < 6:
        return []
    half = len(points) // 2
    early, late = _weighted_error_rate(points[:half]), _weighted_error_rate(points[half:])
    if late < 0.02 or late < 2 * early:
        return []
    return [Insight("rising_failure_rate", "critical", "The failure rate rises during the run",
                    {"error_rate_first_half": round(early, 4), "error_rate_second_half": round(late, 4)},
                    "Errors grow as the test goes on: look for resource exhaustion (connections, memory, queues) and time-outs.")]  # fmt: skip


def early_failures(facts: RunFacts) -> list[Insight]:
    points = _busy(facts.timeseries)
    head = points[: max(3, len(points) // 10)]
    rate = _weighted_error_rate(head)
    if not head or rate < 0.10:
        return []
    evidence: dict[str, Any] = {"error_rate_first_seconds": round(rate, 4), "seconds": len(head)}
    top = _top_failure(facts)
    if top:
        # k6's messages can quote the URL; its query string (tokens, keys) stays out of the evidence.
        evidence["top_reason"] = f"{QUERY_STRING.sub('', top['message'])} × {top['count']}"
    return [Insight("high_failure_early", "critical", "Requests fail from the very start", evidence,
                    "Failures before any real load usually mean a wrong URL, missing authentication or a blocked client: "
                    "the Failures section lists each reason with its count and an example URL.")]  # fmt: skip


def latency_under_load(facts: RunFacts) -> list[Insight]:
    points = [p for p in _busy(facts.timeseries) if p["vus"] > 0]
    if len(points) < 6 or max(p["vus"] for p in points) < 2 * min(p["vus"] for p in points):
        return []
    ordered = sorted(points, key=lambda p: p["vus"])
    third = max(1, len(ordered) // 3)
    low, high = _avg([p["p95_ms"] for p in ordered[:third]]), _avg([p["p95_ms"] for p in ordered[-third:]])
    if low <= 0 or high < 2 * low:
        return []
    return [Insight("latency_degrades_with_load", "warning", "Latency grows with load",
                    {"p95_ms_at_low_load": round(low, 1), "p95_ms_at_high_load": round(high, 1),
                     "vus_low": ordered[0]["vus"], "vus_high": ordered[-1]["vus"]},
                    "p95 more than doubles at the higher VU levels: queueing is building up. Profile the slowest endpoint under load.")]  # fmt: skip


def sla_breaches(facts: RunFacts) -> list[Insight]:
    found = []
    for criterion in facts.sla.get("criteria", []):
        if criterion["met"]:
            continue
        kind = criterion.get("kind", "sla")
        if kind == "dropped":
            found.append(Insight(
                "dropped_iterations", "critical", f"k6 could not start {percent(criterion['value'])} of the planned iterations",
                {"dropped_ratio": criterion["value"], "limit_ratio": criterion["threshold"]}, _SLA_ADVICE["dropped_ratio"],
            ))  # fmt: skip
            continue
        if kind == "threshold":
            found.append(Insight(
                "threshold_failed", "critical", f"k6 threshold failed: {criterion['label']}",
                {"metric_expression": criterion["label"], "observed": criterion["value"]},
                "The script's own pass/fail rule failed: raw `k6 run` exits 99 for this. Read the metric over time "
                "and the endpoints with the highest p95 to see where it was crossed.",
            ))  # fmt: skip
            continue
        suffix = {"rate": "_rate", "ms": "_ms"}.get(criterion.get("unit", ""), "")  # the evidence formatter reads units from keys
        evidence = {
            f"value{suffix}": criterion["value"],
            f"threshold{suffix}": criterion["threshold"],
            "comparator": criterion["comparator"],
        }
        found.append(Insight(f"sla_breach_{criterion['key']}", "critical", f"SLA missed: {criterion['label']}", evidence,
                             _SLA_ADVICE[criterion["key"]]))  # fmt: skip
    for reason in facts.sla.get("reasons", []):
        if "no HTTP requests" in reason:
            found.append(
                Insight("no_requests", "critical", "The run made no HTTP requests", {}, "Check the script: nothing was measured.")
            )
    return found


_SLA_ADVICE = {
    "success_rate": "Too many checks or requests failed: the Failures section lists each reason with its count; "
    "the endpoint table shows where.",
    "error_rate": "The error rate is over the SLA: the Failures section names each reason (status, k6 error code) "
    "and the endpoint table the endpoints that fail.",
    "p90_ms": "p90 latency of successful responses is over the SLA: start with the endpoints with the highest p95 and "
    "the request timing breakdown (waiting = server time).",
    "dropped_ratio": "k6 could not start the iterations the arrival rate asked for: every VU was busy waiting on slow "
    "responses. The target could not keep up at this rate (or maxVUs is too low for its latency).",
}


def too_short(facts: RunFacts) -> list[Insight]:
    seconds = len(facts.timeseries)
    iterations = facts.metrics.get("iterations", {}).get("count", 0)
    if seconds >= SHORT_RUN_S and iterations >= FEW_ITERATIONS:
        return []
    return [Insight("not_enough_data", "info", "Too little data for firm conclusions",
                    {"duration_s": seconds, "iterations": iterations, "minimum_duration_s": SHORT_RUN_S, "minimum_iterations": FEW_ITERATIONS},
                    "Run for at least a few minutes at the target load: percentiles from a few seconds or a few iterations are noise.")]  # fmt: skip


def too_many_urls(facts: RunFacts) -> list[Insight]:
    names = {e["name"] for e in facts.endpoints}
    overflow = "(other endpoints)" in names
    if not overflow and len(names) < MANY_ENDPOINTS:
        return []
    return [Insight("too_many_unique_urls", "warning", "Too many unique URLs",
                    {"unique_names": len(names), "capped": overflow, "cap": facts.max_endpoints},
                    "URLs with IDs or query strings each become their own metric series: group them with a `name` tag "
                    "(http.get(url, { tags: { name: 'GET /items/:id' } })).")]  # fmt: skip


def generator_cpu(facts: RunFacts) -> list[Insight]:
    system = facts.resources.get("system_cpu_percent", {})
    k6_cpu = facts.resources.get("k6_cpu_percent_of_machine", {})
    if max(system.get("avg", 0), k6_cpu.get("avg", 0)) < CPU_SATURATED:
        return []
    evidence = {
        "system_cpu_avg_percent": system.get("avg"),
        "k6_cpu_avg_percent": k6_cpu.get("avg"),
        "cores": facts.resources.get("cores"),
    }
    if k6_cpu.get("avg", 0) >= CPU_SATURATED / 2:
        return [Insight("load_generator_cpu_saturated", "warning", "The load generator ran out of CPU", evidence,
                        "With the generator's CPU saturated, measured latency includes k6's own queuing: use fewer VUs per "
                        "worker, more workers, or lighter scripts (discardResponseBodies).")]  # fmt: skip
    # The machine was busy, but not with k6: something else competed with the load generator.
    return [Insight("load_generator_cpu_contended", "warning", "The machine running k6 was busy with other work", evidence,
                    "k6 itself used little CPU while the machine was saturated: other processes competed with the load "
                    "generator, so latency may include time k6 waited for a core. Run load tests on a quieter worker.")]  # fmt: skip


def breaking_point(facts: RunFacts) -> list[Insight]:
    points = _busy(facts.timeseries)
    if not points:
        return []
    for point in points:
        why = _broken(point)
        if why:
            return [_breaking_insight(facts, point, why, points)]
    if not (_load_varies(points) or facts.preset in ("stress", "breakpoint", "spike")):
        return []  # a constant load says nothing about a breaking point either way
    if (facts.delivery.get("dropped_ratio") or 0) > facts.delivery.get("max_dropped_ratio", 1.0):
        return []  # dropped arrivals are a limit reached; never claim there was none
    return [Insight("no_breaking_point", "info", "No breaking point within the tested range",
                    {"vus_max": max(_load_level(p) for p in points), "rps_max": max(p["rps"] for p in points)},
                    "Errors stayed under 5 %, p95 under 2 s and k6 started every planned iteration: raise the target to find the limit.")]  # fmt: skip


def _broken(point: dict[str, Any]) -> str:
    if point["error_rate"] > ERROR_BREAK:
        return "errors above 5 %"
    if point["p95_ms"] > P95_BREAK_MS:
        return "p95 above 2 s"
    if _dropped_share(point) > ERROR_BREAK:
        return "k6 dropped more than 5 % of the planned iterations"
    return ""


def _breaking_insight(facts: RunFacts, point: dict[str, Any], why: str, points: list[dict[str, Any]]) -> Insight:
    evidence = {
        "t_s": point["t"],
        "vus": point["vus"],
        "rps": point["rps"],
        "error_rate": point["error_rate"],
        "p95_ms": point["p95_ms"],
    }
    arrival = facts.preset == "breakpoint" or (facts.delivery.get("dropped_ratio") is not None)
    # An arrival-rate run is loaded by the arrivals it asked for: started plus dropped iterations.
    asked = (point.get("iterations") or 0) + (point.get("dropped_iterations") or 0)
    level = f"{asked or point['rps']} arrivals/s" if arrival else f"{point['vus']} VUs"
    if point is points[0] and not _load_varies(points):
        return Insight("breaking_point", "critical", f"Past its limit from the start at {level} ({why})", evidence,
                       "The target could not take even the lowest load of this test: lower the load to find where it copes, "
                       "and read the Failures section for what failed.")  # fmt: skip
    return Insight("breaking_point", "critical", f"Breaking point at about {level} ({why})", evidence,
                   f"The system breaks at about {level}. Plan capacity below it and find what fails first there.")  # fmt: skip


def spike_recovery(facts: RunFacts) -> list[Insight]:
    """After the load peaks and drops back, do latency and errors return to the baseline, and how fast?"""
    points = _busy(facts.timeseries)
    if len(points) < 10:
        return []
    peak = max(_load_level(p) for p in points)
    peak_index = max(i for i, p in enumerate(points) if _load_level(p) == peak)
    before = [p for p in points[:peak_index] if _load_level(p) <= peak / 2]
    after = [p for p in points[peak_index + 1 :] if 0 < _load_level(p) <= peak / 2]
    if not _is_spike(points, peak, before, after):
        return []
    base_p95, base_err = _avg([p["p95_ms"] for p in before]), _weighted_error_rate(before)
    load_dropped_t = after[0]["t"]
    healthy = next((p for p in after if _healthy(p, base_p95, base_err)), None)
    tail = after[len(after) // 2 :]
    recovered = healthy is not None and all(_healthy(p, base_p95, base_err) for p in tail)
    evidence = {"baseline_p95_ms": round(base_p95, 1), "after_spike_p95_ms": round(_avg([p["p95_ms"] for p in tail]), 1),
                "baseline_error_rate": round(base_err, 4), "after_spike_error_rate": round(_weighted_error_rate(tail), 4),
                "load_dropped_at_s": load_dropped_t}  # fmt: skip
    if recovered and healthy is not None:
        evidence["recovery_s"] = healthy["t"] - load_dropped_t
        return [Insight("spike_recovered", "info", f"Recovered {evidence['recovery_s']} s after the spike", evidence,
                        "Latency and errors returned to the baseline once the load dropped.")]  # fmt: skip
    return [Insight("spike_not_recovered", "critical", "The system did not recover after the spike", evidence,
                    "Latency or errors stayed high after the load dropped: look for stuck connections, retry storms or a leak.")]  # fmt: skip


def _is_spike(points: list[dict[str, Any]], peak: int, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> bool:
    """A short burst over a held baseline — not a ramp up, hold and ramp down, whose high load is most of the run."""
    high = sum(1 for p in points if _load_level(p) > peak / 2)
    return peak >= 2 and len(before) >= SPIKE_BASELINE_S and len(after) >= SPIKE_BASELINE_S and high <= SPIKE_SHARE * len(points)


def _healthy(point: dict[str, Any], base_p95_ms: float, base_error_rate: float) -> bool:
    return point["p95_ms"] <= 1.5 * max(base_p95_ms, 1) and point["error_rate"] <= base_error_rate + 0.01


def security_findings(facts: RunFacts) -> list[Insight]:
    found = []
    headers = facts.analyzers.get("headers", {})
    if headers.get("status") == "ok" and (headers.get("score") or 100) < 70:
        failing = [t["name"] for t in headers.get("tests", []) if t.get("scored") and t.get("modifier", 0) < 0]
        found.append(Insight("security_headers_weak", "warning", f"Security headers grade {headers.get('grade')}",
                             {"score": headers.get("score"), "failing_tests": failing},
                             "Add the missing headers; each failing test in the security-headers section says which value to send."))  # fmt: skip
    tls = facts.analyzers.get("tls", {})
    if tls.get("status") == "ok" and tls.get("grade") not in ("A+", "A", "A-"):
        found.append(Insight("tls_weak", "critical" if tls.get("grade") in ("F", "T", "M") else "warning",
                             f"TLS grade {tls.get('grade')}", {"caps": [c["reason"] for c in tls.get("caps", [])]},
                             "Fix every cap listed in the TLS section, starting with certificate trust and old protocols."))  # fmt: skip
    days_left = (tls.get("certificate") or {}).get("days_left")
    if tls.get("status") == "ok" and days_left is not None and days_left < 30:
        found.append(Insight("certificate_expiring", "critical" if days_left < 7 else "warning",
                             f"The certificate expires in {days_left} days", {"days_left": days_left},
                             "Renew the certificate (and automate renewal)."))  # fmt: skip
    return found


RULES: list[Rule] = [
    throughput_limit, rising_failures, early_failures, latency_under_load, sla_breaches, too_short,
    too_many_urls, generator_cpu, breaking_point, spike_recovery, security_findings,
]  # fmt: skip
