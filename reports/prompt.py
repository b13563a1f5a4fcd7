"""What the AI is told: numbers and findings only.

Built from an allow-list of fields, never from the script, the request
headers, raw response headers or settings, so no credential, cookie or key
can reach the prompt.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from reports.insights import QUERY_STRING, RunFacts

INSTRUCTIONS = """You are a senior performance engineer. Analyse this load test of a web service and answer
in the JSON schema given: an executive summary for a manager (3-5 sentences, with the numbers that matter),
the bottlenecks, a risk assessment (level and items), prioritised optimisation guidance (priority 1 first),
scaling advice and security notes. Use only the data below; say so when the data is insufficient.
The verdict below is final: open the executive summary with it and never contradict it (a failed verdict
is never described as a success)."""
MAX_SERIES_POINTS = 30
MAX_NAME_CHARS = 120


def build_prompt(facts: RunFacts, target_url: str, insights: list[dict[str, Any]]) -> str:
    data = {
        "target": _without_query(target_url),
        "verdict": facts.verdict,
        "load_delivered": facts.delivery,
        "failures": [_failure(f) for f in (facts.failures.get("by_reason") or [])[:10]],
        "preset": facts.preset,
        "planned_duration_s": facts.planned_duration_s,
        "metrics": _metrics(facts.metrics),
        "sla": {"score": facts.sla.get("score"), "grade": facts.sla.get("grade"), "criteria": facts.sla.get("criteria", [])},
        "timeseries_highlights": _highlights(facts.timeseries),
        "endpoints": [_endpoint(e) for e in facts.endpoints[:10]],
        "insights": [{k: i[k] for k in ("id", "severity", "title", "evidence")} for i in insights],
        "analyzers": _analyzers(facts.analyzers),
        "load_generator": facts.resources,
    }
    # Script-controlled text (names, k6 messages, threshold labels) can quote URLs: no query string
    # (tokens, keys) reaches the model, whichever field carries it.
    return INSTRUCTIONS + "\n\nDATA:\n" + QUERY_STRING.sub("", orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host  # drops any user:password@
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    keep = ("http_reqs", "http_req_failed", "http_req_duration", "iterations", "checks", "vus_max", "data_received", "data_sent")
    return {name: metrics[name] for name in keep if name in metrics}


def _highlights(series: list[dict[str, Any]]) -> dict[str, Any]:
    busy = [p for p in series if p["rps"] > 0]
    if not busy:
        return {}
    step = max(1, len(series) // MAX_SERIES_POINTS)
    keys = ("t", "vus", "rps", "error_rate", "p50_ms", "p95_ms", "p99_ms")
    return {
        "seconds": len(series),
        "peak_rps": max(busy, key=lambda p: p["rps"]),
        "worst_p95": max(busy, key=lambda p: p["p95_ms"]),
        "worst_error_rate": max(busy, key=lambda p: p["error_rate"]),
        "sampled": [{k: p[k] for k in keys} for p in series[::step]],
    }


def _failure(reason: dict[str, Any]) -> dict[str, Any]:
    return {"status": reason["status"], "error_code": reason["error_code"], "message": reason["message"],
            "meaning": reason["meaning"], "count": reason["count"], "first_seen_s": reason["first_seen_s"]}  # fmt: skip


def _endpoint(endpoint: dict[str, Any]) -> dict[str, Any]:
    # Names come from the script (its `name` tags): capped, and read by the model as data inside JSON strings.
    name = _without_query(endpoint["name"]) if "://" in endpoint["name"] else endpoint["name"]
    return {**endpoint, "name": name[:MAX_NAME_CHARS]}


def _analyzers(analyzers: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for kind, result in analyzers.items():
        entry = {k: result.get(k) for k in ("status", "grade", "score", "summary")}
        if kind == "headers":
            entry["failing_tests"] = [
                t["result"] for t in result.get("tests", []) if t.get("scored") and t.get("modifier", 0) < 0
            ]
        elif kind == "tls":
            entry["caps"] = [c["reason"] for c in result.get("caps", [])]
            entry["protocols"] = result.get("protocols")
        elif kind == "pagetest":
            entry["web_vitals"] = result.get("web_vitals")
        elif kind == "lighthouse":
            entry["scores"] = result.get("scores")
        summary[kind] = entry
    return summary
