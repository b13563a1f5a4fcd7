"""What a split run costs beyond a whole one (runs/segments.py): per segment, the sample post-pass and the
size of the state it hands over; for the merge, its time for 2 and 10 segments.

Each segment is a generated k6 CSV of a steady run (three endpoints, 5 % errors, 14 samples per request),
the shape bench/ingest.py writes. Usage: python bench/merge.py [seconds] [requests_per_second]
(default: 600 s at 200 requests/s per segment).
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
import zlib
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "k6intel.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

from ingest import HEADER, HTTP_METRICS, ITERATION_METRICS  # noqa: E402

# The metrics k6's summary names for such a run: what the post-pass adds up.
SUMMARY = {
    "metrics": {
        **{name: {"avg": 0, "p(95)": 0} for name in HTTP_METRICS if name not in ("http_reqs", "http_req_failed")},
        "http_reqs": {"count": 1, "rate": 1},
        "http_req_failed": {"passes": 0, "fails": 0},
        "http_req_duration{expected_response:true}": {"avg": 0, "p(95)": 0},
        "iteration_duration": {"avg": 0, "p(95)": 0},
        "iterations": {"count": 1, "rate": 1},
        "checks": {"passes": 0, "fails": 0},
        "data_sent": {"count": 1, "rate": 1},
        "data_received": {"count": 1, "rate": 1},
    }
}


def write_segment(path: Path, seconds: int, rps: int, seed: int) -> None:
    rng = random.Random(seed)
    start = 1_795_000_000
    with path.open("w") as out:
        out.write(HEADER)
        for offset in range(seconds):
            for _ in range(rps):
                endpoint = f"http://127.0.0.1:8001/api/{rng.choice(('items', 'users', 'orders'))}"
                failed = rng.random() < 0.05
                status = "500" if failed else "200"
                for metric in HTTP_METRICS:
                    value = (
                        1.0 if metric == "http_reqs" else float(failed) if metric == "http_req_failed" else rng.uniform(1, 200)
                    )
                    out.write(
                        f"{metric},{start + offset},{value:.6f},,,,{str(not failed).lower()},,GET,{endpoint},HTTP/1.1,default,,{status},,,{endpoint},,\n"
                    )
                for metric in ITERATION_METRICS:
                    out.write(f"{metric},{start + offset},1.000000,,,,,,,,,default,,,,,,,\n")


def main(seconds: int, rps: int) -> None:
    import django

    django.setup()
    from runs.engine.merge import ingester_state, merge_states
    from runs.engine.results import SampleIngester
    from runs.engine.segments import SegmentPart, aggregate_samples, merge_summaries

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "segment.csv"
        write_segment(path, seconds, rps, seed=1)
        print(f"one segment: {seconds} s at {rps} requests/s, {path.stat().st_size / 1e6:.0f} MB of CSV")
        for keep in (False, True):
            ingester = SampleIngester(path, max_endpoints=200, max_failed_samples=50, keep_second_histograms=keep)
            started = time.perf_counter()
            ingester.finish()
            label = "with per-second histograms" if keep else "whole-run ingest"
            print(f"  ingest, {label:27}: {time.perf_counter() - started:6.2f} s")
        started = time.perf_counter()
        aggregates = aggregate_samples(path, SUMMARY)
        print(f"  sample post-pass (summary metrics): {time.perf_counter() - started:6.2f} s")
        state = {"summary": SUMMARY, "aggregates": aggregates, "stream": ingester_state(ingester)}
        raw = orjson.dumps(state)
        print(f"  state handed over: {len(raw) / 1e6:.2f} MB JSON, {len(zlib.compress(raw)) / 1e6:.2f} MB stored (zlib)")
        for count in (2, 10):
            started = time.perf_counter()
            merged = merge_states([state["stream"]] * count, max_endpoints=200, max_failed_samples=50)
            merged.timeseries(), merged.endpoint_stats(), merged.scenario_stats(), merged.endpoint_series()
            merge_summaries([SegmentPart(SUMMARY, aggregates)] * count)
            print(f"merge of {count:2} segments: {time.perf_counter() - started:6.2f} s")


if __name__ == "__main__":
    arguments = [int(value) for value in sys.argv[1:3]]
    main(*(arguments + [600, 200][len(arguments) :]))
