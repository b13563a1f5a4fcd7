"""Tests, baselines, comparisons and the CI gate with real k6 against local targets of known latency.

The truth is the targets' own latency distributions: a variant at 30–60 ms is slower than a baseline at
10–30 ms, and runs against the same 10–30 ms target are not different, however often they are repeated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import orjson
import pytest
from django.core.management import call_command

from runs.api.serializers import BuilderRunSerializer
from runs.engine.compare import MWU_LATENCY
from runs.loadtests import RunMeta, set_baseline
from runs.models import LoadTest, Run
from runs.pipeline import run_create_from_builder, run_execute

pytestmark = pytest.mark.django_db(transaction=True)
LOAD = ("--vus", "4", "--duration", "3s")


@pytest.fixture(autouse=True)
def k6_only(settings: Any) -> None:
    """The comparisons are of k6's numbers; the analyzers would only add minutes."""
    settings.RUN_POST_STAGES = []


def loadtest(capsysbinary: pytest.CaptureFixture[bytes], url: str, *flags: str) -> tuple[int, dict[str, Any]]:
    """`manage.py loadtest URL … --json`: its exit status and the document it printed."""
    try:
        call_command("loadtest", url, *LOAD, "--json", "--project", "shop", *flags)
        status = 0
    except SystemExit as exited:
        status = int(exited.code or 0)
    return status, orjson.loads(capsysbinary.readouterr().out)


def test_the_ci_gate_flags_a_slower_variant_and_never_the_same_configuration(
    demo_target: Callable[..., Any], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    baseline_target = demo_target(latency_min_ms=10, latency_max_ms=30)
    slow_target = demo_target(latency_min_ms=30, latency_max_ms=60)
    gate = ("--test", "checkout", "--compare-to", "baseline", "--fail-on-regression")

    status, first = loadtest(
        capsysbinary, baseline_target.url, "--test", "checkout", "--label", "variant=baseline", "--set-baseline"
    )
    assert status == 0 and first["test"]["is_baseline"] and first["labels"] == {"variant": "baseline"}

    status, slow = loadtest(capsysbinary, slow_target.url, *gate, "--label", "variant=slow")
    comparison = slow["comparison"]
    p95 = comparison["metrics"]["p95"]
    assert status == 1, comparison
    assert p95["regression"] and p95["significant"] and p95["method"] == MWU_LATENCY and p95["delta_pct"] > 50
    assert comparison["base_id"] == first["id"] and comparison["test"] == "checkout"
    assert any(text.startswith("p95 went from") for text in comparison["regressions"])

    for attempt in range(3):  # the same configuration again and again: no false alarm
        status, same = loadtest(capsysbinary, baseline_target.url, *gate, "--label", f"variant=again-{attempt}")
        assert status == 0 and same["comparison"]["regressions"] == [], same["comparison"]["metrics"]

    test = LoadTest.objects.get(name="checkout")
    assert test.baseline_id is not None and str(test.baseline_id) == first["id"]
    assert test.runs.count() == 5
    stored = Run.objects.get(pk=slow["id"]).comparison  # compared with the baseline when k6 had finished
    assert stored["base_id"] == first["id"] and stored["metrics"]["p95"]["regression"]


def test_repeated_runs_report_medians_with_their_spread(
    demo_target: Callable[..., Any], capsysbinary: pytest.CaptureFixture[bytes], api: Any, keys: dict[str, Any]
) -> None:
    baseline_target = demo_target(latency_min_ms=20, latency_max_ms=40)
    cached_target = demo_target(latency_min_ms=2, latency_max_ms=6)
    experiment = ("--test", "catalogue", "--repeat", "3")

    status, baseline = loadtest(capsysbinary, baseline_target.url, *experiment, "--label", "variant=baseline", "--set-baseline")
    assert status == 0
    status, cached = loadtest(
        capsysbinary, cached_target.url, *experiment, "--label", "variant=cached", "--compare-to", "baseline"
    )

    assert status == 0
    p95 = cached["comparison"]["metrics"]["p95"]
    assert p95["spread"]["run"]["n"] == 3 and p95["spread"]["run"]["min"] <= p95["run"] <= p95["spread"]["run"]["max"]
    assert p95["significant"] and not p95["regression"] and p95["delta_pct"] < -60
    test = LoadTest.objects.get(name="catalogue")
    assert test.runs.filter(labels__variant="cached").count() == 3
    assert len({run.repeat_group for run in test.runs.filter(labels__variant="cached")}) == 1

    Run.objects.update(api_key=keys["user"][0])
    document = api("user").get(f"/api/tests/{test.pk}/experiment?label=variant&base=baseline&run=cached").json()
    assert document["metrics"]["p95"]["spread"]["base"]["n"] == 3 and document["metrics"]["p95"]["spread"]["run"]["n"] == 3
    assert document["metrics"]["p95"]["significant"] and document["variants"] == ["baseline", "cached"]
    trend = api("user").get(f"/api/tests/{test.pk}/trend?label=variant:cached").json()
    assert len(trend["points"]) == 3 and all(point["labels"]["variant"] == "cached" for point in trend["points"])


def test_the_api_repeat_runs_one_after_another_in_embedded_mode(
    demo_target: Callable[..., Any], api: Any, keys: dict[str, Any], settings: Any
) -> None:
    settings.REDIS_URL = None
    settings.EMBEDDED_WORKERS = 3  # room for all three at once: only the repeat keeps them apart
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    body = {"url": target.url, "vus": 2, "duration": "2s", "repeat": 3, "test": "home", "labels": {"variant": "a"}}
    accepted = api("user").post("/api/run", body, format="json")
    assert accepted.status_code == 202, accepted.content
    ids = accepted.json()["repeat_run_ids"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not all(run.is_terminal for run in Run.objects.filter(pk__in=ids)):
        time.sleep(0.3)
    runs = sorted(Run.objects.filter(pk__in=ids), key=lambda run: run.repeat_index or 0)
    assert [run.status for run in runs] == ["done"] * 3 and {run.test.name for run in runs if run.test} == {"home"}
    assert all(later.started_at >= earlier.finished_at for earlier, later in pairwise(runs))  # type: ignore[operator]
    listed = api("user").get("/api/result/list?label=variant:a&test_name=home").json()
    assert listed["count"] == 3 and all(row["metrics"]["p95_ms"] > 0 for row in listed["results"])


def test_a_run_is_compared_only_with_a_baseline_its_submitter_may_see(
    demo_target: Callable[..., Any], keys: dict[str, Any], api: Any
) -> None:
    target = demo_target(latency_min_ms=2, latency_max_ms=5)

    def run_as(who: str) -> Run:
        serializer = BuilderRunSerializer(data={"url": target.url, "vus": 2, "duration": "1s", "project_name": "shared"})
        assert serializer.is_valid(), serializer.errors
        run = run_create_from_builder(serializer, api_key=keys[who][0], meta=RunMeta(test="home"))
        return run_execute(run.pk)

    set_baseline(run_as("user"))
    theirs = run_as("other")
    assert theirs.comparison == {}  # another key's baseline: its numbers stay out of this run's document
    taken = api("other").post(f"/api/run/{theirs.pk}/baseline")
    assert taken.status_code == 409 and "set by someone else" in taken.json()["error"]["message"]  # not taken over
    assert run_as("user").comparison["base_id"] == str(LoadTest.objects.get(name="home").baseline_id)
    assert run_as("admin").comparison["metrics"]["p95"]["method"] == MWU_LATENCY  # an admin key sees every run
