"""What the run page shows: the result document arranged for the template and the charts."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from runs.engine import formatting
from runs.engine.charts import live_charts, run_charts
from runs.engine.results import group_rows
from runs.events import last_event_seq
from runs.models import Run
from runs.selectors import run_is_cancellable as is_cancellable
from runs.selectors import run_result
from runs.web.comparisons import run_belonging

# The stepper: (key, label). A run passes through them in order; post-k6 stages are named by RUN_POST_STAGES.
STEPS = (
    ("queued", "Queued"),
    ("k6", "Load test"),
    ("results", "Results"),
    ("analyzers", "Analyzers"),
    ("analysis", "Analysis"),
    ("report", "Report"),
    ("done", "Done"),
)
ANALYZER_TABS = (("headers", "Security headers"), ("tls", "SSL/TLS"), ("pagetest", "Page test"), ("lighthouse", "Lighthouse"))
PAGETEST_METRICS = (
    ("ttfb_ms", "Time to first byte (ms)"),
    ("fcp_ms", "First contentful paint (ms)"),
    ("lcp_ms", "Largest contentful paint (ms)"),
    ("speed_index_ms", "Speed Index (ms)"),
    ("dcl_ms", "DOMContentLoaded (ms)"),
    ("load_ms", "Load (ms)"),
    ("cls", "Cumulative layout shift"),
    ("tbt_ms", "Total blocking time (ms)"),
    ("inp_ms", "Interaction to next paint (ms)"),
    ("bytes", "Bytes"),
    ("requests", "Requests"),
)


def run_page_context(run: Run, downloads: list[str], visible: QuerySet[Run]) -> dict[str, Any]:
    """`visible`: the runs the user may see; the test's baseline and comparisons are shown only from those."""
    rendered_seq = last_event_seq(run.pk)  # before reading: anything stored later makes the page reload
    document = run_result(run)
    analyzers = document.get("analyzers") or {}
    return {
        "run": run,
        "doc": document,
        "live": not run.is_terminal,
        "load_running": run.status in (Run.Status.QUEUED, Run.Status.RUNNING),
        # k6's results are stored before the analyzers start: show them as soon as they exist.
        "show_results": run.status not in (Run.Status.QUEUED, Run.Status.RUNNING) or document["verdict"] is not None,
        "rendered_seq": rendered_seq,
        # A failed or cancelled run's verdict already says why; the page says it once.
        "error_in_verdict": run.status in (Run.Status.FAILED, Run.Status.CANCELLED) and document["verdict"] is not None,
        "cancellable": is_cancellable(run),
        "steps": _steps(run),
        "downloads": [(kind, reverse("run-download", args=[run.pk, kind])) for kind in downloads],
        "tabs": [(kind, title, analyzers.get(kind)) for kind, title in ANALYZER_TABS],
        "pagetest_rows": _pagetest_rows(analyzers.get("pagetest") or {}),
        "filmstrip": _filmstrip(run, analyzers.get("pagetest") or {}),
        "waterfall": _waterfall(analyzers.get("pagetest") or {}),
        **_charts(run, document),
        "group_rows": group_rows(document["groups"], document["checks"]),
        "segments_text": formatting.segments_text(document),
        **run_belonging(run, visible),
    }


def _steps(run: Run) -> list[dict[str, str]]:
    """Each step as done, current or pending; a run that failed or was cancelled marks where it stopped."""
    keys = [key for key, _ in STEPS]
    if run.status == Run.Status.DONE:
        current = "done"
    elif run.status == Run.Status.QUEUED or run.started_at is None:
        current = "queued"
    elif run.stage in keys:
        current = run.stage
    else:  # between stages: the last one it finished, or k6 while it starts
        finished = [key for key in keys if key in run.stage_durations_s]
        current = finished[-1] if finished else "k6"
    position = keys.index(current)
    steps = []
    for index, (key, label) in enumerate(STEPS):
        state = "done" if index < position or run.status == Run.Status.DONE else "current" if index == position else "pending"
        if state == "current" and run.status in (Run.Status.FAILED, Run.Status.CANCELLED):
            state = run.status
        steps.append({"key": key, "label": label, "state": state})
    return steps


def _charts(run: Run, document: dict[str, Any]) -> dict[str, Any]:
    """The chart specs the page embeds (live: the overview to fill in), and the charts' places on the page."""
    specs = live_charts() if run.status in (Run.Status.QUEUED, Run.Status.RUNNING) else run_charts(document)
    charts = specs["charts"]
    return {
        "chart_specs": specs,
        "time_charts": [chart for chart in charts if not chart["id"].startswith("scenario-")],
        "scenario_charts": [chart for chart in charts if chart["id"].startswith("scenario-")],
    }


def _pagetest_rows(result: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    if result.get("status") != "ok":
        return []
    first, repeat = result.get("first_view") or {}, result.get("repeat_view") or {}

    def shown(key: str, value: Any) -> Any:
        return formatting.byte_size(value) if key == "bytes" else value

    return [(label, shown(key, first.get(key)), shown(key, repeat.get(key))) for key, label in PAGETEST_METRICS]


def _filmstrip(run: Run, result: dict[str, Any]) -> list[dict[str, Any]]:
    frames = []
    for view in ("first_view", "repeat_view"):
        for frame in (result.get(view) or {}).get("filmstrip") or []:
            url = reverse("run-filmstrip", args=[run.pk, frame["file"]])
            frames.append({"view": view.replace("_", " "), "t_ms": frame["t_ms"], "url": url})
    return frames


def _waterfall(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows with bar offsets as percentages of the page's total time, for a CSS waterfall."""
    rows = (result.get("first_view") or {}).get("waterfall") or []
    if not rows:
        return []
    ends = [row["start_ms"] + _busy_ms(row) for row in rows]
    total_ms = max(max(ends), 1.0)
    return [
        {
            **row,
            "left_percent": round(100 * row["start_ms"] / total_ms, 2),
            "width_percent": max(0.5, round(100 * _busy_ms(row) / total_ms, 2)),
        }
        for row in rows
    ]


def _busy_ms(row: dict[str, Any]) -> float:
    return sum(row.get(key) or 0.0 for key in ("dns_ms", "connect_ms", "tls_ms", "wait_ms", "download_ms"))
