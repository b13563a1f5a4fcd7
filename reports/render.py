"""The report stage: every file a run is delivered as, written under RESULT_DIR/<run id>/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from reports.exports import csv_export, json_export, junit_export, summary_csv_export
from reports.history import TREND_RUNS
from reports.html import render_html
from reports.pdf import render_pdf
from runs.loadtests import trend, trend_point
from runs.models import Run, RunResult
from runs.purge import run_files_dir

FILES = {
    "pdf": "report.pdf",
    "html": "report.html",
    "json": "result.json",
    "csv": "timeseries.csv",
    "summary_csv": "summary.csv",
    "junit": "junit.xml",
}


def report_path(run_id: object, kind: str) -> Path:
    return run_files_dir(run_id) / FILES[kind]


def render_run(run: Run) -> None:
    from runs.selectors import run_result  # read side of the runs app

    document = _as_finished(run_result(run))
    directory = run_files_dir(run.pk)
    directory.mkdir(parents=True, exist_ok=True)
    _write(report_path(run.pk, "json"), json_export(document))
    _write(report_path(run.pk, "csv"), csv_export(document.get("timeseries") or [], document.get("scenarios") or []))
    _write(report_path(run.pk, "summary_csv"), summary_csv_export(document))
    _write(report_path(run.pk, "junit"), junit_export(document))
    report = {**document, "test_trend": last_runs(run)}  # the reports' own: not part of the result document
    _write(report_path(run.pk, "html"), render_html(report, directory).encode())
    pdf = report_path(run.pk, "pdf")
    render_pdf(report, pdf.with_suffix(".tmp"), directory)
    pdf.with_suffix(".tmp").replace(pdf)


render_run.stage_name = "report"  # type: ignore[attr-defined]


def last_runs(run: Run) -> dict[str, Any] | None:
    """The trend of the run's test over its last TREND_RUNS finished runs up to this one (which is still being
    analyzed), among the runs whoever started it can see, as the trend API would show them."""
    if run.test is None:
        return None
    earlier = _visible_to_submitter(run).filter(test=run.test, created_at__lt=run.created_at, status=Run.Status.DONE)
    ids = list(earlier.order_by("-created_at").values_list("pk", flat=True)[: TREND_RUNS - 1])
    document = trend(run.test, among=Run.objects.filter(pk__in=ids))
    try:
        this_run = trend_point(run, run.test)
    except RunResult.DoesNotExist:  # k6 measured nothing: no point of its own
        return document
    return {**document, "points": [*document["points"], this_run]}


def _visible_to_submitter(run: Run) -> QuerySet[Run]:
    from runs.selectors import runs_visible_to, runs_visible_to_user  # read side of the runs app

    if run.api_key is not None:
        return runs_visible_to(run.api_key)
    if run.owner is not None:
        return runs_visible_to_user(run.owner)
    return Run.objects.all()  # started from the command line, by whoever can read every run


def _as_finished(document: dict[str, Any]) -> dict[str, Any]:
    """The report is the last stage: it describes the run as it ends, not as 'analyzing'."""
    if document["status"] == Run.Status.ANALYZING:
        document = {**document, "status": Run.Status.DONE, "stage": "", "finished_at": timezone.now().isoformat()}
    return document


def _write(path: Path, content: bytes) -> None:
    # Write then rename: a reader never sees half a file.
    partial = path.with_suffix(path.suffix + ".tmp")
    partial.write_bytes(content)
    partial.replace(path)
