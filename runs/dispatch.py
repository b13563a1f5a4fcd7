"""Where a run's next step executes: a Celery worker (REDIS_URL set) or the embedded in-process executor.

A queue message is published only after the run it names is committed, and a
publish that fails (the broker is down, a restart lost its queues) is not an
error for whoever created the run: the run stays `queued` and the sweeper
(runs/sweeper.py) publishes it again. Every step claims its run before doing
anything, so a message delivered twice does its work once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, transaction
from django.db.models import F
from django.utils import timezone

from runs.engine import k6
from runs.models import Run
from runs.pipeline import run_execute
from runs.segments import run_segment
from runs.stages import run_post_stages

log = logging.getLogger(__name__)

# Margins of the Celery time limits beyond k6's own wall-clock limit: ours
# stops k6 first; the soft limit is the backstop, the hard limit the last resort.
SOFT_LIMIT_MARGIN_S = 60
HARD_LIMIT_MARGIN_S = k6.STOP_GRACE_S + 60
SEGMENT_MERGE_MARGIN_S = 120  # segment 0 waits for the others' results and merges them

_executor: ThreadPoolExecutor | None = None
_in_line: set[str] = set()  # embedded: runs this process holds in its executor, so the sweeper leaves them be
_in_line_lock = threading.Lock()


def run_enqueue(run: Run) -> None:
    """Start the run once the transaction that created it has committed."""
    run_id, planned_s = run.pk, run.planned_duration_s
    transaction.on_commit(lambda: dispatch_run(run_id, planned_s))


def time_limits_s(planned_duration_s: int) -> tuple[int, int]:
    soft = planned_duration_s + settings.K6_GRACE_S + SOFT_LIMIT_MARGIN_S
    return soft, soft + HARD_LIMIT_MARGIN_S


def dispatch_run(run_id: Any, planned_duration_s: int) -> bool:
    """Hand a queued run to whatever executes k6; False when that failed (the sweeper tries again)."""
    segments = Run.objects.filter(pk=run_id).values_list("segments", flat=True).first() or 1
    if segments > 1:
        return _dispatch_segments(run_id, planned_duration_s, segments)
    if not settings.REDIS_URL:
        return _embedded(run_id, run_execute)
    from runs.tasks import execute_run

    soft, hard = time_limits_s(planned_duration_s)
    return _publish(run_id, lambda: execute_run.apply_async(args=(str(run_id),), soft_time_limit=soft, time_limit=hard))


def _dispatch_segments(run_id: Any, planned_duration_s: int, segments: int) -> bool:
    """One message per segment of a split run (runs/segments.py); each waits at the start barrier."""
    if not settings.REDIS_URL:
        started = _embedded(run_id, run_execute, key=f"{run_id}:0")
        for index in range(1, segments):
            started = _embedded(run_id, partial(run_segment, index=index), key=f"{run_id}:{index}") and started
        return started
    from runs.tasks import execute_segment

    soft, hard = time_limits_s(planned_duration_s + settings.SEGMENT_START_TIMEOUT_S + SEGMENT_MERGE_MARGIN_S)
    return _publish(
        run_id,
        lambda: [
            execute_segment.apply_async(args=(str(run_id), index), soft_time_limit=soft, time_limit=hard)
            for index in range(segments)
        ],
    )


def dispatch_post_stages(run_id: Any) -> bool:
    """Hand a run whose k6 results are stored to the analyzers; False when that failed (the sweeper tries again)."""
    if not settings.REDIS_URL:
        return _embedded(run_id, run_post_stages)
    from runs.tasks import post_k6_stages

    limit_s = settings.POST_STAGES_TIME_LIMIT_S
    return _publish(
        run_id, lambda: post_k6_stages.apply_async(args=(str(run_id),), soft_time_limit=limit_s, time_limit=limit_s + 60)
    )


def _publish(run_id: Any, send: Callable[[], object]) -> bool:
    try:
        send()
    except Exception as exc:  # whatever the broker raises: the run is stored, and the sweeper publishes it later
        log.warning("could not queue run %s (%s); the sweeper will queue it again", run_id, exc)
        return False
    _mark_dispatched(run_id)
    return True


def _mark_dispatched(run_id: Any) -> None:
    try:
        Run.objects.filter(pk=run_id).update(dispatched_at=timezone.now(), dispatch_attempts=F("dispatch_attempts") + 1)
    except DatabaseError:  # the message is out; at worst the sweeper sends a second one, which its claim ignores
        log.warning("could not record that run %s was queued", run_id, exc_info=True)


def held_by_repeat(run: Run) -> bool:
    """Runs started with `repeat` go one after another: each waits until the one before it has ended."""
    if run.repeat_group is None or (run.repeat_index or 0) <= 1:
        return False
    earlier = Run.objects.filter(repeat_group=run.repeat_group, repeat_index__lt=run.repeat_index)
    return earlier.exclude(status__in=Run.TERMINAL).exists()


def dispatch_next_repeat(run_id: Any) -> None:
    """Once a step of a repeated run is over: if the run has ended, start the next of its group."""
    run = Run.objects.filter(pk=run_id).only("status", "repeat_group", "repeat_index").first()
    if run is None or run.repeat_group is None or not run.is_terminal:
        return
    waiting = Run.objects.filter(repeat_group=run.repeat_group, status=Run.Status.QUEUED, repeat_index__gt=run.repeat_index or 0)
    following = waiting.order_by("repeat_index").first()
    if following is not None and not held_by_repeat(following):
        dispatch_run(following.pk, following.planned_duration_s)


def in_line(run_id: Any) -> bool:
    """Whether this process's embedded executor already holds the run (or a segment of it)."""
    with _in_line_lock:
        return any(key.split(":", 1)[0] == str(run_id) for key in _in_line)


def _embedded(run_id: Any, step: Callable[[Any], object], key: str = "") -> bool:
    key = key or str(run_id)
    with _in_line_lock:
        if key in _in_line:
            return True
        _in_line.add(key)
    embedded_executor().submit(_execute_embedded, run_id, step, key).add_done_callback(_log_failure)
    _mark_dispatched(run_id)
    return True


def embedded_executor() -> ThreadPoolExecutor:
    """Bounded: at most EMBEDDED_WORKERS runs at once; the rest wait in line."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=settings.EMBEDDED_WORKERS, thread_name_prefix="k6intel-run")
    return _executor


def _execute_embedded(run_id: Any, step: Callable[[Any], object], key: str) -> None:
    close_old_connections()
    try:
        step(run_id)
        dispatch_next_repeat(run_id)
    finally:
        with _in_line_lock:
            _in_line.discard(key)
        close_old_connections()


def _log_failure(future: Future[None]) -> None:
    if future.exception() is not None:
        log.error("embedded run crashed", exc_info=future.exception())
