"""Platform overhead (SPEC §10 target: a run through k6intel reaches ≥ 95 % of the requests/s of a
raw `k6 run` of the same script on the same machine).

Two targets, each run in turn as a plain `k6 run` with default flags and through the platform
(`manage.py loadtest`: sandbox, egress rules, live ingestion, scoring) with each way of collecting k6's
samples: lean (the default: k6 aggregates and pushes once a second, runs/engine/remotewrite) and
detailed (k6 writes every sample to CSV):
* target-bound: the Python demo target (1–2 ms) — the target, not k6, sets the pace here;
* generator-bound: nginx from Debian serving a small static file (installed with apt-get when missing
  and run as root) — k6 is the bottleneck, so every cost of the platform shows.
Prints each one's requests/s and the ratios of the means.

Usage: python bench/overhead.py [vus] [duration_s] [rounds]   (default 20 8 3)
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from loopback import free_port, wait_listening

ROOT = Path(__file__).resolve().parents[1]
MANAGE = [sys.executable, str(ROOT / "manage.py")]
WORK = Path(tempfile.mkdtemp(prefix="k6intel-bench-overhead-"))  # a database and results of its own, removed at exit
NGINX_CONF = """daemon off;
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path {work}/body; proxy_temp_path {work}/proxy; fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
  server {{ listen 127.0.0.1:{port}; root {work}/www; }}
}}
"""


def through_platform(url: str, vus: int, duration_s: int, env: dict[str, str]) -> tuple[float, str]:
    command = [*MANAGE, "loadtest", url, "--vus", str(vus), "--duration", f"{duration_s}s", "--json"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    document = json.loads(done.stdout)
    return document["metrics"]["http_reqs"]["rate"], document["script"]


def raw_k6(script: str, work: Path) -> float:
    k6 = shutil.which("k6", path=str(Path(sys.executable).parent)) or shutil.which("k6")
    assert k6 is not None, "k6 is not installed: `make setup` installs it"
    (work / "script.js").write_text(script)
    summary = work / "summary.json"
    command = [k6, "run", "--quiet", "--no-usage-report", "--summary-export", str(summary), "script.js"]
    subprocess.run(command, cwd=work, capture_output=True, check=True)
    return json.loads(summary.read_text())["metrics"]["http_reqs"]["rate"]


def demo_target(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    demo = [*MANAGE, "demotarget", "--port", str(port), "--latency-min-ms", "1", "--latency-max-ms", "2"]
    server = subprocess.Popen(demo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, "the demo target")
    return server, f"http://127.0.0.1:{port}/"


def nginx_target() -> tuple[subprocess.Popen[bytes], str]:
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        if os.geteuid() != 0:
            raise SystemExit("nginx is missing: sudo apt-get install nginx-light")
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "nginx-light"], check=True)
        nginx = shutil.which("nginx", path="/usr/sbin")
    assert nginx is not None
    work, port = WORK / "nginx", free_port()
    (work / "www").mkdir(parents=True)
    (work / "www" / "index.html").write_text("<!doctype html><title>ok</title><p>" + "k6intel " * 60 + "</p>\n")
    (work / "nginx.conf").write_text(NGINX_CONF.format(work=work, port=port))
    server = subprocess.Popen([nginx, "-c", str(work / "nginx.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, "nginx")
    return server, f"http://127.0.0.1:{port}/index.html"


COLLECTIONS = ("lean", "detailed")


def compare(name: str, url: str, vus: int, duration_s: int, rounds: int, env: dict[str, str]) -> None:
    rps: dict[str, list[float]] = {"raw": [], **{collection: [] for collection in COLLECTIONS}}
    for _ in range(rounds):
        for collection in COLLECTIONS:
            measured, script = through_platform(url, vus, duration_s, {**env, "K6_SAMPLE_COLLECTION": collection})
            rps[collection].append(measured)
        rps["raw"].append(raw_k6(script, WORK))
    print(f"{name}: {vus} VUs × {duration_s} s, {rounds} rounds each, in turn")
    print(f"  raw k6 run                  {', '.join(f'{r:8.1f}' for r in rps['raw'])}  req/s")
    for collection in COLLECTIONS:
        print(f"  through k6intel, {collection:<10} {', '.join(f'{r:8.1f}' for r in rps[collection])}  req/s")
    for collection in COLLECTIONS:
        ratio = statistics.mean(rps[collection]) / statistics.mean(rps["raw"])
        goal = "   (goal ≥ 95 %)" if collection == "lean" else ""
        print(f"  k6intel ({collection}) / raw = {100 * ratio:.1f} %{goal}", flush=True)


def main() -> None:
    given = [int(arg) for arg in sys.argv[1:4]]
    vus, duration_s, rounds = given + [20, 8, 3][len(given) :]
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{WORK / 'db.sqlite3'}",
        "REDIS_URL": "",
        "RESULT_DIR": str(WORK / "results"),
        "RUN_POST_STAGES": "",
        "ALLOW_LOOPBACK_TARGETS": "true",
    }
    subprocess.run([*MANAGE, "migrate", "--noinput", "-v0"], env=env, check=True)
    for name, start in (("target-bound (Python demo target, 1–2 ms)", lambda: demo_target(env)),
                        ("generator-bound (nginx, a small static file)", nginx_target)):  # fmt: skip
        server, url = start()
        try:
            compare(name, url, vus, duration_s, rounds, env)
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
