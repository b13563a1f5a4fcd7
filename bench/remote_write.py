"""What the lean collection costs the worker (runs/engine/remotewrite): k6 pushes once a second, the worker
decodes the push and turns it into the run's figures. Builds pushes the shape k6 v1.1 sends them (native
histograms at schema 3, cumulative; three endpoints, two statuses each, the six request phases, iterations,
VUs), for a run of `seconds` at `rate` requests/s, then times decoding and ingesting them (and closing the
seconds) in this process, and prints the worker's CPU per second of the run.

Usage: python bench/remote_write.py [rate] [seconds]   (default 25000 60)
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

import cramjam

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "k6intel.settings")

import django  # noqa: E402

django.setup()

from runs.engine.remotewrite.ingest import RemoteWriteIngester, ReplayedPushes  # noqa: E402
from runs.engine.remotewrite.prometheus_remote_pb2 import (  # noqa: E402
    BucketSpan,
    Histogram,
    Label,
    Sample,
    TimeSeries,
    WriteRequest,
)

ENDPOINTS = (("GET", "/", 0.5), ("GET", "/items", 0.3), ("POST", "/cart", 0.2))
PHASES = ("blocked", "connecting", "tls_handshaking", "sending", "waiting", "receiving")
SCHEMA = 3


class Cumulative:
    """One series' native histogram as k6 keeps it: every observation since the start."""

    def __init__(self) -> None:
        self.buckets: Counter[int] = Counter()
        self.count = 0
        self.sum_s = 0.0

    def observe(self, value_s: float, times: int = 1) -> None:
        self.buckets[math.ceil(math.log2(value_s) * 2**SCHEMA)] += times
        self.count += times
        self.sum_s += value_s * times

    def message(self, stamp_ms: int) -> Histogram:
        spans, deltas, previous_index, previous_count = [], [], None, 0
        for index in sorted(self.buckets):
            if previous_index is None or index != previous_index + 1:
                gap = index if previous_index is None else index - previous_index - 1
                spans.append(BucketSpan(offset=gap, length=0))
            spans[-1].length += 1
            deltas.append(self.buckets[index] - previous_count)
            previous_index, previous_count = index, self.buckets[index]
        return Histogram(
            count_int=self.count, sum=self.sum_s, schema=SCHEMA, zero_threshold=2**-128,
            positive_spans=spans, positive_deltas=deltas, timestamp=stamp_ms,
        )  # fmt: skip


def labels(name: str, method: str, path: str, status: str) -> list[Label]:
    pairs = {"__name__": name, "method": method, "name": f"http://127.0.0.1:8080{path}", "scenario": "default"}
    pairs |= {"status": status, "url": pairs["name"], "expected_response": "true" if status == "200" else "false"}
    return [Label(name=key, value=value) for key, value in sorted(pairs.items())]


def pushes(rate: int, seconds: int) -> list[bytes]:
    rng = random.Random(1)
    histograms: dict[tuple[str, ...], Cumulative] = {}
    counters: dict[str, float] = {"iterations": 0}
    start_ms = 1_800_000_000_000
    bodies = []
    for second in range(seconds):
        stamp_ms = start_ms + 1000 * second + 3
        for method, path, share in ENDPOINTS:
            for _ in range(int(rate * share)):
                status = "500" if rng.random() < 0.05 else "200"
                duration_s = rng.lognormvariate(math.log(0.004), 0.5)
                for metric in ("duration", *PHASES):
                    value = duration_s if metric in ("duration", "waiting") else 1e-6 * (1 + rng.random())
                    histograms.setdefault((metric, method, path, status), Cumulative()).observe(value)
        counters["iterations"] += rate
        series = [
            TimeSeries(labels=labels(f"k6_http_req_{metric}_seconds", method, path, status), histograms=[h.message(stamp_ms)])
            for (metric, method, path, status), h in histograms.items()
        ]
        series += [
            TimeSeries(labels=labels("k6_http_req_failed_rate", method, path, status), samples=[Sample(value=float(status != "200"), timestamp=stamp_ms)])
            for (metric, method, path, status) in histograms if metric == "duration"
        ]  # fmt: skip
        series.append(TimeSeries(labels=[Label(name="__name__", value="k6_iterations_total"), Label(name="scenario", value="default")], samples=[Sample(value=counters["iterations"], timestamp=stamp_ms)]))  # fmt: skip
        series.append(TimeSeries(labels=[Label(name="__name__", value="k6_vus")], samples=[Sample(value=20, timestamp=stamp_ms)]))
        bodies.append(bytes(cramjam.snappy.compress_raw(WriteRequest(timeseries=series).SerializeToString())))
    return bodies


def main() -> None:
    rate, seconds = ([int(arg) for arg in sys.argv[1:3]] + [25_000, 60][len(sys.argv[1:3]) :])[:2]
    bodies = pushes(rate, seconds)
    replay = ReplayedPushes()
    ingester = RemoteWriteIngester(replay, max_endpoints=200, max_failed_samples=50)
    cpu = time.process_time()
    for second, body in enumerate(bodies):
        request = WriteRequest.FromString(bytes(cramjam.snappy.decompress_raw(body)))
        replay.pushes.append((ReplayedPushes.REPLAY_START_S + second, request))
        ingester.poll()
    ingester.finish()
    ingester.timeseries(), ingester.endpoint_stats(), ingester.scenario_stats(), ingester.histograms()
    cpu_s = time.process_time() - cpu
    assert ingester.total_requests == sum(int(rate * share) for *_, share in ENDPOINTS) * seconds
    size_kb = sum(map(len, bodies)) / len(bodies) / 1024
    print(f"{rate:,} requests/s for {seconds} s: pushes of {size_kb:.1f} KB (snappy), {len(bodies)} of them")
    print(f"  worker CPU to decode and ingest: {1000 * cpu_s / seconds:.1f} ms per second of the run "
          f"({100 * cpu_s / seconds:.1f} % of one core)")  # fmt: skip


if __name__ == "__main__":
    main()
