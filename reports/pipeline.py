"""The analysis stage (after the analyzers): insights, then the AI, then the sections the report shows.

`analyze_run` is registered in RUN_POST_STAGES; `analysis_for` is what the runs
app reads into the result document.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from reports.ai import ai_analysis
from reports.fallback import sections_from_insights
from reports.insights import RunFacts, insights_for
from reports.models import RunAnalysis
from reports.prompt import build_prompt
from runs import events
from runs.models import Run, RunResult
from runs.selectors import run_verdict


def facts_for(run: Run) -> RunFacts:
    from scanners.pipeline import results_for  # the scanners app's public read function

    try:
        result = run.result
    except RunResult.DoesNotExist:
        result = RunResult(run=run)
    return RunFacts(
        timeseries=result.timeseries,
        metrics=result.metrics,
        sla=result.sla,
        endpoints=result.endpoints,
        analyzers=results_for(run),
        preset=(run.spec or {}).get("preset"),
        planned_duration_s=run.planned_duration_s,
        resources=result.ingest.get("resources", {}),
        max_endpoints=settings.MAX_ENDPOINTS,
        failures=result.failures,
        delivery=result.delivery,
        verdict=run_verdict(run),
    )


def analyze_run(run: Run) -> None:
    facts = facts_for(run)
    insights = insights_for(facts)
    ai = ai_analysis(build_prompt(facts, run.target_url, insights))
    if ai.status == "ok" and ai.sections:
        sections = {**ai.sections, "source": "ai"}
    else:
        fallback = sections_from_insights(run.grade or None, facts.metrics, insights, verdict=facts.verdict)
        sections = {**fallback, "source": "insights"}
    RunAnalysis.objects.update_or_create(run=run, defaults={"insights": insights, "ai": ai.as_dict(), "sections": sections})
    events.publish(run.pk, "results", {"status": run.status, "stored": "analysis"})  # pages following the run show it now


analyze_run.stage_name = "analysis"  # type: ignore[attr-defined]


def analysis_for(run: Run) -> dict[str, Any]:
    try:
        analysis = run.analysis
    except RunAnalysis.DoesNotExist:
        return {"insights": [], "ai": None, "analysis": None}
    return {"insights": analysis.insights, "ai": analysis.ai, "analysis": analysis.sections}
