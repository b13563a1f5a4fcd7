"""Merging segments' stream states: split one stream of constructed k6 samples in two, ingest each part as a
segment would, merge, and compare with one ingester reading the whole stream (the independent truth)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from runs.engine.merge import ingester_state, merge_states
from runs.engine.results import ENDPOINT_OVERFLOW, EXACT_SECOND_VALUES, SampleIngester
from runs.engine.tests.test_results_ingest import HEADER, request, row


def stream(seed: int = 7) -> list[tuple[int, str]]:
    """(segment, rows of one request): segment 1 starts a second later, ends two seconds later and alone
    calls /c; failures of two kinds; iterations and VUs per second."""
    rng = random.Random(seed)
    requests = []
    for second in range(100, 110):
        for _ in range(60):
            segment = rng.choice((0, 1)) if 101 <= second <= 107 else (0 if second < 101 else 1)
            name = rng.choice(("http://t/a", "http://t/b", *(("http://t/c",) if segment else ())))
            status = rng.choice(("200",) * 9 + ("500",))
            error = "boom" if status == "500" and rng.random() < 0.5 else ""
            requests.append((segment, request(second, rng.uniform(5, 400), status, name=name, error=error)))
        for segment in (0, 1):
            requests.append((segment, row("vus", second, 3) + row("iterations", second, 1)))
    return requests


def ingested(tmp_path: Path, name: str, rows: list[str], *, max_endpoints: int = 100, keep: bool = False) -> SampleIngester:
    path = tmp_path / f"{name}.csv"
    path.write_text(HEADER + "".join(rows))
    ingester = SampleIngester(path, max_endpoints=max_endpoints, max_failed_samples=10, keep_second_histograms=keep)
    ingester.finish()
    return ingester


def split_and_merge(tmp_path: Path, max_endpoints: int = 100) -> tuple[SampleIngester, SampleIngester]:
    requests = stream()
    whole = ingested(tmp_path, "whole", [rows for _, rows in requests], max_endpoints=max_endpoints)
    states = [
        ingester_state(
            ingested(tmp_path, f"part{i}", [rows for s, rows in requests if s == i], max_endpoints=max_endpoints, keep=True)
        )
        for i in (0, 1)
    ]
    return whole, merge_states(states, max_endpoints=max_endpoints, max_failed_samples=10)


def test_merged_segments_read_as_the_whole_stream(tmp_path: Path) -> None:
    whole, merged = split_and_merge(tmp_path)
    assert merged.totals() == whole.totals()
    one, both = whole.timeseries(), merged.timeseries()
    assert [p["t"] for p in both] == [p["t"] for p in one]
    for mine, truth in zip(both, one, strict=True):
        assert (mine["rps"], mine["error_rate"], mine["statuses"], mine["iterations"]) == (
            truth["rps"],
            truth["error_rate"],
            truth["statuses"],
            truth["iterations"],
        )
        assert mine["vus"] == 2 * truth["vus"] or truth["vus"] == 3  # each segment reports its own VUs
        # Few values in a second: each segment kept them, and the merge takes k6's own percentile on all.
        assert mine["p95_ms"] == pytest.approx(truth["p95_ms"], abs=0.002)
    endpoints = {(e["name"], e["status"]): e for e in whole.endpoint_stats()}
    for endpoint in merged.endpoint_stats():
        truth = endpoints[(endpoint["name"], endpoint["status"])]
        assert (endpoint["count"], endpoint["failed"]) == (truth["count"], truth["failed"])
        assert endpoint["p95_ms"] == pytest.approx(truth["p95_ms"], rel=0.002)
    assert {r["message"]: r["count"] for r in merged.failures()["by_reason"]} == {
        r["message"]: r["count"] for r in whole.failures()["by_reason"]
    }
    series = {s["label"]: s for s in merged.endpoint_series()["series"]}
    truth_series = {s["label"]: s for s in whole.endpoint_series()["series"]}
    assert {label: s["requests"] for label, s in series.items()} == {label: s["requests"] for label, s in truth_series.items()}
    for label, s in series.items():  # /c exists in segment 1 only, numbered differently there
        for mine, truth in zip(s["p95_ms"], truth_series[label]["p95_ms"], strict=True):
            assert (mine is None) == (truth is None) and (truth is None or mine == pytest.approx(truth, abs=0.002))


def test_the_merged_endpoints_are_capped_again(tmp_path: Path) -> None:
    """Each segment keeps its first two endpoints; together they have three: the third joins the overflow row."""
    whole, merged = split_and_merge(tmp_path, max_endpoints=2)
    assert len(merged.endpoints) <= 3 and ENDPOINT_OVERFLOW in {e["name"] for e in merged.endpoint_stats()}
    assert sum(e["count"] for e in merged.endpoint_stats()) == whole.totals()["requests"]


def test_busy_seconds_merge_through_histograms_within_their_precision(tmp_path: Path) -> None:
    """Past EXACT_SECOND_VALUES a second's durations travel as a two-digit histogram: within 1 %."""
    rng = random.Random(11)
    requests = [(i % 2, request(200, rng.uniform(5, 400))) for i in range(3 * EXACT_SECOND_VALUES)]
    whole = ingested(tmp_path, "whole", [rows for _, rows in requests])
    states = [ingester_state(ingested(tmp_path, f"p{i}", [r for s, r in requests if s == i], keep=True)) for i in (0, 1)]
    merged = merge_states(states, max_endpoints=100, max_failed_samples=10)
    (mine,), (truth,) = merged.timeseries(), whole.timeseries()
    assert mine["rps"] == truth["rps"] == 3 * EXACT_SECOND_VALUES
    for key in ("p50_ms", "p90_ms", "p95_ms", "p99_ms"):
        assert mine[key] == pytest.approx(truth[key], rel=0.01)
