"""The generated files of a run as downloads, shared by the API and the browser UI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.http import HttpResponse
from django.utils.http import content_disposition_header

from runs.models import Run, RunArtifact
from runs.purge import run_files_dir

# kind -> (file name under RESULT_DIR/<run>/, content type, what it is)
DOWNLOADS = {
    "pdf": ("report.pdf", "application/pdf", "the PDF report"),
    "html": ("report.html", "text/html; charset=utf-8", "the HTML report"),
    "json": ("result.json", "application/json", "the JSON export"),
    "csv": ("timeseries.csv", "text/csv; charset=utf-8", "the CSV time series"),
    "summary_csv": ("summary.csv", "text/csv; charset=utf-8", "the CSV summary"),
    "junit": ("junit.xml", "application/xml", "the JUnit XML"),
}


class DownloadMissing(LookupError):
    """No such kind, or the file is not written yet; the message says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Download:
    path: Path
    content_type: str
    filename: str


def run_download(run: Run, kind: str) -> Download:
    if kind not in DOWNLOADS:
        raise DownloadMissing("not_found", f"No export {kind!r}; choose one of {', '.join(DOWNLOADS)}.")
    name, content_type, what = DOWNLOADS[kind]
    path = run_files_dir(run.pk) / name
    if not path.is_file():
        message = f"{what.capitalize()} of run {run.pk} does not exist yet; it is written after the run's report stage."
        raise DownloadMissing("not_ready", message)
    return Download(path, content_type, f"k6intel-{run.pk}-{name}")


def available_downloads(run: Run) -> list[str]:
    directory = run_files_dir(run.pk)
    return [kind for kind, (name, _, _) in DOWNLOADS.items() if (directory / name).is_file()]


def download_url(run_id: object, kind: str) -> str:
    """The API address of a generated file (the PDF keeps the path of the system this replaces)."""
    return f"/api/download/{run_id}" if kind == "pdf" else f"/api/download/{run_id}/{kind}"


def run_artifact(run: Run, name: str) -> RunArtifact:
    """A file the run's handleSummary wrote; DownloadMissing names the ones there are."""
    try:
        return run.artifacts.get(name=name)
    except RunArtifact.DoesNotExist:
        names = list(run.artifacts.values_list("name", flat=True))
        kept = f"it kept {', '.join(names)}" if names else "it kept none"
        raise DownloadMissing("not_found", f"Run {run.pk} has no file {name!r} from its handleSummary; {kept}.") from None


def artifact_listing(run: Run) -> list[dict[str, object]]:
    """The files the run's handleSummary wrote, with where the API serves each."""
    rows = run.artifacts.values_list("name", "size_bytes")
    return [{"name": name, "size_bytes": size, "url": f"/api/runs/{run.pk}/artifacts/{name}"} for name, size in rows]


def artifact_response(artifact: RunArtifact) -> HttpResponse:
    """The file as a download, never rendered here: a script's HTML must not run on this site's origin."""
    response = HttpResponse(bytes(artifact.content), content_type="application/octet-stream")
    filename = f"k6intel-{artifact.run_id}-{artifact.name.replace('/', '_')}"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["Content-Security-Policy"] = "sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response
