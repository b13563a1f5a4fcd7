"""Comparison benchmark: what a comparison costs us for runs of growing size.

Builds two runs' stored results the way the ingester stores them (an HDR histogram of every request
duration, per endpoint and overall; one point per second) and times `compare_runs` on them — the
Mann-Whitney U on the latency distributions, Fisher's test on the counts, the per-endpoint tests and
the diffs — plus the histograms' stored size. It runs when a run ends (against its baseline) and for
every GET /api/compare. Usage: python bench/compare.py [requests ...]   (default: 10000 1000000 10000000)
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "k6intel.settings")  # the engine reads settings

from hdrh.histogram import HdrHistogram  # noqa: E402

from runs.engine.compare import RunFacts, compare_runs  # noqa: E402
from runs.engine.results import ALL_REQUESTS  # noqa: E402

ENDPOINTS = 20
SECONDS = 600


def stored_run(run_id: str, requests: int, low_ms: float, high_ms: float, rng: random.Random) -> RunFacts:
    """A run's stored facts: its histograms filled from a uniform latency distribution (sampled, then scaled)."""
    histograms = {f"GET /item/{index} 200": HdrHistogram(1, 3_600_000_000, 3) for index in range(ENDPOINTS)}
    overall = HdrHistogram(1, 3_600_000_000, 3)
    drawn = min(requests, 200_000)  # recording every request would time the benchmark, not the comparison
    weight = requests // drawn
    names = list(histograms)
    for _ in range(drawn):
        value_us = round(rng.uniform(low_ms, high_ms) * 1000)
        histograms[rng.choice(names)].record_value(value_us, weight)
        overall.record_value(value_us, weight)
    encoded = {name: histogram.encode().decode() for name, histogram in histograms.items()}
    encoded[ALL_REQUESTS] = overall.encode().decode()
    per_second = requests // SECONDS
    timeseries = [{"t": t, "rps": per_second, "p95_ms": high_ms * 0.95, "error_rate": 0.0} for t in range(SECONDS)]
    endpoints = [
        {"name": name.split()[1], "method": "GET", "status": "200", "count": requests // ENDPOINTS, "p95_ms": high_ms}
        for name in names
    ]
    metrics = {
        "http_req_duration": {"med": (low_ms + high_ms) / 2, "p90": high_ms * 0.9, "p95": high_ms * 0.95, "p99": high_ms * 0.99},
        "http_reqs": {"count": requests, "rate": requests / SECONDS},
        "http_req_failed": {"rate": 0.01, "passes": requests // 100, "fails": requests - requests // 100},
    }
    return RunFacts(run_id, metrics, timeseries, endpoints, histograms=encoded, script="export default function () {}\n")


def main(sizes: list[int]) -> None:
    rng = random.Random(1)
    print(f"{'requests':>12} {'compare s':>10} {'stored KB':>10}")
    for requests in sizes:
        base, run = stored_run("base", requests, 10, 30, rng), stored_run("run", requests, 12, 33, rng)
        started = time.perf_counter()
        compare_runs(base, run, 0.10)
        elapsed_s = time.perf_counter() - started
        stored_kb = sum(len(value) for value in run.histograms.values()) / 1024
        print(f"{requests:>12} {elapsed_s:>10.3f} {stored_kb:>10.1f}")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [10_000, 1_000_000, 10_000_000])
