"""A run split over several k6 processes, each on a k6 worker of its own (`segments: N`).

Every segment is a queue message of its own. Each one claims its row (`RunSegment`), prepares its files
and waits at the start barrier until every segment has a worker; then all start k6 together, each with
its execution segment (runs/engine/segments.py). Segment 0 is the coordinator: it owns the run's status,
heartbeat and live view (the other segments' latest seconds, merged), and once its own k6 has ended it
waits for the others, merges what they measured and finishes the run as any other. A segment that fails
stops the others; a cancel stops them all.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from runs import events
from runs.engine import k6
from runs.engine.k6_codes import describe_exit
from runs.engine.merge import ingester_state, merge_second, merge_states, second_state
from runs.engine.results import SampleIngester, read_summary
from runs.engine.segments import SegmentPart, aggregate_samples, merge_summaries
from runs.models import Run, RunSegment
from runs.outage import beating

log = logging.getLogger(__name__)

BARRIER_POLL_S = 0.2
HEARTBEAT_S = 2.0
LIVE_SECONDS = 30  # closed seconds each segment keeps in its live row for the coordinator to merge
STALE_AFTER_S = 30  # a segment whose heartbeat is older than this is taken for dead
MAX_SEGMENT_LOG_CHARS = 20_000  # of each other segment's log, appended to the run's


class SegmentsDidNotStart(Exception):
    """Not every segment found a k6 worker within SEGMENT_START_TIMEOUT_S."""


@dataclass(frozen=True)
class Merged:
    outcome: k6.K6Outcome
    ingester: SampleIngester
    summary: dict[str, Any]
    log: str
    error: str  # why the run failed when a segment did; empty otherwise


def claim(run_id: Any, index: int) -> RunSegment | None:
    """This segment's row, created by the one message that gets there first; None for a redelivery or a
    run that has ended (cancelled while it waited in the queue)."""
    if not Run.objects.filter(pk=run_id, status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).exists():
        return None
    try:
        with transaction.atomic():
            return RunSegment.objects.create(
                run_id=run_id, index=index, worker=f"{socket.gethostname()}:{os.getpid()}", heartbeat_at=timezone.now()
            )
    except IntegrityError:
        return None


class SegmentLink:
    """What one segment's k6 stage does beyond a whole run's: the barrier, heartbeats, the live merge."""

    def __init__(self, part: RunSegment, count: int) -> None:
        self.part, self.count = part, count
        self.index = part.index
        self.coordinator = part.index == 0
        self.started_at = 0.0
        self._peer_totals: dict[str, int] = {}

    @property
    def segment(self) -> tuple[int, int]:
        return self.index, self.count

    # --- before k6 ---------------------------------------------------------------

    def wait_for_start(self) -> None:
        """Every segment has a worker and its files: go. Raises SegmentsDidNotStart after the timeout."""
        deadline = time.monotonic() + settings.SEGMENT_START_TIMEOUT_S
        RunSegment.objects.filter(pk=self.part.pk).update(status=RunSegment.Status.READY, heartbeat_at=timezone.now())
        parts = RunSegment.objects.filter(run_id=self.part.run_id)
        go = (RunSegment.Status.READY, RunSegment.Status.RUNNING)
        while (ready := parts.filter(status__in=go).count()) < self.count:
            run = Run.objects.only("status").get(pk=self.part.run_id)
            if run.is_terminal:
                raise SegmentsDidNotStart(f"The run ended ({run.status}) before every segment had started.")
            if failed := parts.filter(status=RunSegment.Status.FAILED).first():
                raise SegmentsDidNotStart(f"Segment {failed.index + 1} of {self.count} failed before the start: {failed.error}")
            if time.monotonic() > deadline:
                raise SegmentsDidNotStart(
                    f"Only {ready} of the run's {self.count} segments found a free k6 worker within "
                    f"SEGMENT_START_TIMEOUT_S={settings.SEGMENT_START_TIMEOUT_S} s. Start more k6-queue workers "
                    "(each runs one segment at a time) or ask for fewer segments."
                )
            RunSegment.objects.filter(pk=self.part.pk).update(heartbeat_at=timezone.now())
            if self.coordinator:
                Run.objects.filter(pk=self.part.run_id).update(heartbeat_at=timezone.now())
            time.sleep(BARRIER_POLL_S)
        self.started_at = time.monotonic()
        RunSegment.objects.filter(pk=self.part.pk).update(status=RunSegment.Status.RUNNING, started_at=timezone.now())

    # --- while k6 runs -----------------------------------------------------------

    def beat(self, ingester: SampleIngester, k6_pid: int | None) -> str:
        """Heartbeat and live seconds; a reason to stop when the run was cancelled or another segment failed."""
        live = self._live(ingester) if not self.coordinator else {}
        fields: dict[str, Any] = {"heartbeat_at": timezone.now(), "k6_pid": k6_pid}
        if live:
            fields["live"] = live
        RunSegment.objects.filter(pk=self.part.pk).update(**fields)
        run = Run.objects.only("status", "cancel_requested").get(pk=self.part.run_id)
        if run.cancel_requested:
            return "cancel"
        if run.is_terminal:
            return f"k6 was stopped: the run ended ({run.status}) while segment {self.index + 1} ran."
        peers = RunSegment.objects.filter(run_id=self.part.run_id).exclude(pk=self.part.pk)
        failed = peers.filter(status=RunSegment.Status.FAILED).first()
        if failed is not None:
            return f"k6 was stopped: segment {failed.index + 1} of {self.count} failed. {failed.error}".strip()
        stale = (
            peers.exclude(status__in=[RunSegment.Status.DONE, RunSegment.Status.FAILED])
            .filter(heartbeat_at__lt=timezone.now() - timedelta(seconds=STALE_AFTER_S))
            .first()
        )
        if stale is not None:
            return f"k6 was stopped: segment {stale.index + 1} of {self.count} stopped reporting (its worker is gone)."
        return ""

    def _live(self, ingester: SampleIngester) -> dict[str, Any]:
        closed_before = ingester._closed_before  # after finish(): every second it has, so the merge never waits on it
        seconds = range(max(ingester.first_second or closed_before, closed_before - LIVE_SECONDS), closed_before)
        return {
            "first_second": ingester.first_second,
            "closed_before": closed_before,
            "totals": ingester.totals(),
            "seconds": {str(s): second_state(ingester, s) for s in seconds if s in ingester.seconds},
        }

    def live_points(self, ingester: SampleIngester, after_t: int) -> list[dict[str, Any]]:
        """The coordinator's merged seconds after `after_t` that every segment has closed."""
        peers = dict(RunSegment.objects.filter(run_id=self.part.run_id).exclude(index=0).values_list("index", "live"))
        peer_live = [live for live in peers.values() if live]
        self._peer_totals = {}
        for live in peer_live:
            for key, value in live.get("totals", {}).items():
                self._peer_totals[key] = self._peer_totals.get(key, 0) + value
        firsts = [live.get("first_second") for live in peer_live] + [ingester.first_second]
        if len(peer_live) < self.count - 1 or any(first is None for first in firsts):
            return []  # not every segment has measured a second yet
        first = min(f for f in firsts if f is not None)
        closed_before = min([ingester._closed_before, *(live["closed_before"] for live in peer_live)])
        points = []
        scratch = SampleIngester(Path("/dev/null"), max_endpoints=1, max_failed_samples=0)
        for second in range(first + after_t + 1, closed_before):
            parts = [second_state(ingester, second)] if second in ingester.seconds else []
            parts += [live["seconds"][str(second)] for live in peer_live if str(second) in live["seconds"]]
            points.append(merge_second(parts, scratch).point(second - first))
        return points

    def totals(self, ingester: SampleIngester) -> dict[str, int]:
        own = ingester.totals()
        return {key: value + self._peer_totals.get(key, 0) for key, value in own.items()}

    # --- after k6 ----------------------------------------------------------------

    def beating(self) -> AbstractContextManager[None]:
        """Heartbeats while this segment reads its samples again and (segment 0) merges: minutes for a
        big run, during which no tick runs, and the others would take it for dead."""

        def beat() -> None:
            now = timezone.now()
            RunSegment.objects.filter(pk=self.part.pk).update(heartbeat_at=now)
            if self.coordinator:
                Run.objects.filter(pk=self.part.run_id, status=Run.Status.RUNNING).update(heartbeat_at=now)

        return beating(beat, HEARTBEAT_S, f"k6intel-segment-{self.index}-beat")

    def finish(self, outcome: k6.K6Outcome, ingester: SampleIngester, log_text: str, error: str) -> None:
        """This segment's results, in its row: what the coordinator merges."""
        summary = read_summary(outcome.summary_path) or {}
        if not self.coordinator:
            RunSegment.objects.filter(pk=self.part.pk).update(live=self._live(ingester))  # its last seconds, closed
        state = {
            "summary": summary,
            "aggregates": aggregate_samples(outcome.samples_path, summary),
            "stream": ingester_state(ingester),
            "elapsed_s": outcome.elapsed_s,
            "stopped_by": outcome.stopped_by,
            "log": log_text[-MAX_SEGMENT_LOG_CHARS:],
        }
        failed = bool(error) or outcome.exit.outcome == "error" or outcome.stopped_by not in (None, "cancel")
        RunSegment.objects.filter(pk=self.part.pk).update(
            status=RunSegment.Status.FAILED if failed else RunSegment.Status.DONE,
            k6_exit_code=outcome.exit.code,
            error=error or (_part_error(outcome) if failed else ""),
            finished_at=timezone.now(),
            k6_pid=None,
            state=zlib.compress(orjson.dumps(state)),
        )

    def merged(self, run: Run, outcome: k6.K6Outcome, log_text: str, error: str) -> Merged:
        """Once every segment has ended (or stopped reporting): the whole run's outcome, samples and summary."""
        parts = self._wait_for_parts(run)
        with_state = [(part, orjson.loads(zlib.decompress(bytes(part.state)))) for part in parts if part.state]
        states = [state for _, state in with_state]
        ingester = merge_states(
            [state["stream"] for state in states],
            max_endpoints=settings.MAX_ENDPOINTS,
            max_failed_samples=settings.MAX_FAILED_SAMPLES,
        )
        summary = merge_summaries([SegmentPart(state["summary"], state["aggregates"]) for state in states if state["summary"]])
        error = error or _first_failure(parts, self.count)
        exit_code = _merged_exit(parts, summary, error, outcome.exit.code)
        elapsed_s = max([outcome.elapsed_s, *(state["elapsed_s"] for state in states)])
        cancelled = Run.objects.filter(pk=run.pk, cancel_requested=True).exists() or any(
            state.get("stopped_by") == "cancel" for state in states
        )
        stopped_by = "cancel" if cancelled and not error else outcome.stopped_by or ("over_limit" if error else None)
        merged_outcome = k6.K6Outcome(describe_exit(exit_code), stopped_by, elapsed_s, outcome.workdir, outcome.log)
        logs = [log_text] + [
            f"--- segment {p.index + 1} of {self.count} ---\n{state['log']}" for p, state in with_state if p.index
        ]
        return Merged(merged_outcome, ingester, summary, "\n".join(logs), error)

    def _wait_for_parts(self, run: Run) -> list[RunSegment]:
        budget_s = run.planned_duration_s + run.graceful_stop_s + settings.K6_GRACE_S + k6.STOP_GRACE_S + STALE_AFTER_S
        deadline = self.started_at + budget_s
        parts = RunSegment.objects.filter(run_id=run.pk).order_by("index")
        while True:
            rows = list(parts.all())  # a fresh read each time
            running = [p for p in rows if p.status not in (RunSegment.Status.DONE, RunSegment.Status.FAILED)]
            stale = [p for p in running if p.heartbeat_at and timezone.now() - p.heartbeat_at > timedelta(seconds=STALE_AFTER_S)]
            if not running or time.monotonic() > deadline or len(stale) == len(running):
                return rows
            Run.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
            time.sleep(BARRIER_POLL_S)


def _part_error(outcome: k6.K6Outcome) -> str:
    if outcome.stopped_by:
        return f"k6 was stopped ({outcome.stopped_by})."
    return f"k6 exited {outcome.exit.code} ({outcome.exit.name}): {outcome.exit.meaning}"


def _first_failure(parts: list[RunSegment], count: int) -> str:
    for part in parts:
        if part.status == RunSegment.Status.FAILED:
            return f"Segment {part.index + 1} of {count} failed: {part.error}"
        if part.status != RunSegment.Status.DONE:
            return f"Segment {part.index + 1} of {count} stopped reporting before it ended; its results are missing."
    if len(parts) < count:
        return f"Only {len(parts)} of {count} segments ran."
    return ""


def _merged_exit(parts: list[RunSegment], summary: dict[str, Any], error: str, own_code: int) -> int:
    """k6's exit for the whole run: the first failed segment's; a script's test.abort() or test.fail() in any
    segment; else 99 when a threshold is crossed on the merged data, 0 when none is."""
    by_end = sorted(parts, key=lambda p: p.finished_at or timezone.now())
    if error:
        failed = [p.k6_exit_code for p in by_end if p.status == RunSegment.Status.FAILED]
        if code := next((c for c in failed if c not in (None, 0, 99, 105)), None):
            return code
        return own_code if own_code not in (0, 99) else 105  # stopped because another segment was
    if code := next((p.k6_exit_code for p in by_end if p.k6_exit_code in (108, 110)), None):
        return code
    crossed = any(any(values.get("thresholds", {}).values()) for values in summary.get("metrics", {}).values())
    return 99 if crossed else 0


def run_segment(run_id: Any, index: int) -> None:
    """A segment other than the coordinator: its k6, its results into its row, nothing else of the run."""
    from runs import pipeline

    part = claim(run_id, index)
    if part is None:
        log.info("segment %s of run %s was already claimed or the run has ended", index, run_id)
        return
    run = Run.objects.select_related("project").get(pk=run_id)
    link = SegmentLink(part, run.segments)
    workdir = Path(tempfile.mkdtemp(prefix=f"{pipeline.WORKDIR_PREFIX}{run.pk}-{index}-"))
    try:
        pipeline.stage_k6(run, workdir, None, link)
    except SegmentsDidNotStart as exc:
        fail_part(part, str(exc))
        _fail_run(run, str(exc))
    except Exception as exc:  # the segment must end with a reason, so the others stop
        log.exception("segment %s of run %s failed", index, run_id)
        fail_part(part, f"Internal error: {exc!r}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def fail_part(part: RunSegment, message: str) -> None:
    RunSegment.objects.filter(pk=part.pk).exclude(status__in=[RunSegment.Status.DONE, RunSegment.Status.FAILED]).update(
        status=RunSegment.Status.FAILED, error=message, finished_at=timezone.now(), k6_pid=None
    )


def _fail_run(run: Run, message: str) -> None:
    from runs.pipeline import NOT_GRADED_FIELDS

    if Run.objects.filter(pk=run.pk, status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).update(
        status=Run.Status.FAILED,
        error=message,
        finished_at=timezone.now(),
        stage="",
        sealed_secrets="",  # no segment will run: nothing keeps the credentials
        **NOT_GRADED_FIELDS,
    ):
        run.refresh_from_db()
        events.publish_end(run)


def run_here(run_id: Any, on_progress: Any = None) -> Run:
    """A run executed in this process (the CLI without --queue): a split run's segments each in a thread."""
    from runs.pipeline import run_execute

    segments = Run.objects.filter(pk=run_id).values_list("segments", flat=True).first() or 1
    if segments <= 1:
        return run_execute(run_id, on_progress=on_progress)
    with ThreadPoolExecutor(segments - 1, thread_name_prefix="k6intel-segment") as pool:
        for index in range(1, segments):
            pool.submit(_in_thread, run_id, index)
        return run_execute(run_id, on_progress=on_progress)


def _in_thread(run_id: Any, index: int) -> None:
    try:
        run_segment(run_id, index)
    finally:
        connections.close_all()
