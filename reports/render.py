"""The report stage: every file a run is delivered as, written under RESULT_DIR/<run id>/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.utils import timezone

from reports.exports import csv_export, json_export, junit_export, summary_csv_export
from reports.html import render_html
from reports.pdf import render_pdf
from runs.models import Run
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
    _write(report_path(run.pk, "html"), render_html(document, directory).encode())
    pdf = report_path(run.pk, "pdf")
    render_pdf(document, pdf.with_suffix(".tmp"), directory)
    pdf.with_suffix(".tmp").replace(pdf)


render_run.stage_name = "report"  # type: ignore[attr-defined]


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
