from __future__ import annotations

from django.contrib import admin

from scanners.models import AnalyzerResult


@admin.register(AnalyzerResult)
class AnalyzerResultAdmin(admin.ModelAdmin):
    list_display = ("run", "kind", "status", "grade", "score", "duration_s", "created_at")
    list_filter = ("kind", "status", "grade")
    search_fields = ("run__id", "target_url")
    readonly_fields = [field.name for field in AnalyzerResult._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
