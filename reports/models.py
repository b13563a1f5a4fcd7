from __future__ import annotations

from django.db import models

from runs.models import Run


class RunAnalysis(models.Model):
    """The engineering analysis of a run: rule-based insights, the AI attempt, and the sections the report uses."""

    run = models.OneToOneField(Run, on_delete=models.CASCADE, primary_key=True, related_name="analysis")
    insights = models.JSONField(default=list)
    ai = models.JSONField(default=dict, help_text="status, model, attempts, latency_ms, key_index (never the key), sections")
    sections = models.JSONField(
        default=dict, help_text="What the report shows: the AI's sections, or ones written from the insights."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Analysis of {self.run_id}"
