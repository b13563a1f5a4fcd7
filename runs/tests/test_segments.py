"""Split runs: one test over several k6 processes, merged into one result.

The truth is the target's own request count and latency distribution, raw `k6 run` of the same script
in one process, and k6's own guarantee that execution segments add up to the whole test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client

from reports.html import render_html
from runs.cli_output import format_summary
from runs.conftest import at_once, wait_until
from runs.engine.segments import SegmentPart, aggregate_samples, merge_summaries, segment_arguments
from runs.loadtests import RunMeta
from runs.models import Run, RunEvent, RunSegment
from runs.pipeline import run_create_from_script, run_execute
from runs.segments import run_segment
from runs.selectors import run_result
from runs.workers import k6_workers

pytestmark = pytest.mark.django_db(transaction=True)

# 400 iterations shared by 8 VUs: each of two segments runs exactly 200 (k6 splits shared iterations by
# segment), so `count<300` passes in each process and fails on the whole test.
SPLIT_SCRIPT = """
import http from 'k6/http';
import { check } from 'k6';
import { Trend } from 'k6/metrics';
const step = new Trend('step_ms', true);
export const options = {
  scenarios: { shared: { executor: 'shared-iterations', vus: 8, iterations: 400, maxDuration: '30s' } },
  thresholds: {
    http_reqs: ['count<300'],
    http_req_duration: ['p(95)<5000'],
    'step_ms{kind:slow}': ['max<1000000'],
  },
};
export default function () {
  const res = http.get('TARGET/api/items');
  check(res, { 'status is 200': (r) => r.status === 200 });
  step.add(res.timings.waiting, { kind: 'slow' });
}
"""


def split_run(target_url: str, segments: int = 2, script: str = SPLIT_SCRIPT) -> Run:
    raw = script.replace("TARGET", target_url).encode()
    return run_create_from_script("tests", raw, "split.js", meta=RunMeta(segments=segments))


def test_segment_flags_cut_the_test_into_equal_parts() -> None:
    assert segment_arguments(0, 1) == []
    assert segment_arguments(1, 3) == ["--execution-segment", "1/3:2/3", "--execution-segment-sequence", "0,1/3,2/3,1"]


def test_merged_samples_equal_one_process_running_the_whole_test(tmp_path: Path) -> None:
    """Raw k6, no platform: the same script whole and in two segments; the merged summary equals the whole."""
    script = tmp_path / "values.js"
    script.write_text(
        "import exec from 'k6/execution';\nimport { Trend, Counter, Rate } from 'k6/metrics';\n"
        "const t = new Trend('value_t'); const c = new Counter('value_c'); const r = new Rate('value_r');\n"
        "export const options = { scenarios: { s: { executor: 'shared-iterations', vus: 4, iterations: 200 } },\n"
        "  thresholds: { 'value_t{even:yes}': ['p(95)<1000'], value_c: ['count<150'], value_r: ['rate>0.4'] } };\n"
        "export default function () { const i = exec.scenario.iterationInTest;\n"
        "  t.add(i, { even: i % 2 === 0 ? 'yes' : 'no' }); c.add(1); r.add(i % 2 === 0); }\n"
    )

    def k6_run(name: str, *flags: str) -> SegmentPart:
        summary_path, samples_path = tmp_path / f"{name}.json", tmp_path / f"{name}.csv"
        command = [django_settings.K6_BIN, "run", "-q", "--summary-export", str(summary_path)]
        command += ["--out", f"csv={samples_path}", *flags, str(script)]
        subprocess.run(command, capture_output=True, timeout=60, check=False)
        summary = orjson.loads(summary_path.read_bytes())
        return SegmentPart(summary, aggregate_samples(samples_path, summary))

    whole = k6_run("whole").summary["metrics"]
    merged = merge_summaries([k6_run(f"part{i}", *segment_arguments(i, 2)) for i in range(2)])["metrics"]
    assert merged["value_c"]["count"] == whole["value_c"]["count"] == 200
    assert merged["value_r"]["passes"] == whole["value_r"]["passes"] == 100
    for name in ("value_t", "value_t{even:yes}"):
        for stat in ("avg", "min", "max"):
            assert merged[name][stat] == pytest.approx(whole[name][stat])
        for stat in ("med", "p(90)", "p(95)"):  # few values: k6's own percentile on all of them, exactly
            assert merged[name][stat] == pytest.approx(whole[name][stat])
    # Each process judged `count<150` passed on its 100; on the whole test it is crossed, as k6 says.
    assert whole["value_c"]["thresholds"]["count<150"] is True
    assert merged["value_c"]["thresholds"] == {"count<150": True}
    assert merged["value_t{even:yes}"]["thresholds"] == {"p(95)<1000": False}
    assert merged["value_r"]["thresholds"] == whole["value_r"]["thresholds"] == {"rate>0.4": False}


def test_two_segments_in_one_process_merge_into_one_run(demo_target: Callable[..., Any], settings: Any) -> None:
    settings.RUN_POST_STAGES = []
    target = demo_target(latency_min_ms=20, latency_max_ms=100)
    run = split_run(target.url)
    at_once(lambda: run_execute(run.pk), lambda: run_segment(run.pk, 1))
    run.refresh_from_db()
    doc = run_result(run)
    assert run.status == "done", (run.error, run.log[-2000:])
    metrics = doc["metrics"]
    assert metrics["http_reqs"]["count"] == target.errors.count == 400
    assert metrics["iterations"]["count"] == 400
    assert sum(p["rps"] for p in doc["timeseries"]) == 400
    assert sum(e["count"] for e in doc["endpoints"]) == 400
    thresholds = {(t["metric"], t["expression"]): t["ok"] for t in doc["thresholds"]}
    assert thresholds[("http_reqs", "count<300")] is False
    assert run.k6_exit_code == 99 and run.verdict == "failed"
    parts = list(RunSegment.objects.filter(run=run))
    assert [p.status for p in parts] == ["done", "done"]
    assert all(p.k6_exit_code == 0 for p in parts)  # each process passed its own share
    (series,) = doc["endpoint_series"]["series"]  # one endpoint, tracked in both segments
    assert series["requests"] == 400 and any(value for value in series["p95_ms"])
    # The admin shows where each process ran.
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "", "pw-not-used-12345"))
    page = client.get(f"/admin/runs/run/{run.pk}/change/").content.decode()
    assert all(part.worker in page for part in parts)


def test_two_segments_on_two_celery_workers_agree_with_the_targets_truth(
    start_worker: Callable[..., Any], demo_target: Callable[..., Any]
) -> None:
    """The issue's proof: two real k6-queue workers, each running one segment of the same test."""
    start_worker(), start_worker()
    assert k6_workers() == 2  # two idle k6-queue workers, as the API's check counts them
    target = demo_target(latency_min_ms=20, latency_max_ms=100)
    run = split_run(target.url)
    from runs.dispatch import dispatch_run

    assert dispatch_run(run.pk, run.planned_duration_s)
    wait_until(lambda: Run.objects.get(pk=run.pk).is_terminal, 120, "the split run to end")
    run.refresh_from_db()
    assert run.status == "done", run.error
    parts = list(RunSegment.objects.filter(run=run))
    assert len({p.worker for p in parts}) == 2, "each segment ran in a worker process of its own"
    doc = run_result(run)
    metrics = doc["metrics"]
    # The target saw both segments' requests, and no more.
    assert metrics["http_reqs"]["count"] == target.errors.count == 400
    # Merged percentiles agree with the target's latency distribution as a single run's do (rel 0.10).
    for pct, key in ((0.90, "p90"), (0.95, "p95")):
        assert metrics["http_req_duration"][key] == pytest.approx(target.profile.true_percentile_ms(pct), rel=0.10)
    assert metrics["http_req_duration"]["min"] >= 20
    # Only the whole test crosses `count<300`: the run fails on it, though each process passed its share.
    assert [p.k6_exit_code for p in parts] == [0, 0]
    assert run.k6_exit_code == 99 and run.verdict == "failed"
    assert doc["verdict"]["status"] == "failed" and "count<300" in " ".join(doc["verdict"]["reasons"])
    assert max(p["vus"] for p in doc["timeseries"]) == 8
    # The live view: each merged second published once, in order, ending on the merged totals.
    points = [event.data for event in RunEvent.objects.filter(run=run, kind="metrics")]
    seconds = [point["t"] for point in points]
    assert seconds == sorted(set(seconds)) and sum(point["rps"] for point in points) == 400
    assert points[-1]["requests"] == 400
    # Every surface says the run was split, and how each process ended.
    summary = format_summary(doc)
    assert "k6 exit 99 (thresholds_failed)" in summary  # the run's exit, judged on the whole test
    assert (
        "Split over 2 k6 processes, results merged and thresholds judged on the whole — each on its own share: "
        "1: done (k6 exit 0), 2: done (k6 exit 0)." in summary
    )
    assert "Split over 2 k6 processes" in render_html(doc, Path("/nonexistent"))


def test_a_segment_that_dies_stops_the_others_and_fails_the_run(demo_target: Callable[..., Any], settings: Any) -> None:
    settings.RUN_POST_STAGES = []
    target = demo_target(latency_min_ms=20, latency_max_ms=40)
    script = SPLIT_SCRIPT.replace("iterations: 400, maxDuration: '30s'", "iterations: 100000, maxDuration: '20s'")
    run = split_run(target.url, script=script)

    def kill_segment_two() -> None:
        wait_until(lambda: RunSegment.objects.filter(run=run, index=1, k6_pid__isnull=False).exists(), 60, "segment 2's k6")
        time.sleep(1.5)
        pid = RunSegment.objects.get(run=run, index=1).k6_pid
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)

    started = time.monotonic()
    at_once(lambda: run_execute(run.pk), lambda: run_segment(run.pk, 1), kill_segment_two)
    run.refresh_from_db()
    assert time.monotonic() - started < 15, "segment 1 was stopped, not left to run its 20 s"
    assert run.status == "failed" and run.verdict == "not_graded"
    assert "Segment 2 of 2" in run.error or "segment 2 of 2" in run.error
    assert RunSegment.objects.get(run=run, index=1).status == "failed"
    # What segment 1 measured before it was stopped is kept.
    assert run_result(run)["metrics"]["http_reqs"]["count"] > 0


def test_a_segment_without_a_worker_fails_the_run_at_the_start_barrier(demo_target: Callable[..., Any], settings: Any) -> None:
    settings.SEGMENT_START_TIMEOUT_S = 2
    target = demo_target()
    run = split_run(target.url, segments=3)
    run_execute(run.pk)  # segment 0 alone: segments 2 and 3 never get a worker
    run.refresh_from_db()
    assert run.status == "failed" and target.errors.count == 0
    assert "Only 1 of the run's 3 segments found a free k6 worker" in run.error
    assert run.sealed_secrets == ""
    run_segment(run.pk, 1)  # a late message finds the run ended and does nothing
    assert not RunSegment.objects.filter(run=run, index=1).exists()


def test_cancelling_a_split_run_stops_every_segment(demo_target: Callable[..., Any], settings: Any) -> None:
    settings.RUN_POST_STAGES = []
    from runs.pipeline import run_cancel

    target = demo_target(latency_min_ms=20, latency_max_ms=40)
    script = SPLIT_SCRIPT.replace("iterations: 400, maxDuration: '30s'", "iterations: 100000, maxDuration: '20s'")
    run = split_run(target.url, script=script)

    def cancel_soon() -> None:
        wait_until(lambda: RunSegment.objects.filter(run=run, status="running").count() == 2, 60, "both segments running")
        time.sleep(1.5)
        run_cancel(run.pk)

    started = time.monotonic()
    at_once(lambda: run_execute(run.pk), lambda: run_segment(run.pk, 1), cancel_soon)
    run.refresh_from_db()
    assert time.monotonic() - started < 15
    assert run.status == "cancelled"
    assert [p.status for p in RunSegment.objects.filter(run=run)] == ["done", "done"]
    recorded = run_result(run)["metrics"]["http_reqs"]["count"]
    # Requests in flight when k6 stopped reached the target but never completed in k6: one per VU at most.
    assert recorded > 0 and 0 <= target.errors.count - recorded <= 8


def test_more_segments_than_allowed_or_than_vus_are_refused(demo_target: Callable[..., Any], settings: Any) -> None:
    from runs.api.serializers import BuilderRunSerializer

    settings.MAX_SEGMENTS = 4
    too_many = BuilderRunSerializer(data={"url": "http://127.0.0.1:9/", "vus": 10, "duration": "2s", "segments": 5})
    assert not too_many.is_valid() and "MAX_SEGMENTS=4" in str(too_many.errors["segments"])
    settings.REDIS_URL = ""  # the embedded executor: EMBEDDED_WORKERS slots
    settings.EMBEDDED_WORKERS = 2
    no_workers = BuilderRunSerializer(data={"url": "http://127.0.0.1:9/", "vus": 10, "duration": "2s", "segments": 3})
    assert not no_workers.is_valid() and "2 can run k6 now" in str(no_workers.errors["segments"])
    few_vus = BuilderRunSerializer(data={"url": "http://127.0.0.1:9/", "vus": 1, "duration": "2s", "segments": 2})
    assert not few_vus.is_valid() and "at least one VU" in str(few_vus.errors["segments"])


def test_the_api_splits_a_run_over_the_embedded_executors_threads(
    api: Callable[[str | None], Any],
    embedded: None,
    demo_target: Callable[..., Any],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.RUN_POST_STAGES = []
    settings.EMBEDDED_WORKERS = 2
    monkeypatch.setattr("runs.dispatch._executor", None)  # sized again, for two threads
    target = demo_target(latency_min_ms=10, latency_max_ms=30)
    refused = api("user").post("/api/run", {"url": target.url, "vus": 4, "duration": "2s", "segments": 3}, format="json")
    assert refused.status_code == 400 and "2 can run k6 now" in str(refused.json()["error"]["fields"]["segments"])
    response = api("user").post("/api/run", {"url": target.url, "vus": 4, "duration": "2s", "segments": 2}, format="json")
    assert response.status_code == 202, response.json()
    run_id = response.json()["run_id"]
    wait_until(lambda: Run.objects.get(pk=run_id).is_terminal, 90, "the split run to end")
    result = api("user").get(f"/api/result/{run_id}").json()
    assert result["status"] == "done", result["error"]
    assert result["config"]["segments"] == 2 and [p["status"] for p in result["k6"]["segments"]] == ["done", "done"]
    assert result["metrics"]["http_reqs"]["count"] == target.errors.count > 0
    assert result["metrics"]["vus_max"]["max"] == 4  # 2 + 2


def test_thresholds_on_empty_metrics_are_judged_as_k6_judges_them() -> None:
    """An empty Counter or Trend is judged on zeros (k6 crosses `count>0`); an empty Rate crosses nothing."""
    summary = {
        "metrics": {
            "never_counted": {"count": 0, "rate": 0, "thresholds": {"count>0": True}},
            "never_rated": {"passes": 0, "fails": 0, "value": 0, "thresholds": {"rate>0.9": False}},
            "never_timed": {"avg": 0, "min": 0, "med": 0, "max": 0, "p(90)": 0, "p(95)": 0, "thresholds": {"p(95)<1": False}},
        }
    }
    merged = merge_summaries([SegmentPart(summary, {}), SegmentPart(summary, {})])["metrics"]
    assert merged["never_counted"]["thresholds"] == {"count>0": True}
    assert merged["never_rated"]["thresholds"] == {"rate>0.9": False}
    assert merged["never_timed"]["thresholds"] == {"p(95)<1": False}


def test_the_cli_runs_a_split_run_in_its_own_threads(
    demo_target: Callable[..., Any], settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --queue the CLI is the executor: its segments need no worker, each runs in a thread."""
    from django.core.management import call_command

    settings.RUN_POST_STAGES = []
    target = demo_target(latency_min_ms=10, latency_max_ms=30)
    call_command("loadtest", f"{target.url}/api/items", "--vus", "4", "--duration", "2s", "--segments", "2", "--json")
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["status"] == "done" and doc["config"]["segments"] == 2
    assert [p["status"] for p in doc["k6"]["segments"]] == ["done", "done"]
    assert doc["metrics"]["http_reqs"]["count"] == target.errors.count > 0
