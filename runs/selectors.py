"""Read side: the result document that the CLI's --json and the result API return."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from runs.api.downloads import artifact_listing, available_downloads, download_url
from runs.engine.k6_codes import describe_exit
from runs.engine.remotewrite import PERCENTILES_NOTE
from runs.engine.results import custom_metrics, group_tree, request_timings
from runs.engine.verdict import NOT_GRADED, VerdictFacts, verdict_for
from runs.loadtests import sees
from runs.models import ApiKey, Run, RunResult, RunSegment


def runs_visible_to(key: ApiKey) -> QuerySet[Run]:
    """An admin key sees every run; any other key only the runs it submitted."""
    runs = Run.objects.select_related("project")
    return runs if key.is_admin else runs.filter(api_key=key)


def runs_visible_to_user(user: Any) -> QuerySet[Run]:
    """Staff see every run; any other signed-in user only the runs they started in the browser."""
    runs = Run.objects.select_related("project")
    if not user.is_authenticated:
        return runs.none()
    return runs if user.is_staff else runs.filter(owner=user)


LIST_FIELDS = (
    "id",
    "project",
    "test",
    "labels",
    "mode",
    "target_url",
    "status",
    "verdict",
    "grade",
    "score",
    "created_at",
    "finished_at",
    "k6_exit_code",
)


def runs_for_listing(runs: QuerySet[Run], headline_metrics: bool = True) -> QuerySet[Run]:
    """Runs as lists show them: a few columns, with the project and (for the pages that show them)
    the result's headline metrics fetched in one query each. (A join here makes MariaDB sort the
    runs' large text columns in a temporary table: 15 times slower per page.)"""
    runs = runs.select_related(None).only(*LIST_FIELDS).prefetch_related("project", "test")
    if headline_metrics:
        runs = runs.prefetch_related(Prefetch("result", queryset=RunResult.objects.only("run_id", "metrics")))
    return runs


def headline_metrics(run: Run) -> dict[str, Any] | None:
    """What a list row shows of a run's numbers (its result prefetched by runs_for_listing)."""
    result = _result_or_none(run)
    if result is None:
        return None
    metrics = result.metrics
    duration = metrics.get("http_req_duration") or {}
    return {
        "p50_ms": duration.get("med"),
        "p95_ms": duration.get("p95"),
        "p99_ms": duration.get("p99"),
        "rps": (metrics.get("http_reqs") or {}).get("rate"),
        "error_rate": (metrics.get("http_req_failed") or {}).get("rate"),
        "checks_rate": (metrics.get("checks") or {}).get("rate"),
        "requests": (metrics.get("http_reqs") or {}).get("count"),
    }


def run_links(run: Run) -> dict[str, str]:
    """Where to follow and fetch the run. Report files are linked only once they exist."""
    links = {
        "self": f"/api/result/{run.pk}",
        "events": f"/api/run/{run.pk}/events",
        "websocket": f"/ws/runs/{run.pk}/",
    }
    if run_is_cancellable(run):
        links["cancel"] = f"/api/run/{run.pk}/cancel"
    return {**links, **{kind: download_url(run.pk, kind) for kind in available_downloads(run)}}


def run_is_cancellable(run: Run) -> bool:
    """Cancel stops k6: it applies while the run waits or k6 runs, not to the analysis after it."""
    return run.status == Run.Status.QUEUED or (run.status == Run.Status.RUNNING and run.stage in ("", "k6"))


def run_verdict(run: Run, result: RunResult | None = None) -> dict[str, Any] | None:
    result = result or _result_or_none(run)
    facts = VerdictFacts(
        status=run.status,
        error=run.error,
        scorecard=stored_scorecard(result),
        delivery=result.delivery if result else {},
        has_result=result is not None,
    )
    return verdict_for(facts)


def run_result(run: Run) -> dict[str, Any]:
    result = _result_or_none(run)
    collection = (result.ingest or {}).get("collection", "detailed") if result else None
    exit_info = describe_exit(run.k6_exit_code) if run.k6_exit_code is not None else None
    verdict = run_verdict(run, result)
    graded = verdict is not None and verdict["status"] != NOT_GRADED
    sla = _scorecard_shown(stored_scorecard(result), graded)
    metrics = result.metrics if result else {}
    return {
        "verdict": verdict,
        "id": str(run.pk),
        "project": run.project.name,
        "test": _test(run),
        "labels": run.labels,
        "mode": run.mode,
        "target_url": run.target_url,
        "status": run.status,
        "stage": run.stage,
        "grade": sla.get("grade"),
        "grade_label": sla.get("grade_label"),
        "score": sla.get("score"),
        "error": run.error or None,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "heartbeat_at": _iso(run.heartbeat_at),
        "stage_durations_s": run.stage_durations_s,
        "k6": {
            "exit_code": run.k6_exit_code,
            "exit_reason": run.k6_exit_reason or None,
            "exit_name": exit_info.name if exit_info else None,
            "segments": _segments(run),
            # how its samples reached the worker (K6_SAMPLE_COLLECTION): what per-second and per-endpoint
            # percentiles are read from; runs before the lean collection were all read from CSV
            "collection": collection,
            "collection_note": PERCENTILES_NOTE if collection == "lean" else None,
        },
        "config": {
            "planned_duration_s": run.planned_duration_s,
            "max_vus": run.max_vus,
            "segments": run.segments,
            "spec": run.spec,
            "sla": run.sla_config,
        },
        "metrics": metrics,
        "sla": sla,
        "delivery": result.delivery if result else {},
        "timings": request_timings(metrics),
        "scenarios": result.scenarios if result else [],
        "custom_metrics": _custom_metrics(result),
        "thresholds": result.thresholds if result else [],
        "checks": result.checks if result else [],
        "groups": _group_tree(result),
        "endpoints": result.endpoints if result else [],
        "timeseries": result.timeseries if result else [],
        "failures": result.failures if result else {},
        "endpoint_series": result.endpoint_series if result else {},
        "analyzers": _analyzers(run),
        **_analysis(run),
        "comparison": run.comparison or None,
        "script": run.script,
        "artifacts": artifact_listing(run),
        "links": run_links(run),
    }


def _segments(run: Run) -> list[dict[str, Any]]:
    """A split run's k6 processes: where each ran and how it ended (its own exit, before the merge)."""
    if run.segments <= 1:
        return []
    parts = RunSegment.objects.filter(run=run).only("index", "worker", "status", "k6_exit_code", "error")
    return [
        {"segment": p.index + 1, "worker": p.worker, "status": p.status, "exit_code": p.k6_exit_code, "error": p.error or None}
        for p in parts
    ]


def _test(run: Run) -> dict[str, Any] | None:
    test = run.test
    if test is None:
        return None
    # A baseline someone else submitted stays out of this run's document (its id included).
    baseline = test.baseline if test.baseline is not None and sees(run, test.baseline) else None
    return {
        "id": test.pk,
        "name": test.name,
        "baseline_id": str(baseline.pk) if baseline else None,
        "is_baseline": test.baseline_id == run.pk,
        "links": {"self": f"/api/tests/{test.pk}", "trend": f"/api/tests/{test.pk}/trend"},
    }


def stored_scorecard(result: RunResult | None) -> dict[str, Any]:
    # Scorecards stored before verdicts existed were brought to this shape by migration 0007.
    return result.sla if result is not None else {}


def _scorecard_shown(scorecard: dict[str, Any], graded: bool) -> dict[str, Any]:
    """A run that is not graded shows what was measured, but no score, grade or pass anywhere."""
    if graded or not scorecard:
        return scorecard
    criteria = [{**c, "points": None} for c in scorecard.get("criteria", [])]
    return {**scorecard, "criteria": criteria, "score": None, "grade": None, "grade_label": None, "passed": None, "graded": False}


def _custom_metrics(result: RunResult | None) -> list[dict[str, Any]]:
    if result is None:
        return []
    # Results stored before custom metrics were (with their thresholds) have them in their metrics.
    return result.custom_metrics or custom_metrics(result.metrics, result.thresholds)


def _group_tree(result: RunResult | None) -> list[dict[str, Any]]:
    if result is None:
        return []
    if all(isinstance(group, dict) for group in result.groups):
        return result.groups
    return group_tree(result.checks, result.groups)  # stored before groups were a tree: a list of paths


def _analyzers(run: Run) -> dict[str, Any]:
    from scanners.pipeline import results_for  # the scanners app's public read function

    return results_for(run)


def _analysis(run: Run) -> dict[str, Any]:
    from reports.pipeline import analysis_for  # the reports app's public read function

    return analysis_for(run)


def _result_or_none(run: Run) -> RunResult | None:
    try:
        return run.result
    except RunResult.DoesNotExist:
        return None


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None
