"""The analysis sections written from the insights, when the AI is not configured or did not answer."""

from __future__ import annotations

from typing import Any

RISK_BY_GRADE = {"A": "low", "B": "medium", "C": "high", "F": "critical"}


def sections_from_insights(grade: str | None, metrics: dict[str, Any], insights: list[dict[str, Any]]) -> dict[str, Any]:
    serious = [i for i in insights if i["severity"] in ("critical", "warning")]
    return {
        "executive_summary": _summary(grade, metrics, serious),
        "bottlenecks": [i["title"] for i in serious if not i["id"].startswith(("security", "tls", "certificate"))],
        "risk_assessment": {"level": RISK_BY_GRADE.get(grade or "F", "critical"), "items": [i["title"] for i in serious]},
        "optimization_guidance": [
            {"priority": rank, "action": i["recommendation"], "impact": i["title"]} for rank, i in enumerate(serious, start=1)
        ],
        "scaling_advice": _scaling(insights),
        "security_notes": [i["recommendation"] for i in insights if i["id"].startswith(("security", "tls", "certificate"))],
    }


def _summary(grade: str | None, metrics: dict[str, Any], serious: list[dict[str, Any]]) -> str:
    requests = metrics.get("http_reqs", {})
    duration = metrics.get("http_req_duration", {})
    failed = metrics.get("http_req_failed", {}).get("rate", 0.0)
    text = (
        f"The run graded {grade or 'ungraded'}: {requests.get('count', 0)} requests at {requests.get('rate', 0):.1f}/s, "
        f"{failed:.1%} failed, p95 {duration.get('p95', 0):.0f} ms."
    )
    if serious:
        text += " Main findings: " + "; ".join(i["title"] for i in serious[:3]) + "."
    else:
        text += " No rule found a problem worth acting on."
    return text


def _scaling(insights: list[dict[str, Any]]) -> str:
    by_id = {i["id"]: i for i in insights}
    if "breaking_point" in by_id:
        return by_id["breaking_point"]["recommendation"]
    if "throughput_limit" in by_id:
        return by_id["throughput_limit"]["recommendation"]
    return "No saturation was observed at this load; test at a higher level to find the limit."
