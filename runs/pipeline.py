"""A run from submission to score: create, claim, execute k6, ingest, grade.

Entry points (CLI, API, Celery tasks) call `run_create_*` and `run_execute`
and nothing deeper. Each stage stores what it produced before the next starts,
so a failure later never loses what k6 measured.
"""

from __future__ import annotations

import logging
import re
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from runs import events, shutdown
from runs.api.serializers import BuilderRunSerializer
from runs.engine import k6, prometheus
from runs.engine.bundle import K6_ARCHIVE_NAME, Bundle, unpack
from runs.engine.delivery import Ending, Plan, delivery_for
from runs.engine.k6_log import LogCapture
from runs.engine.presets import GRACEFUL_STOP_S
from runs.engine.remotewrite.ingest import RemoteWriteIngester
from runs.engine.remotewrite.receiver import Receiver, ReceiverUnavailable
from runs.engine.resources import CpuSampler
from runs.engine.results import (
    SampleIngester,
    custom_metrics,
    group_tree,
    read_summary,
    scenario_summaries,
    summary_checks,
    summary_metrics,
    summary_thresholds,
    url_origin,
)
from runs.engine.scoring import Delivered, SlaThresholds, score_run
from runs.engine.script import render_script
from runs.engine.secrets import (
    MASK,
    SENSITIVE_HEADER,
    SENSITIVE_QUERY,
    mask_url,
    redact,
    seal,
    secret_values,
    split_env,
    unseal,
)
from runs.engine.verdict import NOT_GRADED
from runs.engine.vetting import ScriptOptions, ScriptRejected, vet_upload
from runs.loadtests import RunMeta, compare_with_baseline, default_test_name, test_for
from runs.models import ApiKey, Project, Run, RunArtifact, RunResult
from runs.outage import TRANSIENT, drop_connection, retry_through_outage
from runs.segments import SegmentLink, SegmentsDidNotStart, fail_part
from runs.segments import claim as claim_segment
from runs.selectors import run_verdict, stored_scorecard
from runs.stages import post_stages, run_post_stages

if TYPE_CHECKING:
    from django.contrib.auth.models import User

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 2.0
SEGMENT_BEAT_EVERY_S = 1.0  # a split run's segments also hand their latest seconds to the live view
WORKDIR_PREFIX = "k6intel-run-"  # then the run's id: the sweeper knows whose directory it is
# A run that ends failed or cancelled is not graded, wherever it is shown.
NOT_GRADED_FIELDS = {"verdict": NOT_GRADED, "grade": "", "score": None}
K6_LOG_MSG = re.compile(r'level=(error|fatal)\s+msg="((?:[^"\\]|\\.)*)"')

# What a run started by `repeat` copies of the first (everything it was created with).
REPEATED_FIELDS = (
    "project", "test", "labels", "api_key", "owner", "mode", "target_url", "spec", "script", "bundle",
    "sealed_secrets", "planned_duration_s", "graceful_stop_s", "max_vus", "sla_config", "segments",
)  # fmt: skip

RUN_META_FIELDS = ("test", "labels", "repeat", "prometheus_url", "segments")

ProgressCallback = Callable[[dict[str, Any]], None]
AfterK6 = Callable[[Any], object]  # what it returns is ignored


# --- creating ----------------------------------------------------------------


def run_create_from_builder(
    serializer: BuilderRunSerializer, api_key: ApiKey | None = None, owner: User | None = None, meta: RunMeta | None = None
) -> Run:
    """Store a queued run from validated builder input (call `is_valid()` first)."""
    plan = serializer.to_plan()
    data = serializer.validated_data
    sla = SlaThresholds.from_settings(data.get("sla"))
    # The input as given, but only what the builder reads: test, labels and repeat are the run's own columns.
    given = {key: value for key, value in serializer.initial_data.items() if key in serializer.fields}
    spec = _public_spec({key: value for key, value in given.items() if key not in RUN_META_FIELDS}, plan.preset)
    target_url = plan.request.full_url()  # credential query parameters are not in it: they are sealed
    with transaction.atomic():
        project, _ = Project.objects.get_or_create(name=plan.project_name)
        return Run.objects.create(
            project=project,
            **_belonging(project, meta, Run.Mode.BUILDER, spec, target_url),
            mode=Run.Mode.BUILDER,
            target_url=target_url,
            api_key=api_key,
            owner=owner,
            spec=_with_export(spec, meta),
            script=render_script(plan),
            sealed_secrets=seal(serializer.secrets()),
            planned_duration_s=plan.shape.planned_duration_s,
            graceful_stop_s=GRACEFUL_STOP_S,
            max_vus=plan.shape.max_vus,
            sla_config=asdict(sla),
        )


def run_create_from_script(
    project_name: str,
    raw: bytes,
    filename: str,
    sla: dict[str, float] | None = None,
    api_key: ApiKey | None = None,
    owner: User | None = None,
    options: ScriptOptions | None = None,
    shown_name: str = "",
    meta: RunMeta | None = None,
) -> Run:
    """Vet an uploaded script or bundle and store it as a queued run; raises ScriptRejected and stores nothing."""
    options = options or ScriptOptions()
    if problems := options.problems():
        raise ScriptRejected([f"{field}: {message}" for field, messages in problems.items() for message in messages])
    plain_env, secret_env = split_env(options.env)
    launch = k6.Launch(options.entry or k6.SCRIPT_NAME, plain_env, secret_env, options.overrides())
    suite = vet_upload(raw, filename, launch)
    bundle, needs = suite.bundle, suite.needs
    target_url = options.target or _url_in(plain_env) or needs.target_url
    if meta and meta.segments > needs.max_vus:
        raise ScriptRejected(
            [f"segments: each segment runs at least one VU; this test reaches {needs.max_vus}, fewer than {meta.segments}."]
        )
    spec = {
        "filename": shown_name or Path(filename).name,
        "entry": bundle.entry,
        "k6_archive": bundle.k6_archive,
        "files": sorted(bundle.files) if not bundle.k6_archive else [],
        "modules": bundle.modules,
        "env": {**plain_env, **dict.fromkeys(secret_env, MASK)},
        **options.overrides(),
        "target": options.target,
        "max_vus": needs.max_vus,
        "duration_s": needs.duration_s,
        "executors": list(needs.executors),
        "scenarios": dict(needs.scenario_executors),
    }
    with transaction.atomic():
        project, _ = Project.objects.get_or_create(name=project_name)
        return Run.objects.create(
            project=project,
            **_belonging(project, meta, Run.Mode.SCRIPT, spec, target_url),
            api_key=api_key,
            owner=owner,
            mode=Run.Mode.SCRIPT,
            target_url=target_url,
            spec=_with_export(spec, meta),
            script=bundle.entry_source(),
            bundle=bundle.pack(),
            sealed_secrets=seal({"env": secret_env} if secret_env else {}),
            planned_duration_s=needs.duration_s,
            graceful_stop_s=needs.graceful_stop_s,
            max_vus=needs.max_vus,
            sla_config=asdict(SlaThresholds.from_settings(sla)),
        )


def run_create_again(
    earlier: Run, options: ScriptOptions, api_key: ApiKey | None = None, owner: User | None = None, meta: RunMeta | None = None
) -> Run:
    """'Run again' for a script run: its stored files (modules in place), vetted again with these options, in
    its test with its labels unless told otherwise."""
    files = unpack(bytes(earlier.bundle)) if earlier.bundle else {k6.SCRIPT_NAME: earlier.script.encode()}
    if earlier.spec.get("k6_archive"):
        raw, kind = files[K6_ARCHIVE_NAME], K6_ARCHIVE_NAME
    else:
        # Packed under one folder, which reading an upload strips again: the stored paths come back as they were.
        raw, kind = Bundle({f"bundle/{path}": content for path, content in files.items()}, "").pack(), "bundle.tar.gz"
    options = replace(options, entry=options.entry or earlier.spec.get("entry") or k6.SCRIPT_NAME)
    shown_name = earlier.spec.get("filename") or kind
    meta = meta or RunMeta(test=earlier.test.name if earlier.test else "", labels=dict(earlier.labels), segments=earlier.segments)
    return run_create_from_script(
        earlier.project.name, raw, kind, dict(earlier.sla_config), api_key, owner, options, shown_name, meta
    )


def run_create_repeats(first: Run, times: int) -> list[Run]:
    """`repeat`: the run and `times - 1` copies of it in one group. They run one after another: start the
    first (run_enqueue), and each that ends starts the next (runs/dispatch.py)."""
    if times <= 1:
        return [first]
    group = uuid.uuid4()
    copies = [
        Run(**{field: getattr(first, field) for field in REPEATED_FIELDS}, repeat_group=group, repeat_index=index)
        for index in range(2, times + 1)
    ]
    with transaction.atomic():
        Run.objects.filter(pk=first.pk).update(repeat_group=group, repeat_index=1)
        Run.objects.bulk_create(copies)
    first.repeat_group, first.repeat_index = group, 1
    return [first, *copies]


def _belonging(project: Project, meta: RunMeta | None, mode: str, spec: dict[str, Any], target_url: str) -> dict[str, Any]:
    """The test a new run joins (its name, or the default for what it runs) and its labels."""
    meta = meta or RunMeta()
    return {
        "test": test_for(project, meta.test or default_test_name(mode, spec, target_url)),
        "labels": dict(meta.labels),
        "segments": meta.segments,
    }


def _with_export(spec: dict[str, Any], meta: RunMeta | None) -> dict[str, Any]:
    """The run's own metrics endpoint beside what it runs (validated by the serializer or the command)."""
    return {**spec, "prometheus_url": meta.prometheus_url} if meta and meta.prometheus_url else spec


def _url_in(env: dict[str, str]) -> str:
    """A URL the run is given (BASE_URL and the like): where it goes, until the samples tell (a request's
    `name` tag replaces its URL in them)."""
    origins = (url_origin(value.strip()) for value in env.values())
    return next((f"{origin}/" for origin in origins if origin), "")


def _keep_histograms(run: Run, ingester: SampleIngester) -> None:
    RunResult.objects.filter(run=run).update(histograms=ingester.histograms())


def _compare_with_baseline(run: Run) -> None:
    """Before the reports are written: they show the comparison with the test's baseline, when there is one."""
    stored = Run.objects.select_related("test", "result").get(pk=run.pk)  # with its histograms, just stored
    if run.status in (Run.Status.ANALYZING, Run.Status.DONE) and (comparison := compare_with_baseline(stored)):
        Run.objects.filter(pk=run.pk).update(comparison=comparison)
        run.comparison = comparison


def _run_files(run: Run) -> dict[str, bytes] | str:
    """A script run's files as uploaded (modules placed), or a builder run's one script."""
    return unpack(bytes(run.bundle)) if run.bundle else run.script


def _launch(run: Run, secret_env: dict[str, str], segment: tuple[int, int] = (0, 1), samples_url: str = "") -> k6.Launch:
    spec = run.spec if run.mode == Run.Mode.SCRIPT else {}
    plain_env = {key: str(value) for key, value in (spec.get("env") or {}).items() if key not in secret_env}
    overrides = {name: spec[name] for name in k6.OVERRIDE_ENV if spec.get(name) not in (None, "")}
    entry = spec.get("entry") or k6.SCRIPT_NAME
    return k6.Launch(entry, plain_env, secret_env, overrides, str(run.pk), _metrics_url(run), segment, samples_url)


def _metrics_url(run: Run) -> str:
    """The run's own Prometheus remote-write endpoint, when it named one."""
    return (run.spec or {}).get("prometheus_url") or ""


def _keep_artifacts(run: Run, workdir: Path, files: dict[str, bytes] | str, secrets: list[str]) -> None:
    """What handleSummary wrote beside the suite, kept with the run (size-capped); what was left out, in the log."""
    artifacts, notes = k6.collect_artifacts(workdir, files, secrets)
    with transaction.atomic():
        RunArtifact.objects.filter(run=run).delete()
        RunArtifact.objects.bulk_create(
            RunArtifact(run=run, name=name, content=content, size_bytes=len(content)) for name, content in artifacts
        )
    if notes:
        run.log = _noted(run.log, notes)


def _noted(log_text: str, notes: list[str]) -> str:
    """The run's log with the platform's notes after k6's own lines."""
    return "\n".join([*([log_text] if log_text else []), *(f"k6intel: {note}" for note in notes)])


def _public_spec(initial: dict[str, Any], preset: str | None) -> dict[str, Any]:
    """The input as the user gave it, with credential-bearing header values masked."""
    spec = dict(initial)
    headers = spec.get("headers") or {}
    spec["headers"] = {name: (MASK if SENSITIVE_HEADER.search(name) else value) for name, value in headers.items()}
    spec["url"] = mask_url(str(spec.get("url", "")))
    spec["query"] = {name: (MASK if SENSITIVE_QUERY.search(name) else value) for name, value in (spec.get("query") or {}).items()}
    spec["preset"] = preset
    return spec


# --- executing ---------------------------------------------------------------


def run_claim(run_id: Any) -> bool:
    """Move a queued run to running. Exactly one caller wins; a redelivered task loses."""
    now = timezone.now()
    claimed = Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(
        status=Run.Status.RUNNING, stage="k6", started_at=now, heartbeat_at=now
    )
    return claimed == 1


def run_execute(run_id: Any, on_progress: ProgressCallback | None = None, after_k6: AfterK6 | None = None) -> Run:
    """Claim and execute a queued run: k6, results, score, then the post-k6 stages.

    The post-k6 stages run inline unless `after_k6` hands them elsewhere (a
    Celery worker on the analyzers queue); the k6 results are stored first.
    """
    if not run_claim(run_id):
        log.info("run %s was already claimed; not starting k6 again", run_id)
        return Run.objects.get(pk=run_id)
    run = Run.objects.select_related("project").get(pk=run_id)
    events.publish(run.pk, "stage", {"status": run.status, "stage": "k6"})
    workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{run.pk}-"))
    link: SegmentLink | None = None
    ended_elsewhere = False  # a split run's other segment failed it at the start barrier and said so
    try:
        link = _coordinator_link(run)
        stage = stage_k6(run, workdir, on_progress, link)
        # k6 has finished: what it measured is stored even through a database outage of OUTAGE_TOLERANCE_S.
        retry_through_outage(lambda: _stage_results(run, stage), "storing k6's results")
        retry_through_outage(lambda: _keep_histograms(run, stage.ingester), "storing the latency distributions")
        retry_through_outage(lambda: _finish(run, stage.outcome), "ending the run")
        retry_through_outage(lambda: _compare_with_baseline(run), "comparing with the baseline")
    except SegmentsDidNotStart as exc:
        ended_elsewhere = not _fail(run, str(exc), only_if_active=True)
        if link is not None:
            fail_part(link.part, str(exc))
    except Exception as exc:  # the run must still end with a reason
        log.exception("run %s failed in stage %s", run.pk, run.stage)
        _fail(run, f"Internal error during the {run.stage or 'k6'} stage: {exc!r}")
        if link is not None:
            fail_part(link.part, f"Internal error: {exc!r}")  # the other segments stop
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    retry_through_outage(run.refresh_from_db, "reading the run back")
    if run.status == Run.Status.ANALYZING:
        (after_k6 or run_post_stages)(run.pk)
        run.refresh_from_db()
    elif not ended_elsewhere:
        events.publish_end(run)
    return run


def _coordinator_link(run: Run) -> SegmentLink | None:
    """Segment 0 of a split run: this process also merges and finishes the run (runs/segments.py)."""
    if run.segments <= 1:
        return None
    part = claim_segment(run.pk, 0)
    if part is None:
        raise RuntimeError("segment 0 of this run was already claimed")
    return SegmentLink(part, run.segments)


@dataclass(frozen=True)
class K6Stage:
    outcome: k6.K6Outcome
    ingester: SampleIngester
    resources: dict[str, Any]
    summary: dict[str, Any] | None  # a split run's merged summary; None: k6's own, in the work directory


def stage_k6(run: Run, workdir: Path, on_progress: ProgressCallback | None, link: SegmentLink | None = None) -> K6Stage:
    """k6 from start to exit, live progress meanwhile; for a segment of a split run, its share of the test."""
    with _samples_receiver(run, link) as receiver:
        return _run_k6(run, workdir, on_progress, link, receiver)


@contextmanager
def _samples_receiver(run: Run, link: SegmentLink | None) -> Iterator[Receiver | None]:
    """The receiver k6 pushes its aggregated samples to (K6_SAMPLE_COLLECTION "lean"), or None for CSV: a split
    run's thresholds are judged again on its segments' values themselves (runs/engine/segments.py), and a run
    exporting to Prometheus has k6's one remote-write output in use. With no receiver port free the run is
    read from CSV: slower, nothing lost."""
    if settings.K6_SAMPLE_COLLECTION != "lean" or link is not None or prometheus.endpoint_for(_metrics_url(run)):
        yield None
        return
    try:
        receiver = Receiver()
    except ReceiverUnavailable as exc:
        log.warning("run %s reads k6's CSV instead: %s", run.pk, exc)
        yield None
        return
    with receiver:
        yield receiver


def _run_k6(
    run: Run, workdir: Path, on_progress: ProgressCallback | None, link: SegmentLink | None, receiver: Receiver | None
) -> K6Stage:
    secrets = unseal(run.sealed_secrets)
    secret_env = secrets.pop("env", {})
    files = _run_files(run)
    k6.prepare_workdir(workdir, files)
    if link is not None:
        link.wait_for_start()  # every segment has read the credentials by now
    if link is None or link.coordinator:
        Run.objects.filter(pk=run.pk).update(sealed_secrets="")  # k6 has them now; nothing keeps them after
    limits = {"max_endpoints": settings.MAX_ENDPOINTS, "max_failed_samples": settings.MAX_FAILED_SAMPLES}
    ingester = (
        RemoteWriteIngester(receiver, **limits)
        if receiver is not None
        else SampleIngester(workdir / k6.SAMPLES_NAME, keep_second_histograms=link is not None, **limits)
    )
    hidden = secret_values({**secrets, "env": secret_env}) + ([receiver.token] if receiver else [])  # k6 names its output
    ticker = _Ticker(run, ingester, workdir, on_progress, hidden, link)
    budget_s = run.planned_duration_s + run.graceful_stop_s
    launch = _launch(run, secret_env, link.segment if link else (0, 1), receiver.url if receiver else "")
    outcome = k6.execute(
        workdir, budget_s, ticker, on_start=lambda pid: _start(run, ticker, pid), secrets=secrets or None, launch=launch
    )
    log_text = redact(k6.clean_paths(outcome.log.text(), workdir), ticker.secrets)  # k6 may quote a URL with its token
    summary = None
    if link is None:
        ingester.finish()
        log_text = _noted(log_text, ingester.notes())
    else:
        with link.beating():
            ingester.finish()
            link.finish(outcome, ingester, log_text, ticker.over_limit)
            if not link.coordinator:
                return K6Stage(outcome, ingester, {}, None)
            merged = link.merged(run, outcome, log_text, ticker.over_limit)
        outcome, ingester, summary, log_text = merged.outcome, merged.ingester, merged.summary, merged.log
        ticker.ingester, ticker.link, ticker.over_limit = ingester, None, merged.error
    retry_through_outage(lambda: ticker.flush(outcome.elapsed_s), "publishing the last seconds")
    run.k6_exit_code = outcome.exit.code
    run.k6_exit_reason = outcome.exit.meaning
    run.log = log_text
    retry_through_outage(lambda: _keep_artifacts(run, workdir, files, ticker.secrets), "keeping the files the script wrote")
    run.k6_pid = None
    run.error = ticker.over_limit or run.error
    _record_stage(run, "k6", outcome.elapsed_s)
    fields = ["k6_exit_code", "k6_exit_reason", "log", "stage_durations_s", "k6_pid", "error"]
    retry_through_outage(lambda: run.save(update_fields=fields), "storing k6's exit")
    return K6Stage(outcome, ingester, ticker.cpu.summary() if ticker.cpu else {}, summary)


def _start(run: Run, ticker: _Ticker, pid: int) -> None:
    ticker.cpu = CpuSampler(pid)
    ticker.k6_pid = pid
    if ticker.link is not None and not ticker.link.coordinator:
        return  # a segment's process is in its own row (runs/segments.py)
    # Lets the reaper find and kill k6 if this worker dies; each heartbeat writes it again (after an outage too).
    run.k6_pid, run.worker_host = pid, socket.gethostname()
    try:
        Run.objects.filter(pk=run.pk).update(k6_pid=pid, worker_host=run.worker_host)
    except TRANSIENT:
        drop_connection()


class _Ticker:
    """Runs every tick of the k6 supervisor: ingest, publish progress, enforce limits, heartbeat, notice a cancel.

    While the database is unreachable k6 goes on: nothing is written, what could not be published waits
    (the seconds in the ingester, log lines in a bounded buffer), and every write is tried again with
    backoff. Only an outage longer than OUTAGE_TOLERANCE_S stops k6.
    """

    MAX_LOG_LINES_PER_TICK = 50
    MAX_PENDING_LOG_LINES = 1000

    def __init__(
        self,
        run: Run,
        ingester: SampleIngester,
        workdir: Path,
        on_progress: ProgressCallback | None,
        secrets: list[str],
        link: SegmentLink | None = None,
    ) -> None:
        self.run, self.ingester, self.workdir, self.on_progress = run, ingester, workdir, on_progress
        self.secrets = secrets
        self.link = link  # a split run's segment: the other segments' state joins in (runs/segments.py)
        self.k6_pid: int | None = None
        self.last_beat = 0.0
        self.last_point_t = -1
        self.cancel = False
        self.over_limit = ""  # why the supervisor stopped k6, when a limit did
        self.cpu: CpuSampler | None = None
        self.pending_log: list[str] = []
        self.pending_dropped = 0
        self.outage_since: float | None = None  # monotonic time the database was first found unreachable
        self.retry_at = 0.0
        self.retry_delay_s = 0.0

    def __call__(self, elapsed_s: float, log: LogCapture) -> str | None:
        self.ingester.poll()
        if self.cpu:
            self.cpu.sample()
        self._collect_log(log)
        self.over_limit = self.over_limit or self._limit_breach()
        if self.over_limit:
            return "over_limit"
        if shutdown.requested():
            return "shutdown"
        if time.monotonic() >= self.retry_at:
            try:
                self._write(elapsed_s)
            except TRANSIENT as exc:
                return self._database_down(exc)
            self._database_up()
        return "cancel" if self.cancel else None

    def _write(self, elapsed_s: float) -> None:
        link = self.link
        if link is None or link.coordinator:  # the run's own log and live view
            self._publish_log()
            self._publish_metrics(elapsed_s)
        if time.monotonic() - self.last_beat < (SEGMENT_BEAT_EVERY_S if link else HEARTBEAT_EVERY_S):
            return
        run = self.run
        if link is None or link.coordinator:
            Run.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now(), k6_pid=run.k6_pid, worker_host=run.worker_host)
            self.cancel = Run.objects.filter(pk=run.pk, cancel_requested=True).exists()
        if link is not None:
            reason = link.beat(self.ingester, self.k6_pid)
            self.cancel = self.cancel or reason == "cancel"
            if reason and reason != "cancel":
                self.over_limit = self.over_limit or reason
        self.last_beat = time.monotonic()

    def _database_down(self, exc: Exception) -> str | None:
        drop_connection()
        now = time.monotonic()
        if self.outage_since is None:
            self.outage_since = now
            log.warning("run %s: database unreachable (%s); k6 goes on, writes wait", self.run.pk, exc)
        self.retry_delay_s = min(max(self.retry_delay_s * 2, 0.5), 5.0)
        self.retry_at = now + self.retry_delay_s
        down_s = now - self.outage_since
        if down_s <= settings.OUTAGE_TOLERANCE_S:
            return None
        self.over_limit = (
            f"k6 was stopped: the database was unreachable for {down_s:.0f} s, longer than "
            f"OUTAGE_TOLERANCE_S={settings.OUTAGE_TOLERANCE_S}."
        )
        return "over_limit"

    def _database_up(self) -> None:
        if self.outage_since is not None:
            log.warning("run %s: database back after %.1f s", self.run.pk, time.monotonic() - self.outage_since)
        self.outage_since, self.retry_delay_s = None, 0.0

    def _limit_breach(self) -> str:
        """The vetted plan and K6_MAX_MEMORY_MB hold at run time too: a script cannot pick bigger options later."""
        vus = self.ingester.max_vus_seen
        if vus > self.run.max_vus:
            return (
                f"k6 was stopped: the test ran {vus} VUs, more than the {self.run.max_vus} its options declared when "
                f"it was checked (MAX_VUS={settings.MAX_VUS}). Partial results are kept."
            )
        rss_mb = self.cpu.k6_rss_bytes / (1024 * 1024) if self.cpu else 0.0
        if rss_mb > settings.K6_MAX_MEMORY_MB:
            return (
                f"k6 was stopped: it used {rss_mb:.0f} MB of memory, more than K6_MAX_MEMORY_MB="
                f"{settings.K6_MAX_MEMORY_MB}. Partial results are kept."
            )
        return ""

    def flush(self, elapsed_s: float) -> None:
        """Once k6 has exited: the last seconds, now complete, so the live tiles end on the final numbers."""
        self._publish_log()
        self._publish_points(self.ingester.timeseries()[self.last_point_t + 1 :], elapsed_s)

    def _publish_metrics(self, elapsed_s: float) -> None:
        if self.link is not None:
            self._publish_points(self.link.live_points(self.ingester, self.last_point_t), elapsed_s)
        else:
            self._publish_points(self.ingester.live_points(self.last_point_t), elapsed_s)

    def _publish_points(self, points: list[dict[str, Any]], elapsed_s: float) -> None:
        remaining_s = max(0.0, self.run.planned_duration_s - elapsed_s)
        totals = self.link.totals(self.ingester) if self.link is not None else self.ingester.totals()
        for point in points:
            live = {**point, **totals, "elapsed_s": round(elapsed_s, 1), "remaining_s": round(remaining_s, 1)}
            events.publish(self.run.pk, "metrics", live)
            self.last_point_t = point["t"]  # only once published: a point an outage kept back goes out later
            if self.on_progress:
                self.on_progress(live)

    def _collect_log(self, log: LogCapture) -> None:
        lines, dropped = log.new_lines()
        self.pending_log += [redact(k6.clean_paths(line, self.workdir), self.secrets) for line in lines]
        overflow = max(0, len(self.pending_log) - self.MAX_PENDING_LOG_LINES)
        self.pending_dropped += dropped + overflow
        del self.pending_log[:overflow]  # the live log is a view; the whole log is stored when k6 ends

    def _publish_log(self) -> None:
        if not self.pending_log and not self.pending_dropped:
            return
        shown = self.pending_log[: self.MAX_LOG_LINES_PER_TICK]
        dropped = self.pending_dropped + len(self.pending_log) - len(shown)
        events.publish(self.run.pk, "log", {"lines": shown, "dropped": dropped})
        self.pending_log, self.pending_dropped = [], 0


def _stage_results(run: Run, stage: K6Stage) -> None:
    started = time.monotonic()
    outcome, ingester, ticker_resources = stage.outcome, stage.ingester, stage.resources
    Run.objects.filter(pk=run.pk).update(stage="results")
    run.stage = "results"
    events.publish(run.pk, "stage", {"status": run.status, "stage": "results"})
    summary = stage.summary if stage.summary is not None else read_summary(outcome.summary_path) or {}
    metrics = summary_metrics(summary)
    checks, groups = summary_checks(summary)
    thresholds = summary_thresholds(summary)
    timeseries = ingester.timeseries()
    delivery = delivery_for(
        _plan(run), metrics, timeseries, Ending(outcome.exit.name, run.log, outcome.elapsed_s), settings.MAX_DROPPED_RATIO
    )
    scorecard = _score(run, summary, metrics, thresholds, delivery)
    RunResult.objects.update_or_create(
        run=run,
        defaults={
            "metrics": metrics,
            "timeseries": timeseries,
            "endpoints": ingester.endpoint_stats(),
            "thresholds": thresholds,
            "checks": checks,
            "groups": group_tree(checks, groups),
            "scenarios": scenario_summaries(ingester.scenario_stats(), thresholds, run.spec or {}),
            "custom_metrics": custom_metrics(metrics, thresholds),
            "failures": ingester.failures(),
            "endpoint_series": ingester.endpoint_series(),
            "sla": scorecard,
            "delivery": delivery,
            "ingest": {**ingester.ingest_info(), "resources": ticker_resources},
        },
    )
    if run.mode == Run.Mode.SCRIPT and not run.spec.get("target") and (origin := ingester.busiest_origin()):
        run.target_url = f"{origin}/"  # what the analyzers look at: where the load went, not a guess from the text
    if delivery["end_reason"] == "threshold_abort":
        run.k6_exit_reason = "A threshold with abortOnFail was crossed: k6 stopped the test before its planned end."
    _record_stage(run, "results", time.monotonic() - started)
    run.save(update_fields=["k6_exit_reason", "stage_durations_s", "target_url"])


def _plan(run: Run) -> Plan:
    executors = (run.spec or {}).get("executors") or []
    arrival_rate = (run.spec or {}).get("preset") == "breakpoint" or any("arrival-rate" in e for e in executors)
    return Plan(run.planned_duration_s, run.graceful_stop_s, run.max_vus, arrival_rate)


def _score(
    run: Run, summary: dict[str, Any], metrics: dict[str, Any], thresholds: list[dict[str, Any]], delivery: dict[str, Any]
) -> dict[str, Any]:
    if not summary:
        return {}
    check_counts = metrics.get("checks", {})
    has_checks = check_counts.get("passes", 0) + check_counts.get("fails", 0) > 0
    delivered = Delivered(thresholds, delivery["dropped_ratio"], delivery["max_dropped_ratio"], delivery["end_reason"])
    return score_run(metrics, has_checks, SlaThresholds(**run.sla_config), delivered)


def _finish(run: Run, outcome: k6.K6Outcome) -> None:
    run.finished_at = timezone.now()
    run.stage = ""
    if outcome.stopped_by == "cancel":
        run.status, run.error = Run.Status.CANCELLED, "Cancelled by a user; the results measured until then are kept."
    elif outcome.stopped_by == "shutdown" or shutdown.requested():  # (k6 may have had the SIGTERM itself first)
        run.status = Run.Status.FAILED
        run.error = (
            "Stopped by shutdown: the worker was asked to stop (SIGTERM) while the test ran, so k6 was stopped "
            "gracefully; the results measured until then are kept. Start the test again when the worker is back."
        )
    elif outcome.stopped_by == "interrupted":
        run.status = Run.Status.FAILED
        run.error = "The worker's time limit for this run was reached and k6 was stopped; partial results are kept."
    elif outcome.stopped_by == "over_limit":
        run.status = Run.Status.FAILED  # the ticker wrote why into run.error
    elif outcome.stopped_by == "memory_ceiling":
        run.status = Run.Status.FAILED
        run.error = (
            f"k6 was stopped by the kernel at its memory ceiling (K6_MAX_MEMORY_MB={settings.K6_MAX_MEMORY_MB}). "
            "Partial results are kept."
        )
    elif outcome.stopped_by == "deadline":
        limit_s = run.planned_duration_s + run.graceful_stop_s + settings.K6_GRACE_S
        run.status = Run.Status.FAILED
        run.error = f"k6 was still running after its wall-clock limit of {limit_s} s and was stopped; partial results are kept."
    elif outcome.exit.outcome == "error":
        run.status, run.error = Run.Status.FAILED, _k6_error(run, outcome.exit)
    elif post_stages():
        run.status, run.finished_at = Run.Status.ANALYZING, None
    else:
        run.status = Run.Status.DONE
    _settle_verdict(run)
    if run.status == Run.Status.ANALYZING:  # the post-k6 stages get a queue message of their own: count from now
        run.dispatched_at, run.dispatch_attempts = None, 0
    fields = ["status", "stage", "error", "finished_at", "verdict", "grade", "score", "dispatched_at", "dispatch_attempts"]
    run.save(update_fields=fields)
    if run.status == Run.Status.ANALYZING:
        # k6's results are stored: pages following the run show them now, before the analyzers finish.
        events.publish(run.pk, "results", {"status": run.status, "stored": "k6"})


def _settle_verdict(run: Run) -> None:
    """The verdict, grade and score a list shows, from the same rules as the result document."""
    result = RunResult.objects.filter(run=run).first()
    verdict = run_verdict(run, result)
    scorecard = stored_scorecard(result)
    graded = verdict is not None and verdict["status"] != NOT_GRADED
    run.verdict = verdict["status"] if verdict else ""
    run.grade = scorecard.get("grade") or "" if graded else ""
    run.score = scorecard.get("score") if graded else None


def _fail(run: Run, message: str, only_if_active: bool = False) -> bool:
    """The run failed with `message`; False when `only_if_active` and it had already ended."""
    runs = Run.objects.filter(pk=run.pk)
    if only_if_active:
        runs = runs.exclude(status__in=Run.TERMINAL)
    # Credentials are erased once k6 has them; a run that fails before that erases them here.
    fields = {"status": Run.Status.FAILED, "error": message, "finished_at": timezone.now(), "sealed_secrets": ""}
    return runs.update(**fields, **NOT_GRADED_FIELDS) > 0


def _record_stage(run: Run, stage: str, seconds: float) -> None:
    run.stage_durations_s = {**run.stage_durations_s, stage: round(seconds, 3)}


def _k6_error(run: Run, exit: k6.K6Exit) -> str:
    detail = _last_k6_error(run.log)
    message = f"k6 exited {exit.code} ({exit.name}): {exit.meaning}"
    return f"{message} {detail}" if detail else message


def _last_k6_error(log_text: str) -> str:
    matches = K6_LOG_MSG.findall(log_text)
    if not matches:
        return ""
    message = matches[-1][1]
    for escaped, plain in (("\\n", "\n"), ("\\t", " "), ('\\"', '"')):
        message = message.replace(escaped, plain)
    return message.strip()


# --- cancelling -------------------------------------------------------------


def run_cancel(run_id: Any) -> Run:
    """Cancel a run: at once if still queued, otherwise k6 is stopped gracefully within a heartbeat."""
    now = timezone.now()
    message = "Cancelled before it started."
    if Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(
        status=Run.Status.CANCELLED, error=message, finished_at=now, cancel_requested=True, **NOT_GRADED_FIELDS
    ):
        run = Run.objects.get(pk=run_id)
        events.publish_end(run)
        return run
    Run.objects.filter(pk=run_id, status__in=[Run.Status.RUNNING, Run.Status.ANALYZING]).update(cancel_requested=True)
    return Run.objects.get(pk=run_id)
