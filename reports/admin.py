from __future__ import annotations

from django.contrib import admin

from reports.models import RunAnalysis


@admin.register(RunAnalysis)
class RunAnalysisAdmin(admin.ModelAdmin):
    list_display = ("run", "created_at")
    readonly_fields = ("run", "insights", "ai", "sections", "created_at")

    def has_add_permission(self, request: object) -> bool:
        return False
