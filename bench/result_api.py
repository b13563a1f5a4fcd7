"""Result API latency (SPEC §10 target: p95 ≤ 100 ms at 50 concurrent clients with 10 k runs stored).

Fills a fresh database with finished runs (each with a one-minute per-second series, endpoints,
thresholds, checks and scorecard), starts Daphne with production settings and lets concurrent
clients fetch random results (`GET /api/result/<id>`) and list pages (`GET /api/result/list`).
Prints latency percentiles and throughput.

Usage: python bench/result_api.py [runs] [clients] [requests_per_client]   (default 10000 50 40)
Uses a temporary SQLite database unless BENCH_DATABASE_URL names another (e.g. MariaDB).
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.mkdtemp(prefix="k6intel-bench-api-"))
KEY = f"k6i_bench_{secrets.token_urlsafe(16)}"
ENV = {
    "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{WORK / 'db.sqlite3'}"),
    "REDIS_URL": "",
    "DEBUG": "false",
    "SECURE_SSL_REDIRECT": "false",
    "ALLOWED_HOSTS": "127.0.0.1",
    "API_RATE": "1000000/min",
    "BACKEND_API_KEY": KEY,
    "RESULT_DIR": str(WORK / "results"),
}
os.environ.update(ENV)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "k6intel.settings")
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from runs.models import Project, Run, RunResult  # noqa: E402

BATCH = 500


def fill(count: int) -> list[str]:
    call_command("migrate", "--noinput", verbosity=0)
    projects = [Project.objects.create(name=f"project-{index}") for index in range(20)]
    rng = random.Random(7)
    ids = []
    for start in range(0, count, BATCH):
        runs = [_run(rng, projects) for _ in range(min(BATCH, count - start))]
        Run.objects.bulk_create(runs)
        RunResult.objects.bulk_create([_result(rng, run) for run in runs])
        ids += [str(run.pk) for run in runs]
    return ids


def _run(rng: random.Random, projects: list[Project]) -> Run:
    grade = rng.choice("ABCF")
    return Run(
        project=rng.choice(projects),
        mode=Run.Mode.BUILDER,
        target_url=f"https://api.example.com/items/{rng.randrange(1000)}",
        spec={"url": "https://api.example.com/items", "vus": 20, "duration": "60s"},
        script="export default function () {}\n" * 20,
        planned_duration_s=60,
        max_vus=20,
        sla_config={"success_rate": 0.95, "error_rate": 0.1, "p90_ms": 1500.0},
        status=Run.Status.DONE,
        grade=grade,
        score=rng.uniform(0, 100),
        k6_exit_code=0,
        log="k6 summary line\n" * 40,
    )


def _result(rng: random.Random, run: Run) -> RunResult:
    series = [
        {"t": t, "rps": 400 + rng.randrange(50), "error_rate": 0.01, "p50_ms": 40.0, "p95_ms": 90.0, "p99_ms": 140.0, "vus": 20}
        for t in range(60)
    ]
    endpoints = [{"name": f"/items/{n}", "method": "GET", "status": "200", "count": 4000, "p95_ms": 90.0} for n in range(5)]
    metrics = {"http_reqs": {"count": 24000, "rate": 400.0}, "http_req_duration": {"p95": 90.0, "p99": 140.0}}
    return RunResult(run=run, metrics=metrics, timeseries=series, endpoints=endpoints, sla={"score": run.score})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    daphne = [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), "k6intel.asgi:application"]
    server = subprocess.Popen(
        daphne, cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=open("/tmp/daphne.log", "wb")
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    raise SystemExit("daphne did not start")


async def client(base: str, ids: list[str], requests: int, seed: int) -> list[tuple[str, float]]:
    rng = random.Random(seed)
    timings = []
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": KEY}, timeout=30) as http:
        for index in range(requests):
            path = f"/api/result/list?page={rng.randrange(1, 50)}" if index % 5 == 4 else f"/api/result/{rng.choice(ids)}"
            started = time.perf_counter()
            response = await http.get(path)
            timings.append(("list" if "list" in path else "result", 1000 * (time.perf_counter() - started)))
            response.raise_for_status()
    return timings


async def load(base: str, ids: list[str], clients: int, requests: int) -> tuple[list[tuple[str, float]], float]:
    started = time.perf_counter()
    results = await asyncio.gather(*(client(base, ids, requests, seed) for seed in range(clients)))
    return [timing for timings in results for timing in timings], time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(share * len(ordered)) - 1)]


def main() -> None:
    given = [int(arg) for arg in sys.argv[1:4]]
    runs, clients, requests = given + [10000, 50, 40][len(given) :]
    fill_started = time.perf_counter()
    ids = fill(runs)
    print(f"stored {len(ids)} runs in {time.perf_counter() - fill_started:.1f} s ({ENV['DATABASE_URL'].split(':')[0]})")
    server, base = start_server()
    try:
        asyncio.run(load(base, ids, 5, 5))  # warm-up: connections, the API key's first use
        timings, elapsed_s = asyncio.run(load(base, ids, clients, requests))
    finally:
        server.kill()  # Daphne waits for idle keep-alive connections on SIGTERM; nothing here needs a clean exit
        server.wait()
    print(f"{clients} concurrent clients, {len(timings)} requests in {elapsed_s:.1f} s ({len(timings) / elapsed_s:.0f} req/s)")
    for kind in ("result", "list"):
        values = [ms for name, ms in timings if name == kind]
        print(
            f"  {kind:<6} n={len(values):5d}  p50 {statistics.median(values):6.1f} ms  p95 {percentile(values, 0.95):6.1f} ms  "
            f"p99 {percentile(values, 0.99):6.1f} ms   (target p95 ≤ 100 ms)"
        )


if __name__ == "__main__":
    main()
