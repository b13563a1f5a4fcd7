"""Read side: the result document that the CLI's --json and the result API return."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from runs.k6 import describe_exit
from runs.models import ApiKey, Run, RunResult


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
    "mode",
    "target_url",
    "status",
    "grade",
    "score",
    "created_at",
    "finished_at",
    "k6_exit_code",
)


def runs_for_listing(runs: QuerySet[Run]) -> QuerySet[Run]:
    """Runs as lists show them: a few columns, with the project and the result's headline metrics
    fetched in one query each. (A join here makes MariaDB sort the runs' large text columns in a
    temporary table: 15 times slower per page.)"""
    headline = RunResult.objects.only("run_id", "metrics")
    return runs.select_related(None).only(*LIST_FIELDS).prefetch_related("project", Prefetch("result", queryset=headline))


def run_links(run: Run) -> dict[str, str]:
    return {
        "self": f"/api/result/{run.pk}",
        "events": f"/api/run/{run.pk}/events",
        "websocket": f"/ws/runs/{run.pk}/",
        "cancel": f"/api/run/{run.pk}/cancel",
        "pdf": f"/api/download/{run.pk}",
        "html": f"/api/download/{run.pk}/html",
        "json": f"/api/download/{run.pk}/json",
        "csv": f"/api/download/{run.pk}/csv",
        "junit": f"/api/download/{run.pk}/junit",
    }


def run_result(run: Run) -> dict[str, Any]:
    result = _result_or_none(run)
    exit_info = describe_exit(run.k6_exit_code) if run.k6_exit_code is not None else None
    sla = result.sla if result else {}
    return {
        "id": str(run.pk),
        "project": run.project.name,
        "mode": run.mode,
        "target_url": run.target_url,
        "status": run.status,
        "stage": run.stage,
        "grade": run.grade or None,
        "grade_label": sla.get("grade_label"),
        "score": run.score,
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
        },
        "config": {"planned_duration_s": run.planned_duration_s, "max_vus": run.max_vus, "spec": run.spec, "sla": run.sla_config},
        "metrics": result.metrics if result else {},
        "sla": sla,
        "thresholds": result.thresholds if result else [],
        "checks": result.checks if result else [],
        "groups": result.groups if result else [],
        "endpoints": result.endpoints if result else [],
        "timeseries": result.timeseries if result else [],
        "failures": result.failures if result else {},
        "analyzers": _analyzers(run),
        **_analysis(run),
        "script": run.script,
        "links": run_links(run),
    }


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
