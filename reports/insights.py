"""Rule-based insights: always on, offline. Each says what the numbers show and what to do.

Every rule is a small function over the stored result (time series, metrics,
scorecard, endpoints, analyzer findings) returning zero or more insights with
the evidence that triggered them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

ERROR_BREAK = 0.05
P95_BREAK_MS = 2000.0
SHORT_RUN_S = 30
FEW_ITERATIONS = 100
MANY_ENDPOINTS = 100
CPU_SATURATED = 85.0  # % of the machine
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


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
    return [Insight("high_failure_early", "critical", "Requests fail from the very start",
                    {"error_rate_first_seconds": round(rate, 4), "seconds": len(head)},
                    "Failures before any real load usually mean a wrong URL, missing authentication or a blocked client: "
                    "check the first failed requests' status codes.")]  # fmt: skip


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
        found.append(Insight(
            f"sla_breach_{criterion['key']}", "critical", f"SLA missed: {criterion['label']}",
            {"value": criterion["value"], "threshold": criterion["threshold"], "comparator": criterion["comparator"]},
            _SLA_ADVICE[criterion["key"]],
        ))  # fmt: skip
    for reason in facts.sla.get("reasons", []):
        if "no HTTP requests" in reason:
            found.append(
                Insight("no_requests", "critical", "The run made no HTTP requests", {}, "Check the script: nothing was measured.")
            )
    return found


_SLA_ADVICE = {
    "success_rate": "Too many checks or requests failed: read the failed-request samples and the per-endpoint error rates.",
    "error_rate": "The error rate is over the SLA: find the endpoints and status codes that fail (see the endpoint table).",
    "p90_ms": "p90 latency is over the SLA: start with the endpoints with the highest p95 and the slowest waterfall phases.",
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
    return [Insight("load_generator_cpu_saturated", "warning", "The load generator ran out of CPU",
                    {"system_cpu_avg_percent": system.get("avg"), "k6_cpu_avg_percent": k6_cpu.get("avg"), "cores": facts.resources.get("cores")},
                    "With the generator's CPU saturated, measured latency includes k6's own queuing: use fewer VUs per worker, "
                    "more workers, or lighter scripts (discardResponseBodies).")]  # fmt: skip


def breaking_point(facts: RunFacts) -> list[Insight]:
    if facts.preset not in ("stress", "breakpoint", "spike"):
        return []
    for point in _busy(facts.timeseries):
        if point["error_rate"] > ERROR_BREAK or point["p95_ms"] > P95_BREAK_MS:
            why = "errors above 5 %" if point["error_rate"] > ERROR_BREAK else "p95 above 2 s"
            evidence = {
                "t_s": point["t"],
                "vus": point["vus"],
                "rps": point["rps"],
                "error_rate": point["error_rate"],
                "p95_ms": point["p95_ms"],
            }
            level = f"{point['rps']} requests/s" if facts.preset == "breakpoint" else f"{point['vus']} VUs"
            return [Insight("breaking_point", "critical", f"Breaking point at about {level} ({why})", evidence,
                            f"The system breaks at about {level}. Plan capacity below it and find what fails first there.")]  # fmt: skip
    return [Insight("no_breaking_point", "info", "No breaking point within the tested range",
                    {"vus_max": max((p["vus"] for p in facts.timeseries), default=0)},
                    "Errors stayed under 5 % and p95 under 2 s throughout: raise the target to find the limit.")]  # fmt: skip


def spike_recovery(facts: RunFacts) -> list[Insight]:
    points = _busy(facts.timeseries)
    if facts.preset != "spike" or len(points) < 10:
        return []
    peak_vus = max(p["vus"] for p in points)
    peak_index = max(i for i, p in enumerate(points) if p["vus"] == peak_vus)
    before = [p for p in points[:peak_index] if p["vus"] < peak_vus / 2]
    after = [p for p in points[peak_index + 1 :] if 0 < p["vus"] < peak_vus / 2]
    if not before or not after:
        return []
    base_p95, base_err = _avg([p["p95_ms"] for p in before]), _weighted_error_rate(before)
    tail = after[len(after) // 2 :]
    recovered = _avg([p["p95_ms"] for p in tail]) <= 1.5 * max(base_p95, 1) and _weighted_error_rate(tail) <= base_err + 0.01
    evidence = {"baseline_p95_ms": round(base_p95, 1), "after_spike_p95_ms": round(_avg([p["p95_ms"] for p in tail]), 1),
                "baseline_error_rate": round(base_err, 4), "after_spike_error_rate": round(_weighted_error_rate(tail), 4)}  # fmt: skip
    if recovered:
        return [Insight("spike_recovered", "info", "The system recovered after the spike", evidence, "Recovery is healthy.")]
    return [Insight("spike_not_recovered", "critical", "The system did not recover after the spike", evidence,
                    "Latency or errors stayed high after the load dropped: look for stuck connections, retry storms or a leak.")]  # fmt: skip


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
