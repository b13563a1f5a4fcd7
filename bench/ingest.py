"""Result-processing benchmark (SPEC §10: ≥ 1 M k6 samples/s, memory flat in run length).

Writes k6 CSV output the shape k6 v1.1 writes it (14 samples per request, one
second buckets, three endpoints, 5 % errors), then streams it through the
ingester in a fresh process per size and prints samples/s and peak RSS.
Usage: python bench/ingest.py [samples ...]   (default: 1000000 3000000)
"""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEADER = "metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata\n"
HTTP_METRICS = (
    "http_reqs",
    "http_req_duration",
    "http_req_blocked",
    "http_req_connecting",
    "http_req_tls_handshaking",
    "http_req_sending",
    "http_req_waiting",
    "http_req_receiving",
    "http_req_failed",
)
ITERATION_METRICS = ("data_sent", "data_received", "iteration_duration", "iterations", "checks")
REQUESTS_PER_SECOND = 2000


def write_samples(path: Path, samples: int) -> None:
    rng = random.Random(1)
    start = 1_795_000_000
    with path.open("w") as out:
        out.write(HEADER)
        written = 0
        while written < samples:
            second = start + written // (REQUESTS_PER_SECOND * 14)
            endpoint = f"http://127.0.0.1:8001/api/{rng.choice(('items', 'users', 'orders'))}"
            failed = rng.random() < 0.05
            status = "500" if failed else "200"
            for metric in HTTP_METRICS:
                value = 1.0 if metric == "http_reqs" else float(failed) if metric == "http_req_failed" else rng.uniform(1, 200)
                out.write(
                    f"{metric},{second},{value:.6f},,,,{str(not failed).lower()},,GET,{endpoint},HTTP/1.1,default,,{status},,,{endpoint},,\n"
                )
            for metric in ITERATION_METRICS:
                out.write(f"{metric},{second},1.000000,,,,,,,,,default,,,,,,,\n")
            written += 14


def measure(path: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "k6intel.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    from runs.engine.results import SampleIngester

    ingester = SampleIngester(path, max_endpoints=200, max_failed_samples=50)
    started = time.perf_counter()
    ingester.finish()
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = ingester.samples_read / elapsed
    print(f"{ingester.samples_read:>10,} samples  {elapsed:6.2f} s  {rate:>12,.0f} samples/s  peak RSS {peak_mb:6.1f} MB")


def main(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for samples in sizes:
            path = Path(tmp) / f"samples-{samples}.csv"
            write_samples(path, samples)
            subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        measure(Path(sys.argv[2]))
    else:
        main([int(n) for n in sys.argv[1:]] or [1_000_000, 3_000_000])
