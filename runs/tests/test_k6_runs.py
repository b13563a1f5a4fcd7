"""Real k6 runs of a few seconds against the demo target, checked against the truth.

The demo target's latency is uniform between two bounds (true p90 known) and
it fails an exact share of requests; k6's own summary is a second witness.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import psutil
import pytest
from django.core.management import call_command

from runs import shutdown
from runs.engine.remotewrite import PERCENTILES_NOTE
from runs.models import Run
from runs.pipeline import run_execute
from runs.selectors import run_result

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def loadtest_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    call_command("loadtest", *args, "--json", verbosity=0)
    return orjson.loads(capsys.readouterr().out)


def test_loadtest_matches_the_targets_truth_and_k6s_summary(
    demo_target: Callable[..., Any], capsys: pytest.CaptureFixture[str], settings: Any
) -> None:
    settings.RUN_POST_STAGES = []  # the header analyzer's own request would add one to the server's count
    target = demo_target(latency_min_ms=20, latency_max_ms=100, error_rate=0.10)
    doc = loadtest_json(capsys, f"{target.url}/api/items", "--vus", "10", "--duration", "4s", "--check-status", "200")
    metrics = doc["metrics"]
    assert doc["status"] == "done" and doc["k6"]["exit_code"] == 0
    # Independent truth: the server's own counts and its latency distribution.
    assert metrics["http_reqs"]["count"] == target.errors.count
    assert metrics["http_req_failed"]["rate"] == pytest.approx(0.10, abs=0.01)
    true_p90 = target.profile.true_percentile_ms(0.90)
    assert metrics["http_req_duration"]["p90"] == pytest.approx(true_p90, rel=0.10)
    assert metrics["http_req_duration"]["p95"] == pytest.approx(target.profile.true_percentile_ms(0.95), rel=0.10)
    assert metrics["http_req_duration"]["min"] >= 20
    assert metrics["checks"]["rate"] == pytest.approx(0.90, abs=0.01)
    # The streamed samples agree with k6's summary, request for request.
    assert sum(point["rps"] for point in doc["timeseries"]) == metrics["http_reqs"]["count"]
    assert sum(e["count"] for e in doc["endpoints"]) == metrics["http_reqs"]["count"]
    assert sum(e["failed"] for e in doc["endpoints"]) == metrics["http_req_failed"]["passes"]
    assert {(e["status"], e["error_rate"]) for e in doc["endpoints"]} == {("200", 0.0), ("500", 1.0)}
    busy = [p for p in doc["timeseries"] if p["rps"] > 50]
    # A second holds ~150 samples: its p95 is noisier than the run's, and a second of a busy
    # machine (k6 warming up, another process) can stretch it, so the typical second is checked.
    assert busy and 80 < statistics.median(p["p95_ms"] for p in busy) < 125
    assert max(p["vus"] for p in doc["timeseries"]) == 10
    # Request phases per second: a run this slow is read whole, so their mean over the run is k6's average.
    sampled = sum(p["timing_samples"] for p in doc["timeseries"])
    assert sampled == metrics["http_reqs"]["count"]
    waiting_ms = sum(p["waiting_ms"] * p["timing_samples"] for p in doc["timeseries"]) / sampled
    assert waiting_ms == pytest.approx(metrics["http_req_waiting"]["avg"], rel=0.01)
    # The one endpoint's p95 per second is the run's.
    (endpoint,) = doc["endpoint_series"]["series"]
    assert endpoint["label"] == f"GET {target.url}/api/items" and endpoint["requests"] == metrics["http_reqs"]["count"]
    assert endpoint["p95_ms"] == [p["p95_ms"] if p["rps"] else None for p in doc["timeseries"]]
    assert doc["failures"]["total"] == metrics["http_req_failed"]["passes"]
    assert doc["failures"]["samples"][0]["status"] == "500"
    # Graded: success rate 0.90 misses 0.95, errors exactly at 0.10 → one miss → C.
    assert doc["grade"] == "C" and doc["sla"]["criteria"][0]["met"] is False


def test_failed_thresholds_exit_99_and_are_still_scored(
    demo_target: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    doc = loadtest_json(
        capsys,
        target.url,
        "--vus",
        "2",
        "--duration",
        "2s",
        "--threshold",
        "http_req_duration:p(95)<1",
        "--threshold",
        "http_req_failed:rate<0.5",
    )
    assert doc["k6"] == {
        "exit_code": 99, "exit_name": "thresholds_failed", "exit_reason": doc["k6"]["exit_reason"], "segments": [],
        "collection": "lean", "collection_note": PERCENTILES_NOTE,
    }  # fmt: skip
    # One failed threshold caps the grade like one missed SLA criterion, and fails the verdict.
    assert doc["status"] == "done" and doc["grade"] == "C"
    assert doc["verdict"]["status"] == "failed"
    assert doc["verdict"]["reasons"][0].startswith("1 of 2 k6 thresholds failed: http_req_duration p(95)<1 was ")
    assert {(t["expression"], t["ok"]) for t in doc["thresholds"]} == {("p(95)<1", False), ("rate<0.5", True)}


def _script_run(make_run: Callable[..., Run], body: str, **fields: Any) -> Run:
    return run_execute(make_run(body, **fields).pk)


def test_invalid_options_exit_104_as_a_failed_run(make_run: Callable[..., Run]) -> None:
    run = _script_run(make_run, "export const options = { vus: 'many' };\nexport default function () {}\n")
    assert (run.status, run.k6_exit_code) == ("failed", 104)
    assert "k6 exited 104 (invalid_config)" in run.error


def test_exception_in_setup_exits_107_with_the_scripts_line(make_run: Callable[..., Run]) -> None:
    script = "export function setup() {\n  undefinedFunction();\n}\nexport default function () {}\n"
    run = _script_run(make_run, script)
    assert (run.status, run.k6_exit_code) == ("failed", 107)
    assert "undefinedFunction is not defined" in run.error and "script.js:2" in run.error
    assert "/tmp/" not in run.log  # the throw-away path is not leaked


def test_test_abort_exits_108_and_keeps_results(demo_target: Callable[..., Any], make_run: Callable[..., Run]) -> None:
    target = demo_target(latency_min_ms=1, latency_max_ms=2)
    script = (
        "import http from 'k6/http';\nimport exec from 'k6/execution';\n"
        "export const options = { vus: 1, duration: '10s' };\n"
        f"export default function () {{ http.get('{target.url}/'); if (exec.scenario.iterationInTest >= 4) exec.test.abort('enough'); }}\n"
    )
    run = _script_run(make_run, script, planned_duration_s=10)
    assert (run.status, run.k6_exit_code) == ("done", 108)
    assert run.result.metrics["http_reqs"]["count"] == 5
    # The script declared the test over: a failed verdict that says so, and a grade capped to match.
    verdict = run_result(run)["verdict"]
    assert verdict["status"] == "failed" and "test.abort()" in verdict["reasons"][0]
    assert run.grade == "C" and run.verdict == "failed"


def test_wall_clock_limit_stops_k6_and_keeps_partial_results(
    demo_target: Callable[..., Any], make_run: Callable[..., Run], settings: Any
) -> None:
    settings.K6_GRACE_S = 2
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    script = f"import http from 'k6/http';\nexport const options = {{ vus: 2, duration: '60s' }};\nexport default function () {{ http.get('{target.url}/'); }}\n"
    run = _script_run(make_run, script, planned_duration_s=2, max_vus=2)
    assert run.status == "failed" and run.k6_exit_code == 105
    assert "wall-clock limit of 4 s" in run.error
    assert run.result.metrics["http_reqs"]["count"] > 50
    assert not _k6_processes()


def test_k6_sees_none_of_the_workers_environment(make_run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K6INTEL_CANARY", "canary-s3cret")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:1")
    script = (
        "import { sleep } from 'k6';\nexport const options = { vus: 1, duration: '4s' };\n"
        "export default function () { console.log('ENV=' + JSON.stringify(__ENV)); sleep(1); }\n"
    )
    seen: list[dict[str, str]] = []

    def look_at_k6(point: dict[str, Any]) -> None:
        seen.extend(process.environ() for process in _k6_processes())

    run = run_execute(make_run(script).pk, on_progress=look_at_k6)
    assert run.status == "done", run.error
    assert seen, "k6 was not seen running"
    assert set(seen[0]) == {
        "PATH",
        "HOME",
        "TMPDIR",
        "XDG_CONFIG_HOME",
        "LANG",
        "K6_NO_USAGE_REPORT",
        "K6_CSV_SAVE_INTERVAL",
        "K6_AUTO_EXTENSION_RESOLUTION",
        # where and how k6 pushes its samples: the worker's receiver (runs/engine/remotewrite)
        "K6_PROMETHEUS_RW_SERVER_URL",
        "K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM",
        "K6_PROMETHEUS_RW_PUSH_INTERVAL",
        "PWD",  # set by the sandbox's --chdir
    }
    assert seen[0]["HOME"] == seen[0]["PWD"] == "/sandbox"
    assert "ENV={}" in run.log and "canary-s3cret" not in run.log


def test_metadata_address_is_blocked_inside_k6(make_run: Callable[..., Run]) -> None:
    script = (
        "import http from 'k6/http';\nexport const options = { iterations: 1 };\n"
        "export default function () { const r = http.get('http://169.254.169.254/latest/meta-data/', {timeout: '2s'}); console.log('ERR=' + r.error); }\n"
    )
    run = _script_run(make_run, script)
    assert "ERR=" in run.log and "blacklisted" in run.log


def test_cli_exit_statuses(demo_target: Callable[..., Any]) -> None:
    target = demo_target(latency_min_ms=1, latency_max_ms=2, error_rate=0.5)
    manage = [sys.executable, str(ROOT / "manage.py"), "loadtest"]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{ROOT / 'var' / 'cli-test.sqlite3'}"}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, check=True)
    bad = subprocess.run([*manage, target.url, "--vus", "-3", "--duration", "forever"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2
    assert "vus:" in bad.stderr and "duration:" in bad.stderr
    failing = subprocess.run(
        [*manage, target.url, "--vus", "1", "--duration", "1s", "--fail-on-sla"], env=env, capture_output=True, text=True
    )
    assert failing.returncode == 1, failing.stderr
    assert "Error rate" in failing.stdout and "NO" in failing.stdout
    plain = subprocess.run(
        [*manage, target.url, "--vus", "1", "--duration", "1s", "-v0"], env=env, capture_output=True, text=True
    )
    assert plain.returncode == 0 and "grade F" in plain.stdout


def test_script_mode_reads_real_options_and_enforces_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], settings: Any
) -> None:
    settings.MAX_VUS = 5
    script = tmp_path / "big.js"
    script.write_text("export const options = { vus: 6, duration: '1s' };\nexport default function () {}\n")
    with pytest.raises(Exception) as rejected:
        call_command("loadtest", "--script", str(script), verbosity=0)
    assert "needs up to 6 VUs" in str(rejected.value) and Run.objects.count() == 0
    (tmp_path / "notutf8.js").write_bytes(b"\xff\xfe export default function () {}")
    with pytest.raises(Exception, match="not UTF-8"):
        call_command("loadtest", "--script", str(tmp_path / "notutf8.js"), verbosity=0)


def test_result_document_has_the_promised_shape(make_run: Callable[..., Run]) -> None:
    run = _script_run(make_run, "export const options = { iterations: 1 };\nexport default function () {}\n")
    doc = run_result(run)
    assert doc["status"] == "done" and doc["grade"] is None  # no requests: nothing to grade
    assert doc["verdict"]["status"] == "not_graded" and "no HTTP requests" in doc["verdict"]["reasons"][0]
    keys = ("id", "verdict", "status", "grade", "score", "k6", "metrics", "sla", "delivery", "failures", "timings")
    for key in (*keys, "custom_metrics", "timeseries", "endpoints", "thresholds"):
        assert key in doc


def _k6_processes() -> list[psutil.Process]:
    """k6 processes started by this test process (inside their sandboxes), zombies aside."""
    return [p for p in psutil.Process().children(recursive=True) if p.name() == "k6" and p.status() != psutil.STATUS_ZOMBIE]


def test_a_shutdown_that_reached_k6_too_lets_it_finish_its_summary(
    demo_target: Callable[..., Any], make_run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """systemd signals every process of a worker at once: k6 stops on its own SIGTERM (here, running a second of
    teardown), and a second SIGTERM from the worker would make it abort without its summary."""
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    script = (
        "import http from 'k6/http';\nimport { sleep } from 'k6';\n"
        "export const options = { vus: 2, duration: '30s' };\n"
        f"export default function () {{ http.get('{target.url}/'); }}\n"
        "export function teardown() { sleep(1.5); }\n"
    )
    signalled: list[int] = []

    def systemd_stop(point: dict[str, Any]) -> None:
        if point["t"] >= 1 and not signalled:
            for process in _k6_processes():
                process.send_signal(signal.SIGTERM)
                signalled.append(process.pid)
            shutdown.request()

    monkeypatch.setattr(shutdown, "_requested", threading.Event())  # the flag is the process's: this test's own
    run = run_execute(make_run(script, planned_duration_s=30, max_vus=2).pk, on_progress=systemd_stop)
    assert signalled and run.status == "failed" and run.error.startswith("Stopped by shutdown")
    assert run.k6_exit_code == 105 and "Aborting k6" not in run.log
    # k6's summary was written: every request the target saw but those in flight as k6 stopped (one per VU).
    assert target.errors.count - 2 <= run.result.metrics["http_reqs"]["count"] <= target.errors.count
