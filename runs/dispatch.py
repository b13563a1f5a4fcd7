"""Where a queued run executes: a Celery worker (REDIS_URL set) or the embedded in-process executor."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction

from runs import k6
from runs.models import Run
from runs.pipeline import run_execute

log = logging.getLogger(__name__)

# Margins of the Celery time limits beyond k6's own wall-clock limit: ours
# stops k6 first; the soft limit is the backstop, the hard limit the last resort.
SOFT_LIMIT_MARGIN_S = 60
HARD_LIMIT_MARGIN_S = k6.STOP_GRACE_S + 60

_executor: ThreadPoolExecutor | None = None


def run_enqueue(run: Run) -> None:
    """Start the run once the transaction that created it has committed."""
    run_id, planned_s = run.pk, run.planned_duration_s
    transaction.on_commit(lambda: _submit(run_id, planned_s))


def time_limits_s(planned_duration_s: int) -> tuple[int, int]:
    soft = planned_duration_s + settings.K6_GRACE_S + SOFT_LIMIT_MARGIN_S
    return soft, soft + HARD_LIMIT_MARGIN_S


def _submit(run_id: Any, planned_duration_s: int) -> None:
    if settings.REDIS_URL:
        from runs.tasks import execute_run

        soft, hard = time_limits_s(planned_duration_s)
        execute_run.apply_async(args=[str(run_id)], queue="k6", soft_time_limit=soft, time_limit=hard)
    else:
        embedded_executor().submit(_execute_embedded, run_id).add_done_callback(_log_failure)


def embedded_executor() -> ThreadPoolExecutor:
    """Bounded: at most EMBEDDED_WORKERS runs at once; the rest wait in line."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=settings.EMBEDDED_WORKERS, thread_name_prefix="k6intel-run")
    return _executor


def _execute_embedded(run_id: Any) -> None:
    close_old_connections()
    try:
        run_execute(run_id)
    finally:
        close_old_connections()


def _log_failure(future: Future[None]) -> None:
    if future.exception() is not None:
        log.error("embedded run crashed", exc_info=future.exception())
