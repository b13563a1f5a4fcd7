"""Result API latency (SPEC §10 target: p95 ≤ 100 ms at 50 concurrent clients with 10 k runs stored).

Fills a MariaDB database of its own (dropped at the end) with finished runs, each with a one-minute
per-second series, endpoints, metrics and scorecard, owned by one API key per client. Renders every
run's result document once (what a run's first read costs), then serves the API in production
settings (MariaDB, Redis for the throttle, DEBUG off) two ways: one Daphne process, as before, and
`scripts/web.sh` (gunicorn with uvicorn workers) for each worker count given.

k6 drives closed-loop clients, each with its own key and no pause: 4 in 5 requests fetch one of the
client's runs (`GET /api/result/<id>`), 1 in 5 a page of its list (`GET /api/result/list`); with the
first worker count, each kind also runs alone. Prints throughput, percentiles per kind, and CPU
(100 % = one core) of the server's processes, k6, MariaDB and the whole machine: the load generator
and the database share the machine's cores with the server.

Usage: python bench/result_api.py [runs] [clients] [duration_s] [workers,...]   (default 10000 50 20 2,3,4)
BENCH_DATABASE_URL (a MariaDB database, dropped and created) and BENCH_REDIS_URL override the defaults.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import MySQLdb
import psutil
from loopback import free_port, wait_listening

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.mkdtemp(prefix="k6intel-bench-api-"))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "mysql://root@127.0.0.1:3306/bench_result_api")
ENV = {
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
    "DEBUG": "false",
    "SECURE_SSL_REDIRECT": "false",
    "ALLOWED_HOSTS": "127.0.0.1",
    "API_RATE": "1000000/min",  # the clients measure the server, not the throttle's refusals
    "RESULT_DIR": str(WORK / "results"),
}
os.environ.update(ENV)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "k6intel.settings")
sys.path.insert(0, str(ROOT))

import django  # noqa: E402
import environ  # noqa: E402

django.setup()  # connects to nothing yet: the database is created first, in main()

from django.core.management import call_command  # noqa: E402

from runs.api.apikeys import apikey_create  # noqa: E402
from runs.api.documents import code_version, result_document  # noqa: E402
from runs.models import ApiKey, Project, Run, RunResult  # noqa: E402

DATABASE = environ.Env.db_url_config(DATABASE_URL)
BATCH = 500
TARGET_P95_MS = 100.0


def recreate_database(drop_only: bool = False) -> None:
    server = MySQLdb.connect(
        host=DATABASE["HOST"] or "127.0.0.1",
        port=int(DATABASE["PORT"] or 3306),
        user=DATABASE["USER"],
        passwd=DATABASE["PASSWORD"],
    )
    with server.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{DATABASE['NAME']}`")
        if not drop_only:
            cursor.execute(f"CREATE DATABASE `{DATABASE['NAME']}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    server.close()


def fill(count: int, clients: int) -> tuple[list[str], list[list[str]]]:
    """`count` finished runs shared out over one API key per client: (keys, each key's run ids)."""
    call_command("migrate", "--noinput", verbosity=0)
    created = [apikey_create(f"bench-client-{index}") for index in range(clients)]
    projects = [Project.objects.create(name=f"project-{index}") for index in range(20)]
    rng = random.Random(7)
    owned: list[list[str]] = [[] for _ in created]
    for start in range(0, count, BATCH):
        runs = [_run(rng, projects, created[(start + n) % clients][0]) for n in range(min(BATCH, count - start))]
        Run.objects.bulk_create(runs)
        RunResult.objects.bulk_create([_result(rng, run) for run in runs])
        for n, run in enumerate(runs):
            owned[(start + n) % clients].append(str(run.pk))
    return [key for _, key in created], owned


def _run(rng: random.Random, projects: list[Project], api_key: ApiKey) -> Run:
    grade = rng.choice("ABCF")
    return Run(
        project=rng.choice(projects),
        api_key=api_key,
        mode=Run.Mode.BUILDER,
        target_url=f"https://api.example.com/items/{rng.randrange(1000)}",
        spec={"url": "https://api.example.com/items", "vus": 20, "duration": "60s"},
        script="export default function () {}\n" * 20,
        planned_duration_s=60,
        max_vus=20,
        sla_config={"success_rate": 0.95, "error_rate": 0.1, "p90_ms": 1500.0},
        status=Run.Status.DONE,
        verdict="passed" if grade != "F" else "failed",
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


def render_documents() -> int:
    runs = Run.objects.select_related("project", "result", "analysis").prefetch_related("analyzer_results")
    for run in runs.iterator(chunk_size=BATCH):
        result_document(run)
    return runs.count()


@dataclass(frozen=True)
class Server:
    name: str
    command: list[str]
    extra_env: dict[str, str]


def servers(worker_counts: list[int]) -> list[Server]:
    daphne = str(Path(sys.executable).parent / "daphne")
    before = Server("daphne, 1 process", [daphne, "-b", "127.0.0.1", "-p", "{port}", "k6intel.asgi:application"], {})
    web = [
        Server(
            f"web.sh, {count} workers",
            [str(ROOT / "scripts" / "web.sh")],
            {"WEB_WORKERS": str(count), "WEB_BIND": "127.0.0.1:{port}"},
        )
        for count in worker_counts
    ]
    return [before, *web]


def start(server: Server) -> tuple[subprocess.Popen[bytes], str]:
    port = str(free_port())
    env = {**os.environ, "PYTHON": sys.executable, **{k: v.replace("{port}", port) for k, v in server.extra_env.items()}}
    command = [part.replace("{port}", port) for part in server.command]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_listening(int(port), server.name)
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)  # nothing here needs a clean exit; the group takes every worker with it
    process.wait()


LOAD_SCRIPT = """
import http from 'k6/http';
const clients = JSON.parse(open('./clients.json'));
export const options = {
  vus: clients.keys.length,
  duration: __ENV.DURATION,
  summaryTrendStats: ['med', 'p(95)', 'p(99)', 'max'],
  // Thresholds make k6 report the two request kinds separately.
  thresholds: { 'http_req_duration{name:result}': ['p(95)<100'], 'http_req_duration{name:list}': ['p(95)<100'] },
};
const every = Number(__ENV.LIST_EVERY);  // 1 in `every` requests is a list page; 0: none
export default function () {
  const client = __VU - 1;
  const params = (name) => ({ headers: { 'X-API-Key': clients.keys[client] }, tags: { name: name } });
  const runs = clients.runs[client];
  if (every > 0 && __ITER % every === every - 1) {
    const pages = Math.ceil(runs.length / 20);
    http.get(`${__ENV.BASE}/api/result/list?page=${1 + Math.floor(Math.random() * pages)}`, params('list'));
  } else {
    http.get(`${__ENV.BASE}/api/result/${runs[Math.floor(Math.random() * runs.length)]}`, params('result'));
  }
}
"""


@dataclass
class CpuUse:
    """CPU seconds used while k6 ran, per group of processes, and the wall time."""

    server_s: float = 0.0
    k6_s: float = 0.0
    database_s: float = 0.0
    machine_s: float = 0.0
    wall_s: float = 0.0

    def percent(self, seconds: float) -> str:
        return f"{100 * seconds / self.wall_s:4.0f} %"


@dataclass(frozen=True)
class Mix:
    name: str
    list_every: int  # 1 in this many requests is a list page; 0: none
    kinds: tuple[str, ...]


MIXED = Mix("4 results : 1 list", 5, ("result", "list"))
# For one server, each kind alone too: what each costs, without the other's share of the cores.
ALONE = (Mix("results only", 0, ("result",)), Mix("lists only", 1, ("list",)))


def load(base: str, server: subprocess.Popen[bytes], duration_s: int, mix: Mix) -> tuple[dict, CpuUse]:
    """k6 itself is the load generator: it costs far less CPU per request than a Python client would
    on the same machine, and it reports the percentiles."""
    k6 = shutil.which("k6", path=str(Path(sys.executable).parent)) or "k6"
    env = {**os.environ, "BASE": base, "DURATION": f"{duration_s}s", "LIST_EVERY": str(mix.list_every)}
    command = [k6, "run", "--quiet", "--no-usage-report", "--summary-export", "summary.json", "load.js"]
    process = subprocess.Popen(command, cwd=WORK, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first, last = _cpu_seconds(server, process), CpuUse()
    started = time.monotonic()
    while process.poll() is None:  # exit 99 when a threshold is missed: fine, the figures are the point
        last = _cpu_seconds(server, process)
        time.sleep(0.5)
    use = CpuUse(
        last.server_s - first.server_s,
        last.k6_s - first.k6_s,
        last.database_s - first.database_s,
        last.machine_s - first.machine_s,
        time.monotonic() - started,
    )
    return json.loads((WORK / "summary.json").read_text())["metrics"], use


def _cpu_seconds(server: subprocess.Popen[bytes], k6: subprocess.Popen[bytes]) -> CpuUse:
    def used(processes: list[psutil.Process]) -> float:
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total

    try:
        tree = psutil.Process(server.pid)
        server_processes = [tree, *tree.children(recursive=True)]
        k6_processes = [psutil.Process(k6.pid)]
    except psutil.Error:
        server_processes, k6_processes = [], []
    database = [p for p in psutil.process_iter(["name"]) if p.info["name"] in ("mariadbd", "mysqld")]
    machine = psutil.cpu_times()
    return CpuUse(used(server_processes), used(k6_processes), used(database), machine.user + machine.system + machine.nice)


def measure(server: Server, duration_s: int, mixes: tuple[Mix, ...]) -> bool:
    """Print one line per mix; True when every kind of request met the target in the mixed load."""
    process, base = start(server)
    met = False
    try:
        keys = json.loads((WORK / "clients.json").read_text())["keys"]
        httpx.get(f"{base}/api/result/list", headers={"X-API-Key": keys[0]}).raise_for_status()  # warm: imports done
        for mix in mixes:
            metrics, cpu = load(base, process, duration_s, mix)
            within_target = report(f"{server.name}, {mix.name}", metrics, cpu, mix)
            met = within_target if mix is MIXED else met
    finally:
        stop(process)
    return met


def report(name: str, metrics: dict, cpu: CpuUse, mix: Mix) -> bool:
    requests = metrics["http_reqs"]
    kinds = {kind: metrics[f"http_req_duration{{name:{kind}}}"] for kind in mix.kinds}
    figures = "   ".join(f"{kind:<6} {t['med']:5.0f} {t['p(95)']:5.0f} {t['p(99)']:5.0f}" for kind, t in kinds.items())
    print(
        f"{name:<40} {requests['rate']:5.0f} req/s  {100 * metrics['http_req_failed']['value']:4.1f} % failed   {figures:<40} "
        f"CPU server {cpu.percent(cpu.server_s)}, k6 {cpu.percent(cpu.k6_s)}, MariaDB {cpu.percent(cpu.database_s)}, "
        f"machine {cpu.percent(cpu.machine_s)}"
    )
    return all(t["p(95)"] <= TARGET_P95_MS for t in kinds.values())


def main() -> None:
    given = sys.argv[1:5]
    runs, clients, duration_s = [int(arg) for arg in given[:3]] + [10000, 50, 20][len(given[:3]) :]
    worker_counts = [int(count) for count in (given[3] if len(given) > 3 else "2,3,4").split(",")]
    recreate_database()
    started = time.perf_counter()
    keys, owned = fill(runs, clients)
    print(f"stored {runs} runs for {clients} API keys in {time.perf_counter() - started:.1f} s (MariaDB)")
    started = time.perf_counter()
    rendered = render_documents()
    elapsed_s = time.perf_counter() - started
    print(
        f"rendered and stored their {rendered} result documents in {elapsed_s:.1f} s ({1000 * elapsed_s / rendered:.1f} ms each: a run's first read)"
    )
    (WORK / "clients.json").write_text(json.dumps({"keys": keys, "runs": owned}))
    (WORK / "load.js").write_text(LOAD_SCRIPT)
    print(
        f"{clients} clients for {duration_s} s each; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before the first "
        f"(other processes on the machine count in 'machine'); latency p50 p95 p99 in ms, target p95 ≤ {TARGET_P95_MS:.0f} ms"
    )
    met = []
    for index, server in enumerate(servers(worker_counts)):
        # The first web.sh count also runs each kind alone.
        if measure(server, duration_s, (MIXED, *ALONE) if index == 1 else (MIXED,)):
            met.append(server.name)
    print(f"target met by: {', '.join(met)}" if met else "target not met: see the CPU columns for where the cores went")
    if code_version.__wrapped__() != code_version():
        print("note: the source changed while this ran; the servers rendered the documents again on first reads")


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
        recreate_database(drop_only=True)
