"""The stream side of a split run: each segment's ingester as a state that adds up, and the states merged.

A segment keeps its seconds, endpoints and scenarios with histograms instead of percentiles
(`SampleIngester(keep_second_histograms=True)`); `merge_states` adds them up, second by second on the
wall clock (the segments start together), and gives back an ingester whose outputs — time series,
endpoints, scenarios, failures, endpoint series, histograms — read as one run's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from runs.engine.results import (
    EXACT_SECOND_VALUES,
    FAILURE_REASON_OVERFLOW,
    FailureReason,
    SampleIngester,
    ScenarioSecond,
    ScenarioStats,
    SecondBucket,
    new_second_histogram,
    percentile,
    record_ms,
)

PERCENTILES = {"p50_ms": 50.0, "p90_ms": 90.0, "p95_ms": 95.0, "p99_ms": 99.0}


def _encode(histogram: HdrHistogram) -> str:
    return histogram.encode().decode() if histogram.get_total_count() else ""


def merged_percentile_ms(parts: Iterable[str | list[float]], pct: float) -> float:
    """A percentile of the segments' durations together: k6's own (linear between ranks) while every part
    kept its values and they are few, else from their histograms added up."""
    parts = [part for part in parts if part]
    values = [value for part in parts if isinstance(part, list) for value in part]
    if all(isinstance(part, list) for part in parts) and len(values) <= EXACT_SECOND_VALUES:
        return percentile(sorted(values), pct / 100)
    histogram = new_second_histogram()
    for part in parts:
        if isinstance(part, list):
            for value in part:
                record_ms(histogram, value)
        else:
            histogram.add(HdrHistogram.decode(part.encode()))
    return histogram.get_value_at_percentile(pct) / 1000 if histogram.get_total_count() else 0.0


# --- a segment's state -------------------------------------------------------------


def second_state(ingester: SampleIngester, second: int) -> dict[str, Any]:
    """One closed second of a segment: its counts and its durations' histograms."""
    bucket = ingester.seconds.get(second) or SecondBucket(durations_ms=None)
    kept = (ingester.second_histograms or {}).get(second, {})
    reasons = {reason.index: reason for reason in ingester.failure_reasons.values()}
    return {
        "requests": bucket.requests, "failed": bucket.failed, "iterations": bucket.iterations, "vus": bucket.vus,
        "dropped": bucket.dropped, "statuses": dict(bucket.statuses),
        "reasons": [[*_reason_key(reasons[i]), n] for i, n in bucket.failure_reasons.items()],
        "timing_sums_ms": bucket.timing_sums_ms, "timing_samples": bucket.timing_samples,
        "hdr": kept.get("all", ""), "endpoints": kept.get("endpoints", {}),
    }  # fmt: skip


def _reason_key(reason: FailureReason) -> tuple[str, str, str]:
    return reason.status, reason.error_code, reason.error


def ingester_state(ingester: SampleIngester) -> dict[str, Any]:
    """Everything of a finished segment's ingester that the merged run shows, in JSON."""
    first = ingester.first_second or 0
    return {
        "first_second": ingester.first_second,
        "newest_second": ingester.newest_second,
        "seconds": {str(second): second_state(ingester, second) for second in sorted(ingester.seconds)},
        "endpoints": [[e.name, e.method, e.status, e.count, e.failed, _encode(e.histogram)] for e in ingester.endpoints.values()],
        "series_endpoints": [
            [method, name] for (method, name), _ in sorted(ingester._series_endpoints.items(), key=lambda x: x[1])
        ],
        "scenarios": [_scenario_state(scenario, ingester) for scenario in ingester.scenarios.values()],
        "reasons": [[*_reason_key(r), r.first_seen_s + first, r.count, r.sample_urls] for r in ingester.failure_reasons.values()],
        "failure_samples": [{**sample, "t": sample["t"] + first} for sample in ingester.failure_samples],
        "origins": dict(ingester.origin_requests),
        "samples_read": ingester.samples_read,
        "late_samples": ingester.late_samples,
        "max_vus_seen": ingester.max_vus_seen,
    }


def _scenario_state(scenario: ScenarioStats, ingester: SampleIngester) -> dict[str, Any]:
    kept = ingester.second_histograms or {}
    return {
        "name": scenario.name, "requests": scenario.requests, "failed": scenario.failed, "iterations": scenario.iterations,
        "first_second": scenario.first_second, "last_second": scenario.last_second, "hdr": _encode(scenario.histogram),
        "seconds": {
            str(second): [b.requests, b.failed, b.iterations, b.busy_ms, kept.get(second, {}).get("scenarios", {}).get(scenario.name, "")]
            for second, b in scenario.seconds.items()
        },
    }  # fmt: skip


# --- merging -----------------------------------------------------------------------


def merge_states(states: list[dict[str, Any]], *, max_endpoints: int, max_failed_samples: int) -> SampleIngester:
    """One ingester for the whole run, from its segments' states."""
    merged = SampleIngester(Path("/dev/null"), max_endpoints=max_endpoints, max_failed_samples=max_failed_samples)
    started = [state for state in states if state.get("first_second") is not None]
    if not started:
        return merged
    merged.first_second = min(state["first_second"] for state in started)
    merged.newest_second = max(state["newest_second"] for state in started)
    merged.samples_read = sum(state["samples_read"] for state in states)
    merged.late_samples = sum(state["late_samples"] for state in states)
    merged.max_vus_seen = sum(state["max_vus_seen"] for state in states)
    _merge_reasons(merged, started)
    _merge_series_endpoints(merged, started)
    for second in range(merged.first_second, merged.newest_second + 1):
        having = [state for state in started if str(second) in state["seconds"]]  # a segment may end earlier
        if having:
            merged.seconds[second] = merge_second([state["seconds"][str(second)] for state in having], merged, having)
    merged.total_requests = sum(bucket.requests for bucket in merged.seconds.values())
    merged.total_failed = sum(bucket.failed for bucket in merged.seconds.values())
    merged.total_iterations = sum(bucket.iterations for bucket in merged.seconds.values())
    _merge_endpoints(merged, started)
    _merge_scenarios(merged, started)
    merged.failure_samples = sorted(
        ({**sample, "t": sample["t"] - merged.first_second} for state in started for sample in state["failure_samples"]),
        key=lambda sample: sample["t"],
    )[:max_failed_samples]
    merged.origin_requests = sum((Counter(state["origins"]) for state in started), Counter())
    merged._closed_before = merged.newest_second + 1
    return merged


def merge_second(parts: list[dict[str, Any]], merged: SampleIngester, states: list[dict[str, Any]] | None = None) -> SecondBucket:
    """One wall-clock second of every segment: counts added, percentiles from the added histograms."""
    bucket = SecondBucket(durations_ms=None)
    for part in parts:
        bucket.requests += part["requests"]
        bucket.failed += part["failed"]
        bucket.iterations += part["iterations"]
        bucket.vus += part["vus"]
        bucket.dropped += part["dropped"]
        bucket.statuses.update(part["statuses"])
        bucket.timing_samples += part["timing_samples"]
        bucket.timing_sums_ms = [a + b for a, b in zip(bucket.timing_sums_ms, part["timing_sums_ms"], strict=True)]
        for status, error_code, error, count in part["reasons"]:
            reasons = merged.failure_reasons
            if (reason := reasons.get((status, error_code, error)) or reasons.get(FAILURE_REASON_OVERFLOW)) is not None:
                bucket.failure_reasons[reason.index] += count
    for name, pct in PERCENTILES.items():
        setattr(bucket, name, merged_percentile_ms((part["hdr"] for part in parts), pct))
    if states is not None:
        bucket.endpoint_p95_ms = _endpoint_p95s(parts, merged, states)
    return bucket


def _endpoint_p95s(parts: list[dict[str, Any]], merged: SampleIngester, states: list[dict[str, Any]]) -> dict[int, float]:
    """Each tracked endpoint's p95 in this second; a segment numbers its endpoints in its own order."""
    encoded: dict[int, list[str | list[float]]] = {}
    for part, state in zip(parts, states, strict=True):
        names = state["series_endpoints"]
        for index, text in part["endpoints"].items():
            if int(index) >= len(names):
                continue
            method, name = names[int(index)]
            if (mine := merged._series_endpoints.get((method, name))) is not None:
                encoded.setdefault(mine, []).append(text)
    return {index: merged_percentile_ms(texts, 95.0) for index, texts in encoded.items()}


def _merge_reasons(merged: SampleIngester, states: list[dict[str, Any]]) -> None:
    for state in states:
        for status, error_code, error, first_seen_abs, count, urls in state["reasons"]:
            first_seen_s = first_seen_abs - (merged.first_second or 0)
            reason = merged._failure_reason(status, error_code, error, first_seen_abs)  # capped as in one run
            reason.count += count
            reason.first_seen_s = min(reason.first_seen_s, first_seen_s)
            reason.sample_urls = list(dict.fromkeys([*reason.sample_urls, *urls]))[:3]


def _merge_series_endpoints(merged: SampleIngester, states: list[dict[str, Any]]) -> None:
    requests: Counter[tuple[str, str]] = Counter()
    for state in states:
        for name, method, _status, count, _failed, _hdr in state["endpoints"]:
            if [method, name] in state["series_endpoints"]:
                requests[(method, name)] += count
    for key, count in requests.most_common(20):
        merged._series_endpoints[key] = len(merged._series_requests)
        merged._series_requests.append(count)


def _merge_endpoints(merged: SampleIngester, states: list[dict[str, Any]]) -> None:
    for state in states:
        for name, method, status, count, failed, encoded in state["endpoints"]:
            # Capped again: each segment kept its own first max_endpoints, and their union can be larger.
            endpoint = merged._endpoint(name, method, status)
            endpoint.count += count
            endpoint.failed += failed
            if encoded:
                endpoint.histogram.add(HdrHistogram.decode(encoded.encode()))


def _merge_scenarios(merged: SampleIngester, states: list[dict[str, Any]]) -> None:
    encoded: dict[tuple[str, int], list[str | list[float]]] = {}  # each segment's durations of a scenario's second
    for state in states:
        for part in state["scenarios"]:
            scenario = merged.scenarios.get(part["name"])
            if scenario is None:
                scenario = merged.scenarios[part["name"]] = ScenarioStats(part["name"])
            scenario.requests += part["requests"]
            scenario.failed += part["failed"]
            scenario.iterations += part["iterations"]
            if part["first_second"] is not None:
                first = scenario.first_second
                scenario.first_second = part["first_second"] if first is None else min(first, part["first_second"])
            scenario.last_second = max(scenario.last_second, part["last_second"])
            if part["hdr"]:
                scenario.histogram.add(HdrHistogram.decode(part["hdr"].encode()))
            for second, (requests, failed, iterations, busy_ms, histogram) in part["seconds"].items():
                bucket = scenario.seconds.setdefault(int(second), ScenarioSecond(durations_ms=None))
                bucket.requests += requests
                bucket.failed += failed
                bucket.iterations += iterations
                bucket.busy_ms += busy_ms
                encoded.setdefault((scenario.name, int(second)), []).append(histogram)
    for (name, second), texts in encoded.items():
        merged.scenarios[name].seconds[second].p95_ms = merged_percentile_ms(texts, 95.0)
