"""Result API latency (SPEC §10 target: p95 ≤ 100 ms at 50 concurrent clients with 10 k runs stored).

Fills a fresh database with finished runs (each with a one-minute per-second series, endpoints,
thresholds, checks and scorecard), starts Daphne with production settings and lets k6 drive
concurrent clients that fetch random results (`GET /api/result/<id>`) and list pages
(`GET /api/result/list`). Prints latency percentiles and throughput.

Usage: python bench/result_api.py [runs] [clients] [duration_s]   (default 10000 50 20)
Uses a temporary SQLite database unless BENCH_DATABASE_URL names another (e.g. MariaDB).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from loopback import free_port, wait_listening

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


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    daphne = [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), "k6intel.asgi:application"]
    server = subprocess.Popen(daphne, cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, "daphne")
    return server, f"http://127.0.0.1:{port}"


LOAD_SCRIPT = """
import http from 'k6/http';
const ids = JSON.parse(open('./ids.json'));
const params = (name) => ({ headers: { 'X-API-Key': __ENV.KEY }, tags: { name: name } });
export const options = {
  vus: Number(__ENV.CLIENTS),
  duration: __ENV.DURATION,
  summaryTrendStats: ['med', 'p(95)', 'p(99)', 'max'],
  // Thresholds make k6 report the two request kinds separately.
  thresholds: { 'http_req_duration{name:result}': ['p(95)<100'], 'http_req_duration{name:list}': ['p(95)<100'] },
};
export default function () {
  if (__ITER % 5 === 4) {
    http.get(`${__ENV.BASE}/api/result/list?page=${1 + Math.floor(Math.random() * 49)}`, params('list'));
  } else {
    http.get(`${__ENV.BASE}/api/result/${ids[Math.floor(Math.random() * ids.length)]}`, params('result'));
  }
}
"""


def load(base: str, ids: list[str], clients: int, duration_s: int) -> dict:
    """k6 itself is the load generator: it costs far less CPU per request than a Python client would
    on the same machine, and it reports the percentiles."""
    (WORK / "ids.json").write_text(json.dumps(ids))
    (WORK / "load.js").write_text(LOAD_SCRIPT)
    k6 = shutil.which("k6", path=str(Path(sys.executable).parent)) or "k6"
    env = {**os.environ, "BASE": base, "KEY": KEY, "CLIENTS": str(clients), "DURATION": f"{duration_s}s"}
    command = [k6, "run", "--quiet", "--no-usage-report", "--summary-export", "summary.json", "load.js"]
    subprocess.run(command, cwd=WORK, env=env, capture_output=True)  # exit 99 when a target is missed
    return json.loads((WORK / "summary.json").read_text())["metrics"]


def main() -> None:
    given = [int(arg) for arg in sys.argv[1:4]]
    runs, clients, duration_s = given + [10000, 50, 20][len(given) :]
    fill_started = time.perf_counter()
    ids = fill(runs)
    print(f"stored {len(ids)} runs in {time.perf_counter() - fill_started:.1f} s ({ENV['DATABASE_URL'].split(':')[0]})")
    server, base = start_server()
    try:
        httpx.get(f"{base}/api/result/{ids[0]}", headers={"X-API-Key": KEY}).raise_for_status()  # the key's first use
        metrics = load(base, ids, clients, duration_s)
    finally:
        server.kill()  # Daphne waits for idle keep-alive connections on SIGTERM; nothing here needs a clean exit
        server.wait()
    requests = metrics["http_reqs"]
    print(
        f"{clients} concurrent clients for {duration_s} s: {requests['count']} requests ({requests['rate']:.0f} req/s), "
        f"{100 * metrics['http_req_failed']['value']:.2f} % failed"
    )
    for kind in ("result", "list"):
        trend = metrics[f"http_req_duration{{name:{kind}}}"]
        print(
            f"  {kind:<6} p50 {trend['med']:6.1f} ms  p95 {trend['p(95)']:6.1f} ms  p99 {trend['p(99)']:6.1f} ms   (target p95 ≤ 100 ms)"
        )


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
