"""PDF render time for a 30-minute run's data (SPEC §10 target: ≤ 2 s). Prints the figure.

Usage: python bench/pdf.py [seconds_of_run]   (default 1800)
"""

from __future__ import annotations

import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "k6intel.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

import django  # noqa: E402

django.setup()

from reports.pdf import render_pdf  # noqa: E402


def document(seconds: int) -> dict:
    rng = random.Random(5)
    series = [
        {"t": t, "vus": 50 + t // 36, "rps": 400 + int(50 * math.sin(t / 60)), "error_rate": max(0.0, rng.gauss(0.01, 0.005)),
         "p50_ms": 40 + rng.random() * 5, "p95_ms": 120 + rng.random() * 30, "p99_ms": 250 + rng.random() * 60,
         "iterations": 400, "statuses": {"200": 396, "500": 4}}
        for t in range(seconds)
    ]  # fmt: skip
    criteria = [
        {"key": "success_rate", "label": "Success rate", "value": 0.99, "threshold": 0.95, "comparator": ">=", "met": True, "points": 35.0, "max_points": 35.0},
        {"key": "error_rate", "label": "Error rate", "value": 0.01, "threshold": 0.1, "comparator": "<=", "met": True, "points": 35.0, "max_points": 35.0},
        {"key": "p90_ms", "label": "p90 latency (ms)", "value": 140.0, "threshold": 1500.0, "comparator": "<=", "met": True, "points": 30.0, "max_points": 30.0},
    ]  # fmt: skip
    endpoints = [
        {"name": f"https://shop.example/api/item{n}", "method": "GET", "status": "200", "count": 10_000, "failed": 100,
         "error_rate": 0.01, "p50_ms": 40.0, "p95_ms": 120.0, "p99_ms": 250.0, "max_ms": 900.0}
        for n in range(50)
    ]  # fmt: skip
    return {
        "id": "bench", "project": "bench", "target_url": "https://shop.example/", "status": "done", "grade": "A", "score": 96.0,
        "grade_label": "Excellent", "error": None, "finished_at": "2026-01-01T00:00:00", "k6": {"exit_code": 0, "exit_reason": "ok"},
        "metrics": {"http_reqs": {"count": 720_000, "rate": 400.0}, "http_req_failed": {"rate": 0.01},
                    "http_req_duration": {"avg": 50.0, "min": 5.0, "med": 40.0, "max": 900.0, "p90": 140.0, "p95": 150.0, "p99": 280.0},
                    "iterations": {"count": 720_000}, "vus_max": {"max": 100}},
        "sla": {"criteria": criteria, "score": 96.0, "grade": "A", "grade_label": "Excellent", "thresholds": {"p90_ms": 1500.0}},
        "timeseries": series, "endpoints": endpoints, "thresholds": [], "checks": [], "insights": [], "analyzers": {},
        "analysis": {"source": "insights", "executive_summary": "Bench.", "risk_assessment": {"level": "low", "items": []},
                     "optimization_guidance": [], "bottlenecks": [], "scaling_advice": "", "security_notes": []},
        "ai": {"status": "not_configured"}, "script": "export default function () {}\n" * 200, "config": {"bench": True},
    }  # fmt: skip


def main(seconds: int) -> None:
    doc = document(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        render_pdf(doc, Path(tmp) / "warmup.pdf", Path(tmp))  # font loading happens once per process
        timings = []
        for run in range(3):
            started = time.perf_counter()
            render_pdf(doc, Path(tmp) / f"report{run}.pdf", Path(tmp))
            timings.append(time.perf_counter() - started)
        size_kb = (Path(tmp) / "report0.pdf").stat().st_size / 1024
    print(
        f"PDF for a {seconds} s run ({seconds} points, 50 endpoints): best {min(timings):.2f} s, worst {max(timings):.2f} s, {size_kb:.0f} KB"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1800)
