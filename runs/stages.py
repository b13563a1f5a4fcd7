"""The stages after k6: analyzers, analysis, report — whatever RUN_POST_STAGES lists.

Each stage is a function `stage(run) -> None` that stores its own output. They
run in order once k6's results are stored; a failing stage is recorded and the
next one still runs, so nothing measured before it is lost. While a stage
runs, a heartbeat thread keeps the reaper away; if the worker dies, the
heartbeat stops and the reaper ends the run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from runs import events
from runs.models import Run
from runs.outage import beating

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 2.0
PostStage = Callable[[Run], None]


def post_stages() -> list[tuple[str, PostStage]]:
    stages = [import_string(path) for path in settings.RUN_POST_STAGES]
    return [(getattr(stage, "stage_name", stage.__name__), stage) for stage in stages]


def run_post_stages(run_id: Any) -> Run:
    """Run every post-k6 stage of an analyzing run, then mark it done. A redelivery does nothing."""
    stages = post_stages()
    first = stages[0][0] if stages else ""
    # Claim: only the first caller moves the run off the empty stage.
    if not Run.objects.filter(pk=run_id, status=Run.Status.ANALYZING, stage="").update(stage=first, heartbeat_at=timezone.now()):
        return Run.objects.get(pk=run_id)
    run = Run.objects.select_related("project").get(pk=run_id)
    failures = []
    for name, stage in stages:
        if not Run.objects.filter(pk=run.pk, status=Run.Status.ANALYZING).exists():
            break  # reaped meanwhile: it stays failed (and so not graded)
        if failure := _run_stage(run, name, stage):
            failures.append(failure)
    _done(run, failures)
    return run


def _run_stage(run: Run, name: str, stage: PostStage) -> str | None:
    Run.objects.filter(pk=run.pk).update(stage=name)
    run.stage = name
    events.publish(run.pk, "stage", {"status": run.status, "stage": name})
    started = time.monotonic()
    try:
        with _heartbeat(run.pk):
            stage(run)
        failure = None
    except Exception as exc:
        log.exception("stage %s of run %s failed", name, run.pk)
        failure = f"the {name} stage failed ({type(exc).__name__}: {exc})"
    run.stage_durations_s = {**run.stage_durations_s, name: round(time.monotonic() - started, 3)}
    Run.objects.filter(pk=run.pk).update(stage_durations_s=run.stage_durations_s)
    return failure


def _done(run: Run, failures: list[str]) -> None:
    error = "The load test results are complete, but " + "; ".join(failures) + "." if failures else ""
    finished = Run.objects.filter(pk=run.pk, status=Run.Status.ANALYZING).update(
        status=Run.Status.DONE, stage="", finished_at=timezone.now(), error=error
    )
    run.refresh_from_db()
    if finished:
        events.publish_end(run)


def _heartbeat(run_id: Any) -> AbstractContextManager[None]:
    def beat() -> None:
        Run.objects.filter(pk=run_id).update(heartbeat_at=timezone.now())

    return beating(beat, HEARTBEAT_EVERY_S, f"heartbeat-{run_id}")
