"""Machine-readable exports for CI: the JSON result, the time series and the summary as CSV, and JUnit XML."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree as ET

import orjson

from runs.engine.formatting import compared_value
from runs.engine.results import SAMPLED_PHASES, SCENARIO_SERIES
from runs.engine.scoring import criterion_sentence

CSV_COLUMNS = ("t", "vus", "rps", "error_rate", "p50_ms", "p95_ms", "p99_ms", "iterations")
# Each second's mean request phases and the requests they were read from (empty for runs recorded before).
PHASE_COLUMNS = (*(f"{phase}_ms" for phase in SAMPLED_PHASES), "timing_samples")
SUMMARY_COLUMNS = ("section", "name", "statistic", "value")
SCENARIO_STATISTICS = (
    "executor", "requests", "failed", "error_rate", "rps", "active_s", "p50_ms", "p95_ms", "p99_ms", "max_ms", "iterations",
    "busy_vus_max",
)  # fmt: skip


def json_export(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)


def csv_export(timeseries: list[dict[str, Any]], scenarios: Sequence[dict[str, Any]] = ()) -> bytes:
    """A row per second: the run's numbers, the count of each status, then each scenario's (`scenario:NAME:requests`...)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    statuses = sorted({status for point in timeseries for status in point.get("statuses", {})})
    per_scenario = [(s, key) for s in scenarios for key, _ in SCENARIO_SERIES]
    writer.writerow(
        [
            *CSV_COLUMNS,
            *PHASE_COLUMNS,
            *(f"status_{status}" for status in statuses),
            *(f"scenario:{s['name']}:{key}" for s, key in per_scenario),
        ]
    )
    for index, point in enumerate(timeseries):
        writer.writerow(
            [
                *(point[column] for column in CSV_COLUMNS),
                *(point.get(column, "") for column in PHASE_COLUMNS),
                *(point.get("statuses", {}).get(status, 0) for status in statuses),
                *(s["timeseries"][key][index] for s, key in per_scenario),
            ]
        )
    return out.getvalue().encode()


def summary_csv_export(document: dict[str, Any]) -> bytes:
    """The result as long rows of (section, name, statistic, value): every k6 metric (a custom one with its type),
    each scenario, each threshold (value `passed` or `failed`), each group and each check by its k6 path
    (`::group::sub::check`), so two checks named alike in different groups stay apart."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SUMMARY_COLUMNS)
    writer.writerows(_summary_rows(document))
    return out.getvalue().encode()


def _summary_rows(document: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    kinds = {m["name"]: m["type"] for m in document.get("custom_metrics") or []}
    rows: list[tuple[str, str, str, Any]] = []
    for name, values in sorted((document.get("metrics") or {}).items()):
        rows += [("metric", name, "type", kinds[name])] if name in kinds else []
        rows += [("metric", name, statistic, value) for statistic, value in values.items()]
    for scenario in document.get("scenarios") or []:
        rows += [("scenario", scenario["name"], statistic, scenario.get(statistic)) for statistic in SCENARIO_STATISTICS]
    rows += [
        ("threshold", t["metric"], t["expression"], "passed" if t["ok"] else "failed") for t in document.get("thresholds") or []
    ]
    rows += _group_rows(document.get("groups") or [])
    for check in document.get("checks") or []:
        path = f"{check['group']}::{check['name']}"
        rows += [("check", path, statistic, check[statistic]) for statistic in ("passes", "fails", "rate")]
    return rows


def _group_rows(groups: list[dict[str, Any]]) -> list[tuple[str, str, str, Any]]:
    rows: list[tuple[str, str, str, Any]] = []
    for group in groups:
        rows += [("group", group["path"], statistic, group[statistic]) for statistic in ("passes", "fails", "rate")]
        rows += _group_rows(group["groups"])
    return rows


def junit_export(document: dict[str, Any]) -> bytes:
    """A suite with the verdict's one case, one for the SLA (a case per criterion besides the k6 thresholds),
    one for the k6 thresholds (a case per threshold) and, when the run was compared with its test's baseline,
    one with a case per compared metric (failing on a regression)."""
    root = ET.Element("testsuites", name=f"k6intel run {document['id']}")
    root.append(_verdict_suite(document))
    root.append(_sla_suite(document))
    root.append(_thresholds_suite(document))
    if (document.get("comparison") or {}).get("metrics"):
        root.append(_comparison_suite(document))
    for total in ("tests", "failures", "errors"):
        root.set(total, str(sum(int(suite.get(total, "0")) for suite in root)))
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _suite(name: str, document: dict[str, Any]) -> ET.Element:
    return ET.Element(
        "testsuite",
        name=name,
        timestamp=(document.get("finished_at") or document.get("created_at") or "")[:19],
        time=str(round(sum(document.get("stage_durations_s", {}).values()), 3)),
        errors="0",
        skipped="0",
    )


def _verdict_suite(document: dict[str, Any]) -> ET.Element:
    """Passed, a failure (failed) or an error (not graded: the run could not be judged), with the verdict's reasons."""
    suite = _suite("Verdict", document)
    case = ET.SubElement(suite, "testcase", name="Verdict", classname="k6intel.verdict", time="0")
    verdict = document.get("verdict")
    if verdict is None:
        ET.SubElement(case, "skipped", message="The run has no verdict yet.")
    elif verdict["status"] != "passed":
        message = f"{verdict['headline']}: {' '.join(verdict['reasons'])}"
        element = "failure" if verdict["status"] == "failed" else "error"
        ET.SubElement(case, element, message=message, type=verdict["status"]).text = "\n".join(verdict["reasons"])
    suite.set("tests", "1")
    suite.set("failures", str(len(case.findall("failure"))))
    suite.set("errors", str(len(case.findall("error"))))
    suite.set("skipped", str(len(case.findall("skipped"))))
    return suite


def _sla_suite(document: dict[str, Any]) -> ET.Element:
    suite = _suite(f"SLA ({document.get('project')})", document)
    # k6 thresholds have their own suite; a case here too would count each failed threshold twice.
    criteria = [c for c in document.get("sla", {}).get("criteria", []) if c.get("kind", "sla") != "threshold"]
    for criterion in criteria:
        case = ET.SubElement(suite, "testcase", name=criterion["label"], classname="k6intel.sla", time="0")
        if not criterion["met"]:
            # The verdict's own sentence, so CI and the reports word a miss alike.
            message = criterion_sentence(criterion)
            ET.SubElement(case, "failure", message=message, type="SLA").text = _missed_detail(criterion)
    if not criteria:
        case = ET.SubElement(suite, "testcase", name="SLA evaluated", classname="k6intel.sla", time="0")
        reason = "; ".join(document.get("sla", {}).get("reasons", [])) or "the run produced no scorecard"
        ET.SubElement(case, "failure", message=reason, type="SLA").text = reason
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(sum(1 for case in suite if case.find("failure") is not None)))
    return suite


def _missed_detail(criterion: dict[str, Any]) -> str:
    if criterion["points"] is None:  # a run that is not graded earns no points
        return criterion_sentence(criterion)
    if not criterion["max_points"]:
        return f"{criterion_sentence(criterion)} (caps the grade)"
    return f"{criterion_sentence(criterion)} ({criterion['points']:.1f} of {criterion['max_points']:.0f} points)"


def _thresholds_suite(document: dict[str, Any]) -> ET.Element:
    suite = _suite("k6 thresholds", document)
    metrics = document.get("metrics", {})
    for threshold in document.get("thresholds", []):
        case = ET.SubElement(
            suite, "testcase", name=f"{threshold['metric']}: {threshold['expression']}", classname="k6intel.thresholds", time="0"
        )
        if not threshold["ok"]:
            # A sub-metric (http_req_duration{status:200}) has its own values when k6 exported them.
            observed = metrics.get(threshold["metric"]) or metrics.get(threshold["metric"].split("{")[0], {})
            message = f"{threshold['metric']} {threshold['expression']} failed; observed {_observed(observed)}"
            ET.SubElement(case, "failure", message=message, type="threshold").text = message
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(sum(1 for case in suite if case.find("failure") is not None)))
    return suite


def _comparison_suite(document: dict[str, Any]) -> ET.Element:
    comparison = document["comparison"]
    suite = _suite(f"Comparison with the baseline ({comparison.get('test')})", document)
    for name, delta in comparison["metrics"].items():
        case = ET.SubElement(suite, "testcase", name=name, classname="k6intel.comparison", time="0")
        if delta.get("regression"):
            message = _regression_message(name, delta, comparison)
            ET.SubElement(case, "failure", message=message, type="regression").text = message
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(sum(1 for case in suite if case.find("failure") is not None)))
    return suite


def _regression_message(name: str, delta: dict[str, Any], comparison: dict[str, Any]) -> str:
    change = "" if delta.get("delta_pct") is None else f" ({delta['delta_pct']:+.1f} %)"
    test = delta.get("method") if delta.get("p_value") is None else f"p = {delta['p_value']:.2g}, {delta.get('method')}"
    return (
        f"{name} regressed against the baseline {comparison.get('base_id')}: {compared_value(name, delta['base'])} → "
        f"{compared_value(name, delta['run'])}{change} ({test}; tolerance {comparison.get('tolerance_pct')} %, "
        f"alpha {comparison.get('alpha')})"
    )


def _observed(values: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value:.6g}" for key, value in values.items() if isinstance(value, int | float)) or "no data"
