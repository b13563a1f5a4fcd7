"""One honest verdict: each repro of the review, run with real k6 against local targets.

Raw `k6 run` of the same script is the reference for thresholds (it exits 99);
the targets' own behaviour (refused connections, only 503s, a fixed latency that
cannot keep up with the arrival rate) is the reference for failures and load.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import call_command

from runs.engine import k6
from runs.engine.bundle import Bundle
from runs.engine.verdict import VerdictFacts, verdict_for
from runs.engine.vetting import inspect_bundle
from runs.models import Run

pytestmark = pytest.mark.django_db(transaction=True)

IMPOSSIBLE_THRESHOLD = """import http from 'k6/http';
export const options = { vus: 2, duration: '2s', thresholds: { http_req_duration: ['p(95)<0.01'] } };
export default function () { http.get('TARGET/'); }
"""
SETUP_THROWS = """import http from 'k6/http';
export const options = { vus: 1, duration: '2s' };
export function setup() { throw new Error('login failed: no token'); }
export default function () { http.get('TARGET/'); }
"""
ARRIVALS_TOO_FAST = """import http from 'k6/http';
export const options = { scenarios: { arrivals: { executor: 'constant-arrival-rate', rate: 40, timeUnit: '1s',
  duration: '3s', preAllocatedVUs: 2, maxVUs: 2, gracefulStop: '2s' } } };
export default function () { http.get('TARGET/'); }
"""


def loadtest(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """The CLI in-process with --json: (exit status, result document)."""
    try:
        call_command("loadtest", *args, "--json", verbosity=0)
        status = 0
    except SystemExit as exit:
        status = int(exit.code or 0)
    return status, orjson.loads(capsys.readouterr().out)


def script_file(tmp_path: Path, body: str, url: str) -> Path:
    path = tmp_path / "test.js"
    path.write_text(body.replace("TARGET", url))
    return path


def api_result(api: Callable[[str | None], Any], run_id: str) -> dict[str, Any]:
    response = api("admin").get(f"/api/result/{run_id}")
    assert response.status_code == 200
    return response.json()


def test_a_failed_k6_threshold_fails_the_verdict_as_raw_k6_fails_it(
    demo_target: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], api: Any, settings: Any
) -> None:
    settings.RUN_POST_STAGES = []
    target = demo_target(latency_min_ms=1, latency_max_ms=2)
    script = script_file(tmp_path, IMPOSSIBLE_THRESHOLD, target.url)
    raw = subprocess.run([settings.K6_BIN, "run", "--quiet", "--no-usage-report", str(script)], capture_output=True, cwd=tmp_path)
    assert raw.returncode == 99  # the reference: k6 itself says the test failed

    status, doc = loadtest(capsys, "--script", str(script), "--fail-on-sla")
    assert status == 1
    assert doc["verdict"]["status"] == "failed"
    assert doc["verdict"]["reasons"][0].startswith("1 of 1 k6 threshold failed: http_req_duration p(95)<0.01 was ")
    assert doc["grade"] == "C" and doc["sla"]["passed"] is False  # one failed threshold caps like one missed criterion
    assert api_result(api, doc["id"])["verdict"] == doc["verdict"]
    assert Run.objects.get(pk=doc["id"]).verdict == "failed"

    status, again = loadtest(capsys, "--script", str(script), "--fail-on-verdict")
    assert status == 1 and again["verdict"]["status"] == "failed"


def test_a_script_whose_setup_throws_is_not_graded_anywhere(
    demo_target: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], api: Any
) -> None:
    target = demo_target()
    status, doc = loadtest(capsys, "--script", str(script_file(tmp_path, SETUP_THROWS, target.url)), "--fail-on-sla")
    assert status == 3  # the run failed: not a verdict, a broken test
    assert doc["verdict"]["status"] == "not_graded" and "login failed: no token" in doc["verdict"]["reasons"][0]
    from_api = api_result(api, doc["id"])
    for shown in (doc, from_api):
        assert (shown["grade"], shown["score"], shown["grade_label"]) == (None, None, None)
        assert shown["sla"].get("grade") is None and shown["sla"].get("passed") is None
        assert not {"pdf", "html", "json", "csv", "junit"} & set(shown["links"])  # no report links that would 404
    assert "Excellent" not in orjson.dumps(from_api).decode()


def test_an_arrival_rate_run_that_drops_its_iterations_fails(
    demo_target: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], settings: Any
) -> None:
    settings.RUN_POST_STAGES = ["reports.pipeline.analyze_run"]
    # 200 ms per request and at most 2 VUs: at most 10 iterations/s of the 40/s asked for.
    target = demo_target(latency_min_ms=200, latency_max_ms=200)
    status, doc = loadtest(capsys, "--script", str(script_file(tmp_path, ARRIVALS_TOO_FAST, target.url)), "--fail-on-sla")
    delivery = doc["delivery"]
    assert status == 1 and doc["verdict"]["status"] == "failed"
    assert delivery["dropped_iterations"] == doc["metrics"]["dropped_iterations"]["count"] > 0
    assert delivery["iterations"] == target.errors.count  # every started iteration reached the target once
    assert delivery["dropped_ratio"] == pytest.approx(
        delivery["dropped_iterations"] / (delivery["dropped_iterations"] + delivery["iterations"])
    )
    assert 0.6 < delivery["dropped_ratio"] < 0.85
    assert any(reason.startswith("Dropped iterations") and "misses <= 5.00 %" in reason for reason in doc["verdict"]["reasons"])
    # Planned load excludes the graceful stop, which is shown on its own.
    assert (delivery["planned_duration_s"], delivery["graceful_stop_s"]) == (3, 2)
    insights = {insight["id"] for insight in doc["insights"]}
    assert "no_breaking_point" not in insights and {"dropped_iterations", "breaking_point"} <= insights


def test_a_closed_port_fails_with_the_reason_in_words(capsys: pytest.CaptureFixture[str], settings: Any) -> None:
    settings.RUN_POST_STAGES = []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/login"
    status, doc = loadtest(capsys, url, "--vus", "1", "--duration", "2s", "--fail-on-sla")
    assert status == 1 and doc["verdict"]["status"] == "failed"
    reason = doc["failures"]["by_reason"][0]
    assert (reason["error_code"], reason["status"]) == ("1212", "0")
    assert reason["message"] == "dial: connection refused (1212)" and "connection refused" in reason["meaning"]
    assert reason["count"] == doc["metrics"]["http_reqs"]["count"] == doc["failures"]["total"]
    assert reason["sample_urls"] == [url] and reason["first_seen_s"] == 0
    # Refused requests are fast; latency is not graded on them.
    latency = next(c for c in doc["sla"]["criteria"] if c["key"] == "p90_ms")
    assert (latency["value"], latency["met"], latency["points"]) == (None, False, 0.0)
    assert doc["grade"] == "F"


def test_a_target_that_only_answers_503_shows_why_over_time(
    demo_target: Callable[..., Any], capsys: pytest.CaptureFixture[str], settings: Any
) -> None:
    settings.RUN_POST_STAGES = []
    target = demo_target(latency_min_ms=1, latency_max_ms=3, error_rate=1.0, error_status=503)
    status, doc = loadtest(capsys, target.url, "--vus", "2", "--duration", "2s")
    assert status == 0 and doc["verdict"]["status"] == "failed"
    [reason] = doc["failures"]["by_reason"]
    assert (reason["status"], reason["error_code"], reason["message"]) == ("503", "1503", "HTTP 503")
    assert "Service Unavailable" in reason["meaning"] and reason["count"] == target.errors.failed
    over_time = doc["failures"]["over_time"]
    assert sum(over_time["series"][0]["counts"]) == reason["count"]
    assert len(over_time["t"]) == len(doc["timeseries"])
    assert "Error rate 100.00 % misses <= 10.00 %." in doc["verdict"]["reasons"]


# --- the rules themselves -----------------------------------------------------------


def criterion(kind: str, met: bool, **fields: Any) -> dict[str, Any]:
    row = {"key": kind, "label": kind, "value": 1.0, "threshold": 1.0, "comparator": "<=", "unit": "", "note": ""}
    return {**row, "kind": kind, "met": met, **fields}


def test_an_abort_on_fail_threshold_stops_k6_early_and_fails_the_verdict(
    demo_target: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], settings: Any
) -> None:
    settings.RUN_POST_STAGES = []
    target = demo_target(latency_min_ms=1, latency_max_ms=2)
    body = IMPOSSIBLE_THRESHOLD.replace("duration: '2s'", "duration: '15s'").replace(
        "['p(95)<0.01']", "[{ threshold: 'p(95)<0.01', abortOnFail: true }]"
    )
    status, doc = loadtest(capsys, "--script", str(script_file(tmp_path, body, target.url)), "--fail-on-verdict")
    delivery = doc["delivery"]
    assert status == 1 and doc["k6"]["exit_code"] == 99 and delivery["end_reason"] == "threshold_abort"
    assert delivery["actual_duration_s"] < 10 and delivery["planned_duration_s"] == 15
    assert doc["verdict"]["reasons"][1].startswith("k6 stopped the test after ")
    assert "abortOnFail" in doc["k6"]["exit_reason"] and "finished" not in doc["k6"]["exit_reason"]


def test_a_run_still_under_load_has_no_verdict_yet() -> None:
    assert verdict_for(VerdictFacts(status="running")) is None


def test_passed_names_what_was_checked() -> None:
    scorecard = {"grade": "A", "criteria": [criterion("sla", True), criterion("sla", True), criterion("threshold", True)]}
    verdict = verdict_for(VerdictFacts(status="done", scorecard=scorecard, has_result=True))
    assert verdict == {
        "status": "passed",
        "headline": "Passed",
        "reasons": ["All 2 SLA criteria met, the k6 threshold passed."],
    }


def test_cancelled_runs_are_not_graded_even_with_data() -> None:
    scorecard = {"grade": "A", "criteria": [criterion("sla", True)]}
    delivery = {"actual_duration_s": 4.0, "planned_duration_s": 30}
    verdict = verdict_for(VerdictFacts(status="cancelled", scorecard=scorecard, delivery=delivery, has_result=True))
    assert verdict is not None and verdict["status"] == "not_graded"
    assert verdict["reasons"] == [
        "The run was cancelled after 4 s of 30 s planned; a partial test is not graded (its measurements are kept)."
    ]


def test_no_requests_but_a_failed_threshold_is_failed_not_ungraded() -> None:
    scorecard = {"grade": None, "reasons": ["The run made no HTTP requests, so there is nothing to grade."],
                 "criteria": [criterion("threshold", False, label="my_counter count<2")]}  # fmt: skip
    verdict = verdict_for(
        VerdictFacts(status="done", scorecard=scorecard, delivery={"end_reason": "thresholds_failed"}, has_result=True)
    )
    assert verdict is not None and verdict["status"] == "failed"


@pytest.mark.parametrize(
    "end_reason, words",
    [("thresholds_failed", "names no failed threshold"), ("external_abort", "before the test's planned end")],
)
def test_an_ending_alone_can_fail_the_verdict(end_reason: str, words: str) -> None:
    scorecard = {"grade": "A", "criteria": [criterion("sla", True)]}
    delivery = {"end_reason": end_reason, "actual_duration_s": 3.0, "planned_duration_s": 30}
    verdict = verdict_for(VerdictFacts(status="done", scorecard=scorecard, delivery=delivery, has_result=True))
    assert verdict is not None and verdict["status"] == "failed" and words in verdict["reasons"][0]


def test_an_abort_on_fail_stop_is_named_with_its_time() -> None:
    scorecard = {"grade": "C", "criteria": [criterion("threshold", False, label="http_req_duration p(95)<1", unit="ms")]}
    delivery = {"end_reason": "threshold_abort", "actual_duration_s": 2.1, "planned_duration_s": 15}
    verdict = verdict_for(VerdictFacts(status="done", scorecard=scorecard, delivery=delivery, has_result=True))
    assert verdict is not None and verdict["status"] == "failed"
    assert verdict["reasons"][1] == "k6 stopped the test after 2.1 s of 15 s planned: a threshold with abortOnFail was crossed."


@pytest.mark.parametrize(
    "options, load_s, graceful_s",
    [
        ("{ vus: 8, duration: '10s' }", 10, 30),  # k6's totalDuration says 40 s: 30 s of it is graceful stop
        ("{ stages: [{ duration: '5s', target: 4 }, { duration: '7s', target: 0 }] }", 12, 30),
        ("{ scenarios: { a: { executor: 'constant-vus', vus: 2, duration: '4s', startTime: '3s', gracefulStop: '1s' } } }", 7, 1),
    ],
)
def test_a_scripts_planned_load_excludes_k6s_graceful_stop(options: str, load_s: int, graceful_s: int) -> None:
    script = f"export const options = {options};\nexport default function () {{}}\n"
    needs = inspect_bundle(Bundle({"script.js": script.encode()}, "script.js"), k6.Launch())
    assert (needs.duration_s, needs.graceful_stop_s) == (load_s, graceful_s)


def test_runs_stored_before_verdicts_read_the_same_in_lists_and_documents(make_run: Callable[..., Run]) -> None:
    import importlib

    from django.apps import apps

    from runs.models import RunResult
    from runs.selectors import run_result

    backfill = importlib.import_module("runs.migrations.0007_backfill_verdicts").backfill
    old_sla = {"score": 100.0, "grade": "A", "grade_label": "Excellent", "passed": True, "reasons": [],
               "criteria": [{"key": "p90_ms", "label": "p90 latency (ms)", "value": 3.0, "threshold": 1500.0,
                             "comparator": "<=", "met": True, "points": 30.0, "max_points": 30.0, "note": ""}]}  # fmt: skip
    crossed = make_run("", status="done", k6_exit_code=99, grade="A", score=100.0)
    RunResult.objects.create(
        run=crossed, sla=old_sla, thresholds=[{"metric": "http_req_duration", "expression": "p(95)<1", "ok": False}]
    )
    empty = make_run("", status="done", k6_exit_code=0, grade="F", score=0.0)
    RunResult.objects.create(run=empty, sla={**old_sla, "score": 0.0, "grade": "F", "criteria": []})
    cancelled = make_run("", status="cancelled", grade="A", score=100.0)
    backfill(apps, None)
    for run, verdict, grade in ((crossed, "failed", "C"), (empty, "not_graded", ""), (cancelled, "not_graded", "")):
        run.refresh_from_db()
        document = run_result(run)
        assert (run.verdict, run.grade) == (verdict, grade)
        assert (document["verdict"]["status"], document["grade"] or "") == (verdict, grade)
