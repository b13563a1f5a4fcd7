from __future__ import annotations

import uuid

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


class ShareLink(models.Model):
    """A signed, expiring, read-only link to a run's HTML report for people without an account (reports/sharing.py).

    Kept so that every link's creation is on record (who, when, until when) and a link can be revoked."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="share_links")
    created_by = models.CharField(max_length=200, help_text="The user or API key that made it.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    views = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Share link of {self.run_id} until {self.expires_at:%Y-%m-%d %H:%M}"
