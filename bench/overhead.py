"""Platform overhead (SPEC §10 target: a run through k6intel reaches ≥ 95 % of the requests/s of a
raw `k6 run` of the same script on the same machine).

Starts a demo target, then alternately runs the same generated script through the platform
(`manage.py loadtest`: sandbox, CSV sample stream, live ingestion, scoring) and as a plain
`k6 run`, and prints each one's requests/s and the ratio of the means.

Usage: python bench/overhead.py [vus] [duration_s] [rounds]   (default 10 10 2)
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


def main() -> None:
    given = [int(arg) for arg in sys.argv[1:4]]
    vus, duration_s, rounds = given + [10, 10, 2][len(given) :]
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{WORK / 'db.sqlite3'}",
        "REDIS_URL": "",
        "RESULT_DIR": str(WORK / "results"),
        "RUN_POST_STAGES": "",
    }
    subprocess.run([*MANAGE, "migrate", "--noinput", "-v0"], env=env, check=True)
    port = free_port()
    demo = [*MANAGE, "demotarget", "--port", str(port), "--latency-min-ms", "1", "--latency-max-ms", "2"]
    target = subprocess.Popen(demo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    platform_rps, raw_rps = [], []
    try:
        wait_listening(port, "the demo target")
        url = f"http://127.0.0.1:{port}/"
        for _ in range(rounds):
            rps, script = through_platform(url, vus, duration_s, env)
            platform_rps.append(rps)
            raw_rps.append(raw_k6(script, WORK))
    finally:
        target.terminate()
        target.wait(timeout=20)
    print(f"{vus} VUs × {duration_s} s against a demo target on loopback, {rounds} rounds each, alternating")
    print(f"  raw k6 run        {', '.join(f'{r:8.1f}' for r in raw_rps)}  req/s")
    print(f"  through k6intel   {', '.join(f'{r:8.1f}' for r in platform_rps)}  req/s")
    ratio = statistics.mean(platform_rps) / statistics.mean(raw_rps)
    print(f"  k6intel / raw = {100 * ratio:.1f} %   (target ≥ 95 %)")


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
