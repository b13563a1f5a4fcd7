"""The stages after k6: in order, each stored, a failing one recorded without losing k6's results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runs.api.serializers import BuilderRunSerializer
from runs.models import Run
from runs.pipeline import run_create_from_builder, run_execute
from runs.stages import run_post_stages

pytestmark = pytest.mark.django_db(transaction=True)

STAGES = "runs.tests.stages"


def short_run(url: str) -> Run:
    serializer = BuilderRunSerializer(data={"url": url, "vus": 2, "duration": "2s"})
    assert serializer.is_valid(), serializer.errors
    return run_create_from_builder(serializer)


def test_a_failing_stage_is_recorded_and_k6_results_are_kept(demo_target: Callable[..., Any], settings: Any) -> None:
    settings.RUN_POST_STAGES = [f"{STAGES}.explode", f"{STAGES}.count_requests"]
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    run = run_execute(short_run(target.url).pk)
    assert run.status == "done" and run.grade == "A"
    assert run.error == "The load test results are complete, but the explode stage failed (RuntimeError: analyzer crashed)."
    assert run.result.metrics["http_reqs"]["count"] == target.errors.count
    stages = [e.data["stage"] for e in run.events.filter(kind="stage")]
    assert stages == ["k6", "results", "explode", "count_requests"]  # the next stage still ran
    assert run.events.filter(kind="log", data__lines=[f"post stage saw {target.errors.count} requests"]).exists()
    assert {"k6", "results", "explode", "count_requests"} <= set(run.stage_durations_s)
    last = run.events.last()
    assert last is not None and last.kind == "end"


def test_post_stages_run_once_even_if_delivered_twice(demo_target: Callable[..., Any], settings: Any) -> None:
    settings.RUN_POST_STAGES = [f"{STAGES}.count_requests"]
    target = demo_target(latency_min_ms=1, latency_max_ms=2)
    run = run_execute(short_run(target.url).pk)
    events_before = run.events.count()
    assert run_post_stages(run.pk).status == "done"
    assert run.events.count() == events_before


def test_a_long_stage_keeps_its_heartbeat(demo_target: Callable[..., Any], settings: Any) -> None:
    settings.REAP_AFTER_S = 2
    settings.RUN_POST_STAGES = [f"{STAGES}.outlive_the_reaper"]
    target = demo_target(latency_min_ms=1, latency_max_ms=2)
    run = run_execute(short_run(target.url).pk)
    assert (run.status, run.error) == ("done", "")


def test_without_post_stages_a_run_goes_straight_to_done(demo_target: Callable[..., Any], settings: Any) -> None:
    settings.RUN_POST_STAGES = []
    target = demo_target(latency_min_ms=1, latency_max_ms=2)
    run = run_execute(short_run(target.url).pk)
    assert run.status == "done"
    assert [e.data["stage"] for e in run.events.filter(kind="stage")] == ["k6", "results"]
