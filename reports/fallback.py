"""The analysis sections written from the insights, when the AI is not configured or did not answer."""

from __future__ import annotations

from typing import Any

from runs.engine.formatting import percent

RISK_BY_GRADE = {"A": "low", "B": "medium", "C": "high", "F": "critical"}
RISK_ORDER = ("low", "medium", "high", "critical")
VERDICT_REASONS_SHOWN = 3


def sections_from_insights(
    grade: str | None, metrics: dict[str, Any], insights: list[dict[str, Any]], verdict: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`verdict` is the run's verdict ({status, headline, reasons}); with it the summary opens with it."""
    serious = [i for i in insights if i["severity"] in ("critical", "warning")]
    return {
        "executive_summary": _summary(grade, metrics, serious, verdict),
        "bottlenecks": [i["title"] for i in serious if not i["id"].startswith(("security", "tls", "certificate"))],
        "risk_assessment": {"level": _risk(grade, verdict), "items": [i["title"] for i in serious]},
        "optimization_guidance": [
            {"priority": rank, "action": i["recommendation"], "impact": i["title"]} for rank, i in enumerate(serious, start=1)
        ],
        "scaling_advice": _scaling(insights),
        "security_notes": [i["recommendation"] for i in insights if i["id"].startswith(("security", "tls", "certificate"))],
    }


def _risk(grade: str | None, verdict: dict[str, Any] | None) -> str:
    level = RISK_BY_GRADE.get(grade or "F", "critical")
    if verdict and verdict["status"] == "failed":
        # A failed verdict (a k6 threshold, test.fail()) is at least a high risk, whatever the points add up to.
        level = max(level, "high", key=RISK_ORDER.index)
    return level


def _summary(grade: str | None, metrics: dict[str, Any], serious: list[dict[str, Any]], verdict: dict[str, Any] | None) -> str:
    requests = metrics.get("http_reqs", {})
    duration = metrics.get("http_req_duration", {})
    failed = metrics.get("http_req_failed", {}).get("rate", 0.0)
    text = (
        f"{_opening(grade, verdict)}: {requests.get('count', 0)} requests at {requests.get('rate', 0):.1f}/s, "
        f"{percent(failed)} failed, p95 {duration.get('p95', 0):.0f} ms."
    )
    if verdict and verdict["status"] != "passed":
        text += " " + " ".join(verdict["reasons"][:VERDICT_REASONS_SHOWN])
    if serious:
        text += " Main findings: " + "; ".join(i["title"] for i in serious[:3]) + "."
    elif verdict and verdict["status"] == "failed":
        text += " The insight rules add nothing to the reasons above."
    else:
        text += " No rule found a problem worth acting on."
    return text


def _opening(grade: str | None, verdict: dict[str, Any] | None) -> str:
    if verdict is None:
        return f"The run graded {grade}" if grade else "The run was not graded"
    if verdict["status"] == "not_graded":
        return "The run was not graded"
    outcome = "passed" if verdict["status"] == "passed" else "failed"
    return f"The run {outcome} (grade {grade})" if grade else f"The run {outcome}"


def _scaling(insights: list[dict[str, Any]]) -> str:
    by_id = {i["id"]: i for i in insights}
    if "breaking_point" in by_id:
        return by_id["breaking_point"]["recommendation"]
    if "throughput_limit" in by_id:
        return by_id["throughput_limit"]["recommendation"]
    return "No saturation was observed at this load; test at a higher level to find the limit."
