"""Plain-text rendering of a result for the terminal."""

from __future__ import annotations

from typing import Any


def format_progress(point: dict[str, Any]) -> str:
    return (
        f"[{point['elapsed_s']:>6.1f}s] vus {point['vus']:>4}  rps {point['rps']:>6}  "
        f"errors {point['error_rate']:>6.1%}  p95 {point['p95_ms']:>8.1f} ms  "
        f"iterations {point['iterations']:>6}  remaining {point['remaining_s']:>6.1f}s"
    )


def format_summary(doc: dict[str, Any]) -> str:
    lines = _headline(doc)
    metrics = doc["metrics"]
    if metrics.get("http_reqs", {}).get("count"):
        lines += _metrics(metrics) + _scorecard(doc["sla"]) + _endpoints(doc["endpoints"]) + _thresholds(doc["thresholds"])
    return "\n".join(lines) + "\n"


def _headline(doc: dict[str, Any]) -> list[str]:
    grade = f"grade {doc['grade']} ({doc['score']}, {doc['grade_label']})" if doc["grade"] else "not graded"
    k6 = doc["k6"]
    lines = [f"Run {doc['id']} · project {doc['project']} · {doc['status']} · {grade}"]
    if k6["exit_code"] is not None:
        lines.append(f"k6 exit {k6['exit_code']} ({k6['exit_name']}): {k6['exit_reason']}")
    if doc["error"]:
        lines.append(f"Error: {doc['error']}")
    for reason in doc["sla"].get("reasons", []):
        lines.append(f"SLA: {reason}")
    return lines


def _metrics(metrics: dict[str, Any]) -> list[str]:
    reqs, failed, dur = metrics["http_reqs"], metrics["http_req_failed"], metrics["http_req_duration"]
    checks = metrics.get("checks")
    latency = "  ".join(f"{key} {dur[key]:.1f}" for key in ("avg", "min", "med", "p90", "p95", "p99", "max"))
    return [
        "",
        f"Requests     {reqs['count']} ({reqs['rate']:.1f}/s)   failed {failed['rate']:.2%}",
        f"Latency ms   {latency}",
        f"Checks       {checks['rate']:.2%}" if checks else "Checks       none in the script",
        f"Iterations   {metrics['iterations']['count']}   VUs max {metrics.get('vus_max', {}).get('max', '?')}",
    ]


def _scorecard(sla: dict[str, Any]) -> list[str]:
    lines = ["", f"{'SLA criterion':<20}{'value':>12}  {'threshold':<14}{'met':<5}{'points':>8}"]
    for c in sla.get("criteria", []):
        threshold = f"{c['comparator']} {c['threshold']:.4g}"
        lines.append(
            f"{c['label']:<20}{c['value']:>12.4g}  {threshold:<14}{'yes' if c['met'] else 'NO':<5}{c['points']:>5.1f}/{c['max_points']:.0f}"
        )
    return lines


def _endpoints(endpoints: list[dict[str, Any]]) -> list[str]:
    lines = ["", f"{'Endpoint':<48}{'method':<8}{'status':<7}{'count':>8}{'err':>8}{'p50':>9}{'p95':>9}{'p99':>9}"]
    for e in endpoints[:10]:
        lines.append(
            f"{e['name'][:47]:<48}{e['method']:<8}{e['status']:<7}{e['count']:>8}{e['error_rate']:>8.1%}"
            f"{e['p50_ms']:>9.1f}{e['p95_ms']:>9.1f}{e['p99_ms']:>9.1f}"
        )
    return lines


def _thresholds(thresholds: list[dict[str, Any]]) -> list[str]:
    if not thresholds:
        return []
    return ["", "Thresholds"] + [f"  {'ok  ' if t['ok'] else 'FAIL'} {t['metric']}: {t['expression']}" for t in thresholds]
