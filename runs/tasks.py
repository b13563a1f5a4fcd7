"""Celery tasks: thin wrappers that take ids and call the pipeline."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from runs.pipeline import reap_stale_runs, run_execute
from runs.stages import run_post_stages


# No retries: a load test is never re-run automatically. A redelivered
# message finds the run already claimed and does nothing.
@shared_task(acks_late=True, max_retries=0)
def execute_run(run_id: str) -> str:
    return run_execute(run_id, after_k6=_queue_post_stages).status


def _queue_post_stages(run_id: Any) -> None:
    limit_s = settings.POST_STAGES_TIME_LIMIT_S
    post_k6_stages.apply_async(args=[str(run_id)], queue="analyzers", soft_time_limit=limit_s, time_limit=limit_s + 60)


@shared_task(acks_late=True, max_retries=0)
def post_k6_stages(run_id: str) -> str:
    return run_post_stages(run_id).status


@shared_task
def reap() -> int:
    return len(reap_stale_runs())
