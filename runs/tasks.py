"""Celery tasks: thin wrappers that take ids and call the pipeline."""

from __future__ import annotations

from celery import shared_task

from runs.dispatch import dispatch_next_repeat, dispatch_post_stages
from runs.pipeline import run_execute
from runs.segments import run_segment
from runs.shutdown import graceful_sigterm
from runs.stages import run_post_stages


# No retries: a load test is never re-run automatically. A redelivered
# message finds the run already claimed and does nothing.
@shared_task(acks_late=True, max_retries=0)
def execute_run(run_id: str) -> str:
    with graceful_sigterm():  # a worker asked to stop ends the test early and keeps its results
        status = run_execute(run_id, after_k6=dispatch_post_stages).status
    dispatch_next_repeat(run_id)  # `repeat`: the next run of the group, once this one has ended
    return status


@shared_task(acks_late=True, max_retries=0)
def post_k6_stages(run_id: str) -> str:
    status = run_post_stages(run_id).status
    dispatch_next_repeat(run_id)
    return status


@shared_task(acks_late=True, max_retries=0)
def execute_segment(run_id: str, index: int) -> str:
    """One k6 process of a split run; segment 0 also merges them and finishes the run (runs/segments.py)."""
    with graceful_sigterm():
        if index:
            run_segment(run_id, index)
            return "segment"
        status = run_execute(run_id, after_k6=dispatch_post_stages).status
    dispatch_next_repeat(run_id)
    return status
