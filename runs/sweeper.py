"""Runs nobody is working on: queued again, reaped, or cleaned up after.

One pass (`sweep`) does three things. In production it runs in the beat
process on its own thread, every REAP_EVERY_S, so it needs no particular
worker; in embedded mode the server runs it at start-up and as often.

* Queued again: a run still `queued`, or `analyzing` with its post-k6 stages
  unclaimed, may have lost its queue message (a broker restart, a publish that
  failed). It is published again after REDISPATCH_AFTER_S, then at doubling
  intervals, since a message may also just be waiting behind a long test. The
  claim at the start of every step makes a second message harmless.
* Reaped: a running run (or one whose post-k6 stages are claimed) whose
  heartbeat stopped is failed with the reason, its k6 killed when it is here.
  Right after a database outage every heartbeat looks old, so reaping waits
  until the database has been back for REAP_AFTER_S.
* Cleaned up: work directories of this host's runs that are over or dead.
"""

from __future__ import annotations

import logging
import re
import shutil
import socket
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import psutil
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.db.models import Q
from django.utils import timezone

from runs import dispatch, events
from runs.engine import k6
from runs.models import Run
from runs.outage import drop_connection
from runs.pipeline import NOT_GRADED_FIELDS, WORKDIR_PREFIX

log = logging.getLogger(__name__)

PUBLISH_GRACE_S = 5  # a run younger than this may still be waiting for its creator's on_commit publish
MAX_BACKOFF_DOUBLINGS = 5
INSPECT_DIR_MAX_AGE_S = 3600
NEW_WORKDIR_S = 60  # between mkdtemp and k6 starting in it, no process works in a directory yet
WORKDIR_RUN_ID = re.compile(re.escape(WORKDIR_PREFIX) + r"([0-9a-f-]{36})-")


def sweep(reap: bool = True) -> dict[str, int]:
    """One pass; returns how many runs were queued again, reaped, and directories removed."""
    queued = requeue_stranded()
    reaped = reap_stale_runs() if reap else []
    removed = remove_dead_workdirs()
    return {"requeued": len(queued), "reaped": len(reaped), "workdirs_removed": removed}


# --- queued again ------------------------------------------------------------


def requeue_stranded() -> list[Run]:
    now = timezone.now()
    waiting = Run.objects.filter(Q(status=Run.Status.QUEUED) | Q(status=Run.Status.ANALYZING, stage=""), cancel_requested=False)
    due = [run for run in waiting.order_by("created_at") if _due(run, now) and not dispatch.held_by_repeat(run)]
    requeued = [run for run in due if _requeue(run)]
    for run in requeued:
        log.warning("run %s (%s) had no queue message that anyone took; queued again", run.pk, run.status)
    return requeued


def _due(run: Run, now: datetime) -> bool:
    if not settings.REDIS_URL:  # embedded: whatever this process's executor does not hold
        return not dispatch.in_line(run.pk) and run.created_at < now - timedelta(seconds=PUBLISH_GRACE_S)
    if run.dispatched_at is None:
        return run.created_at < now - timedelta(seconds=PUBLISH_GRACE_S)
    wait_s = settings.REDISPATCH_AFTER_S * 2 ** min(max(run.dispatch_attempts - 1, 0), MAX_BACKOFF_DOUBLINGS)
    return run.dispatched_at < now - timedelta(seconds=wait_s)


def _requeue(run: Run) -> bool:
    if run.status == Run.Status.QUEUED:
        return dispatch.dispatch_run(run.pk, run.planned_duration_s)
    return dispatch.dispatch_post_stages(run.pk)


# --- reaped ------------------------------------------------------------------


def reap_stale_runs() -> list[Run]:
    """Fail runs whose worker stopped sending heartbeats, and kill their k6 if it is still here."""
    cutoff = timezone.now() - timedelta(seconds=settings.REAP_AFTER_S)
    working = Q(status=Run.Status.RUNNING) | (Q(status=Run.Status.ANALYZING) & ~Q(stage=""))
    stale = Run.objects.filter(working, heartbeat_at__lt=cutoff)
    return [run for run in stale if _reap(run)]


def _reap(run: Run) -> bool:
    stage = run.stage or "k6"
    kept = " What k6 measured is kept." if run.status == Run.Status.ANALYZING else ""
    error = (
        f"The worker running this test stopped sending heartbeats during the {stage} stage (last one at "
        f"{run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC): it crashed, was killed or lost its database. The run was "
        f"marked failed.{kept} Start it again when workers are healthy."
    )
    # Conditional on the heartbeat we saw: a worker that wakes up wins.
    reaped = Run.objects.filter(pk=run.pk, status=run.status, heartbeat_at=run.heartbeat_at).update(
        status=Run.Status.FAILED, error=error, finished_at=timezone.now(), k6_pid=None, **NOT_GRADED_FIELDS
    )
    if not reaped:
        return False
    if run.k6_pid and run.worker_host == socket.gethostname():
        k6.kill_leftover(run.k6_pid)
    run.refresh_from_db()
    events.publish_end(run)
    return True


# --- cleaned up --------------------------------------------------------------


def remove_dead_workdirs(root: Path | None = None) -> int:
    """Remove this host's run directories that no live run uses, and stale inspect ones.

    A directory stays while its run is running with a fresh heartbeat or any process works in it; one
    whose run this database does not know (another installation's, on this host) also while it is new.
    """
    root = root or Path(tempfile.gettempdir())
    candidates = [*root.glob(f"{WORKDIR_PREFIX}*"), *root.glob("k6intel-inspect-*")]
    in_use = _working_directories() if candidates else set()  # every process's cwd: only when needed
    removed = 0
    for path in root.glob(f"{WORKDIR_PREFIX}*"):
        match = WORKDIR_RUN_ID.match(path.name)
        state = _run_state(match.group(1)) if match else "unknown"
        if state == "alive" or str(path) in in_use or (state == "unknown" and _young(path, NEW_WORKDIR_S)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    for path in root.glob("k6intel-inspect-*"):
        if not _young(path, INSPECT_DIR_MAX_AGE_S) and str(path) not in in_use:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def _young(path: Path, age_s: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime < age_s
    except OSError:
        return True  # gone already


def _working_directories() -> set[str]:
    cwds = set()
    for process in psutil.process_iter():
        try:
            cwds.add(process.cwd())
        except psutil.Error:
            continue
    return cwds


def _run_state(run_id: str) -> str:
    """ "alive" (running, fresh heartbeat), "dead", or "unknown" (not in this database: maybe another installation's)."""
    run = Run.objects.filter(pk=run_id).only("status", "heartbeat_at").first()
    if run is None:
        return "unknown"
    cutoff = timezone.now() - timedelta(seconds=settings.REAP_AFTER_S)
    fresh = run.heartbeat_at is not None and run.heartbeat_at >= cutoff
    return "alive" if run.status == Run.Status.RUNNING and fresh else "dead"


# --- the loop ----------------------------------------------------------------


class Sweeper(threading.Thread):
    """`sweep` every REAP_EVERY_S, riding out database outages (and not reaping right after one)."""

    def __init__(self) -> None:
        super().__init__(name="k6intel-sweeper", daemon=True)
        self.stopped = threading.Event()
        self.database_back_at: float | None = 0.0  # 0: no outage seen since start

    def run(self) -> None:
        while not self.stopped.is_set():
            self.sweep_once()
            self.stopped.wait(settings.REAP_EVERY_S)

    def sweep_once(self) -> None:
        close_old_connections()
        try:
            counts = sweep(reap=self._may_reap())
        except DatabaseError as exc:
            log.warning("sweeper: database unreachable (%s); trying again in %s s", exc, settings.REAP_EVERY_S)
            self.database_back_at = None
            drop_connection()
            return
        except Exception:  # the loop must outlive any one bad pass
            log.exception("sweeper pass failed")
            return
        if self.database_back_at is None:
            self.database_back_at = time.monotonic()
        if any(counts.values()):
            log.info("sweeper: %s", counts)

    def _may_reap(self) -> bool:
        back_at = self.database_back_at
        return back_at is not None and (back_at == 0.0 or time.monotonic() - back_at >= settings.REAP_AFTER_S)


_sweeper: Sweeper | None = None


def start_sweeper() -> Sweeper:
    """Start this process's sweeper thread (once)."""
    global _sweeper
    if _sweeper is None or not _sweeper.is_alive():
        _sweeper = Sweeper()
        _sweeper.start()
    return _sweeper
