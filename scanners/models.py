from __future__ import annotations

from django.db import models

from runs.models import Run


class AnalyzerResult(models.Model):
    """What one analyzer found about a run's target. One per run and kind."""

    class Status(models.TextChoices):
        OK = "ok"
        SKIPPED = "skipped"
        ERROR = "error"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="analyzer_results")
    kind = models.CharField(max_length=20)
    target_url = models.CharField(max_length=2048, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    grade = models.CharField(max_length=3, blank=True)
    score = models.FloatField(null=True, blank=True)
    summary = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    duration_s = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "kind"], name="one_result_per_analyzer")]
        ordering = ["kind"]

    def __str__(self) -> str:
        return f"{self.kind} of {self.run_id}: {self.status} {self.grade}"
