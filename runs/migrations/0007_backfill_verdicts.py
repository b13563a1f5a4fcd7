"""Runs stored before verdicts existed: give them one, and take the grade from runs that are not graded.

Failed and cancelled runs are not graded (the old code graded cancelled ones); a done run passed
when its scorecard passed and k6 did not report a crossed threshold (exit 99), failed otherwise,
and is not graded when it made no requests.
"""

from __future__ import annotations

from django.db import migrations

THRESHOLDS_FAILED = 99
ONE_MISS_CAP = 74.0


def backfill(apps, schema_editor):  # noqa: ANN001, ANN201  (Django's migration signature)
    Run = apps.get_model("runs", "Run")
    Run.objects.filter(status__in=["failed", "cancelled"]).update(verdict="not_graded", grade="", score=None)
    for run in Run.objects.filter(status="done", verdict="").select_related("result"):
        scorecard = getattr(run, "result", None) and run.result.sla or {}
        if not scorecard.get("criteria"):
            run.verdict, run.grade, run.score = "not_graded", "", None
        elif scorecard.get("passed") and run.k6_exit_code != THRESHOLDS_FAILED:
            run.verdict = "passed"
        else:
            run.verdict = "failed"
        if run.k6_exit_code == THRESHOLDS_FAILED and run.score is not None and run.score > ONE_MISS_CAP:
            run.grade, run.score = "C", ONE_MISS_CAP  # a failed k6 threshold caps like a missed criterion
        run.save(update_fields=["verdict", "grade", "score"])


class Migration(migrations.Migration):
    dependencies = [("runs", "0006_verdict_and_delivery")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
