"""Runs stored before verdicts existed: their scorecards take the new shape, and their runs a verdict.

So that the run lists (which read `Run.verdict` and `Run.grade`) and the result document (which
derives both from the stored scorecard) say the same thing about an old run:
* each k6 threshold becomes an unweighted criterion, and a failed one caps the score like a missed
  SLA criterion (74: C at best; 59 for two or more);
* a run with no requests (no criteria) carries no grade;
* failed and cancelled runs are not graded; a done run passed when every criterion was met.
"""

from __future__ import annotations

from django.db import migrations

CAPS = ((2, 59.0, "F", "Fail"), (1, 74.0, "C", "Needs improvement"))
UNITS = {"success_rate": "rate", "error_rate": "rate", "p90_ms": "ms"}


def backfill(apps, schema_editor):  # noqa: ANN001, ANN201  (Django's migration signature)
    Run = apps.get_model("runs", "Run")
    RunResult = apps.get_model("runs", "RunResult")
    for result in RunResult.objects.exclude(sla={}):
        result.sla = _new_shape(result.sla, result.thresholds)
        result.save(update_fields=["sla"])
    Run.objects.filter(status__in=["failed", "cancelled"]).update(verdict="not_graded", grade="", score=None)
    for run in Run.objects.filter(status="done", verdict="").select_related("result"):
        scorecard = getattr(run, "result", None) and run.result.sla or {}
        criteria = scorecard.get("criteria") or []
        if scorecard.get("grade") is None:
            run.verdict = "failed" if any(not c["met"] for c in criteria) else "not_graded"
        else:
            run.verdict = "passed" if all(c["met"] for c in criteria) else "failed"
        run.grade, run.score = scorecard.get("grade") or "", scorecard.get("score")
        run.save(update_fields=["verdict", "grade", "score"])


def _new_shape(sla: dict, thresholds: list) -> dict:
    if any("kind" in c for c in sla.get("criteria", [])):
        return sla  # already new
    criteria = [{**c, "kind": "sla", "unit": UNITS.get(c["key"], "")} for c in sla.get("criteria", [])]
    if not criteria:
        return {**sla, "score": None, "grade": None, "grade_label": None, "passed": False}
    criteria += [_threshold_row(row) for row in thresholds]
    misses = sum(not c["met"] for c in criteria if c["kind"] == "threshold")
    sla_misses = sum(not c["met"] for c in criteria if c["kind"] == "sla")
    if sla_misses == 2 and all(c.get("note") for c in criteria[:2]):
        sla_misses = 1  # no checks: success and error rate are one signal
    score, grade, label = sla["score"], sla["grade"], sla["grade_label"]
    for at_least, cap, cap_grade, cap_label in CAPS:
        if misses + sla_misses >= at_least and score > cap:
            score, grade, label = cap, cap_grade, cap_label
            break
    return {**sla, "criteria": criteria, "score": score, "grade": grade, "grade_label": label,
            "passed": all(c["met"] for c in criteria)}  # fmt: skip


def _threshold_row(row: dict) -> dict:
    return {
        "key": f"threshold:{row['metric']}:{row['expression']}", "label": f"{row['metric']} {row['expression']}",
        "value": None, "threshold": 0.0, "comparator": "", "met": bool(row["ok"]), "points": 0.0, "max_points": 0.0,
        "note": "k6 threshold from the script", "kind": "threshold", "unit": "",
    }  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("runs", "0006_verdict_and_delivery")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
