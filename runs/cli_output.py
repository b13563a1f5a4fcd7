"""Plain-text rendering of a result for the terminal: the verdict first, then the numbers behind it."""

from __future__ import annotations

from typing import Any

from runs.engine.formatting import compared_value, custom_value, milliseconds, percent, seconds, segments_text, thresholds_text
from runs.engine.results import without_tag
from runs.engine.scoring import format_value

MAX_ENDPOINT_ROWS = 10
MAX_FAILURE_ROWS = 10


def format_progress(point: dict[str, Any]) -> str:
    return (
        f"[{point['elapsed_s']:>6.1f}s] vus {point['vus']:>4}  rps {point['rps']:>6}  "
        f"errors {percent(point['error_rate']):>8}  p95 {point['p95_ms']:>8.1f} ms  "
        f"iterations {point['iterations']:>6}  remaining {point['remaining_s']:>6.1f}s"
    )


def format_summary(doc: dict[str, Any]) -> str:
    lines = _headline(doc)
    metrics = doc["metrics"]
    if metrics.get("http_reqs", {}).get("count"):
        lines += _metrics(metrics) + _delivery(doc["delivery"]) + _scorecard(doc["sla"])
        lines += _failures(doc["failures"]) + _scenarios(doc.get("scenarios") or []) + _endpoints(doc["endpoints"], doc)
        lines += _timings(doc["timings"])
        lines += _custom(doc["custom_metrics"]) + _thresholds(doc["thresholds"])
    return "\n".join(lines) + "\n"


def verdict_line(doc: dict[str, Any]) -> str:
    verdict = doc.get("verdict")
    if verdict is None:
        return f"Verdict: pending (the run is {doc['status']})"
    grade = f" · grade {doc['grade']} ({doc['score']}, {doc['grade_label']})" if doc["grade"] else ""
    return f"Verdict: {verdict['headline'].upper()}{grade}"


def _headline(doc: dict[str, Any]) -> list[str]:
    lines = [verdict_line(doc)]
    lines += [f"  {reason}" for reason in (doc.get("verdict") or {}).get("reasons", [])]
    lines.append(f"Run {doc['id']} · project {doc['project']} · {doc['status']}")
    k6 = doc["k6"]
    if k6["exit_code"] is not None:
        lines.append(f"k6 exit {k6['exit_code']} ({k6['exit_name']}): {k6['exit_reason']}")
    if split := segments_text(doc):
        lines.append(split)
    reasons = " ".join((doc.get("verdict") or {}).get("reasons", []))
    if doc["error"] and doc["error"] not in reasons:  # a failed run's verdict already quotes it
        lines.append(f"Error: {doc['error']}")
    return lines


def _metrics(metrics: dict[str, Any]) -> list[str]:
    reqs, failed, dur = metrics["http_reqs"], metrics["http_req_failed"], metrics["http_req_duration"]
    checks = metrics.get("checks")
    latency = "  ".join(f"{key} {dur[key]:.1f}" for key in ("avg", "min", "med", "p90", "p95", "p99", "max") if key in dur)
    return [
        "",
        f"Requests     {reqs['count']} ({reqs['rate']:.1f}/s)   failed {percent(failed['rate'])}",
        f"Latency ms   {latency}",
        f"Checks       {percent(checks['rate'])}" if checks else "Checks       none in the script",
    ]


def _delivery(delivery: dict[str, Any]) -> list[str]:
    if not delivery:
        return []
    lines = [
        f"Load         {seconds(delivery['actual_duration_s'])} of {seconds(delivery['planned_duration_s'])} planned "
        f"(+ up to {seconds(delivery['graceful_stop_s'])} graceful stop)   "
        f"VUs {delivery['max_vus_reached']} of {delivery['max_vus_planned']} planned",
        f"Iterations   {delivery['iterations']}",
    ]
    if delivery.get("dropped_ratio") is not None:
        lines[-1] += (
            f"   dropped {delivery['dropped_iterations']} ({percent(delivery['dropped_ratio'])} of planned, "
            f"limit {percent(delivery['max_dropped_ratio'])})"
        )
    return lines


def _scorecard(sla: dict[str, Any]) -> list[str]:
    if not sla.get("criteria"):
        return []
    lines = ["", f"{'Criterion':<44}{'value':>14}  {'limit':<16}{'met':<5}{'points':>8}"]
    for c in sla["criteria"]:
        limit = f"{c['comparator']} {format_value(c['threshold'], c['unit'])}"
        points = f"{c['points']:>5.1f}/{c['max_points']:.0f}" if c["max_points"] else "     cap"
        lines.append(
            f"{c['label'][:43]:<44}{format_value(c['value'], c['unit'])[:14]:>14}  {limit:<16}"
            f"{'yes' if c['met'] else 'NO':<5}{points:>8}"
        )
    return lines


def _failures(failures: dict[str, Any]) -> list[str]:
    reasons = failures.get("by_reason") or []
    if not reasons:
        return []
    lines = ["", f"Failures ({failures['total']})", f"  {'count':>7}  {'first':>6}  reason"]
    for r in reasons[:MAX_FAILURE_ROWS]:
        lines.append(f"  {r['count']:>7}  {r['first_seen_s']:>5}s  {r['message']} — {r['meaning']}".rstrip(" —"))
        if r["sample_urls"]:
            lines.append(f"  {'':>7}  {'':>6}  e.g. {r['sample_urls'][0]}")
    return lines


def _scenarios(scenarios: list[dict[str, Any]]) -> list[str]:
    if len(scenarios) < 2:  # one scenario's numbers are the run's
        return []
    lines = ["", f"{'Scenario':<24}{'executor':<22}{'requests':>9}{'req/s':>9}{'errors':>10}{'p95':>11}{'iters':>8}"]
    for s in scenarios:
        lines.append(
            f"{s['name'][:23]:<24}{(s.get('executor') or '–')[:21]:<22}{s['requests']:>9}{s['rps']:>9.1f}"
            f"{percent(s['error_rate']):>10}{milliseconds(s['p95_ms']):>11}{s['iterations']:>8}"
        )
        if s["thresholds"]:
            shown = [{**t, "metric": without_tag(t["metric"], "scenario")} for t in s["thresholds"]]
            lines.append(f"  {'':<22}thresholds: {thresholds_text(shown, with_metric=True)}")
    return lines


def _endpoints(endpoints: list[dict[str, Any]], doc: dict[str, Any]) -> list[str]:
    lines = ["", f"{'Endpoint':<48}{'method':<8}{'status':<7}{'count':>8}{'errors':>10}{'p50':>9}{'p95':>9}{'p99':>9}"]
    for e in endpoints[:MAX_ENDPOINT_ROWS]:
        lines.append(
            f"{e['name'][:47]:<48}{e['method']:<8}{e['status']:<7}{e['count']:>8}{percent(e['error_rate']):>10}"
            f"{e['p50_ms']:>9.1f}{e['p95_ms']:>9.1f}{e['p99_ms']:>9.1f}"
        )
    if note := (doc.get("k6") or {}).get("collection_note"):
        lines.append(note)
    return lines


def _timings(timings: list[dict[str, Any]]) -> list[str]:
    if not timings:
        return []
    lines = ["", f"{'Request phase':<38}{'avg':>12}{'p95':>12}"]
    return lines + [f"{t['label']:<38}{milliseconds(t['avg_ms']):>12}{milliseconds(t['p95_ms']):>12}" for t in timings]


def _custom(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    lines = ["", "Custom metrics"]
    for row in rows:
        values = "  ".join(f"{key} {custom_value(row['type'], key, value)}" for key, value in row["values"].items())
        lines.append(f"  {row['name']} ({row['type']}): {values}")
        if row.get("thresholds"):
            lines.append(f"    thresholds: {thresholds_text(row['thresholds'])}")
    return lines


def _thresholds(thresholds: list[dict[str, Any]]) -> list[str]:
    if not thresholds:
        return []
    return ["", "Thresholds"] + [f"  {'ok  ' if t['ok'] else 'FAIL'} {t['metric']}: {t['expression']}" for t in thresholds]


COMPARED = ("p50", "p90", "p95", "p99", "rps", "error_rate", "checks", "dropped_iterations")


def format_comparison(comparison: dict[str, Any] | None) -> str:
    """The comparison with the base run: each metric's change, whether it is significant, and the verdict."""
    if not comparison:
        return ""
    if comparison.get("error"):
        return f"\nComparison with {comparison['base_id']}: {comparison['error']}\n"
    lines = [
        "",
        f"Compared with {comparison.get('base_id')} (tolerance {comparison.get('tolerance_pct')} %, p < {comparison.get('alpha')}):",
    ]
    for name in COMPARED:
        if (delta := comparison["metrics"].get(name)) is None:
            continue
        change = f"{delta['delta_pct']:+.1f} %" if delta.get("delta_pct") is not None else f"{delta['delta']:+g}"
        verdict = "REGRESSION" if delta["regression"] else ("significant" if delta["significant"] else "not significant")
        spread = delta.get("spread") or {}
        median = " (medians)" if spread else ""
        lines.append(
            f"  {name:<19} {compared_value(name, delta['base']):>12} → {compared_value(name, delta['run']):>12}  {change:>9}  {verdict}{median}"
        )
    regressions = comparison.get("regressions") or []
    lines.append("Regressions: " + ("; ".join(regressions) if regressions else "none"))
    return "\n".join(lines) + "\n"
