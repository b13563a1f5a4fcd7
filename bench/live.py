"""Live progress latency (SPEC §10 target: an event reaches the browser ≤ 1 s after k6 reports it).

Starts the platform as `make run` does (embedded mode, here on its own SQLite database) and a demo
target, runs a short test and follows it on the websocket the run page uses. For every live metrics
event it prints:

* delivery: from the moment the platform read k6's samples and stored the event to its arrival;
* age: from the end of the second the point describes to its arrival (this includes k6's own
  one-second flush of its sample output, which no platform can avoid).

Usage: python bench/live.py [duration_s]   (default 10)
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import websockets
from loopback import free_port, wait_listening
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parents[1]
MANAGE = [sys.executable, str(ROOT / "manage.py")]
WORK = Path(tempfile.mkdtemp(prefix="k6intel-bench-live-"))  # a database and results of its own, removed at exit


async def follow(base: str, key: str, duration_s: int, target: str) -> tuple[str, list[tuple[float, dict]]]:
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}) as client:
        response = await client.post("/api/run", json={"url": target, "vus": 5, "duration": f"{duration_s}s", "analyzers": []})
        response.raise_for_status()
        run_id = response.json()["run_id"]
    received = []
    uri = f"{base.replace('http', 'ws')}/ws/runs/{run_id}/?api_key={key}"
    async with websockets.connect(uri, origin=Origin(base)) as socket_:
        async for message in socket_:
            event = json.loads(message)
            received.append((time.time(), event))
            if event["type"] == "end":
                break
    return run_id, received


def summary(name: str, values_ms: list[float]) -> str:
    values_ms = sorted(values_ms)
    p95 = values_ms[max(0, round(0.95 * len(values_ms)) - 1)]
    return f"{name:<10} n={len(values_ms):3d}  p50 {statistics.median(values_ms):7.1f} ms  p95 {p95:7.1f} ms  max {values_ms[-1]:7.1f} ms"


def main() -> None:
    duration_s = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    key = f"k6i_bench_{secrets.token_urlsafe(16)}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{WORK / 'db.sqlite3'}",
        "REDIS_URL": "",
        "RESULT_DIR": str(WORK / "results"),
        "RUN_POST_STAGES": "",
        "BACKEND_API_KEY": key,
        "DEBUG": "true",
    }
    subprocess.run([*MANAGE, "migrate", "--noinput", "-v0"], env=env, check=True)
    target_port, server_port = free_port(), free_port()
    demo = [*MANAGE, "demotarget", "--port", str(target_port), "--latency-min-ms", "5", "--latency-max-ms", "20"]
    server = [*MANAGE, "runserver", f"127.0.0.1:{server_port}", "--noreload"]
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for command in (demo, server)
    ]
    try:
        wait_listening(target_port, "the demo target")
        wait_listening(server_port, "the server")
        base = f"http://127.0.0.1:{server_port}"
        run_id, received = asyncio.run(follow(base, key, duration_s, f"http://127.0.0.1:{target_port}/"))
        started_at = httpx.get(f"{base}/api/result/{run_id}", headers={"X-API-Key": key}).json()["started_at"]
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
    start_s = datetime.fromisoformat(started_at).timestamp()
    metrics = [(at, event) for at, event in received if event["type"] == "metrics"]
    delivery = [1000 * (at - datetime.fromisoformat(event["at"]).timestamp()) for at, event in metrics]
    age = [1000 * (at - (start_s + event["data"]["t"] + 1)) for at, event in metrics]
    print(f"live progress, embedded mode, {duration_s} s run, {len(metrics)} metrics events (target: ≤ 1000 ms)")
    print(summary("delivery", delivery))
    print(summary("age", age))


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
