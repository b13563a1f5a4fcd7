from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from reports.models import RunAnalysis, ShareLink
from reports.sharing import revoke_link


@admin.register(RunAnalysis)
class RunAnalysisAdmin(admin.ModelAdmin):
    list_display = ("run", "created_at")
    readonly_fields = ("run", "insights", "ai", "sections", "created_at")

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    """Every share link made, by whom and until when; revoke ends one at once."""

    list_display = ("run", "created_by", "created_at", "expires_at", "revoked_at", "views")
    readonly_fields = ("id", "run", "created_by", "created_at", "expires_at", "revoked_at", "views")
    actions = ["revoke"]

    def has_add_permission(self, request: object) -> bool:
        return False  # links are made from a run (API, CLI), where the token is shown once

    @admin.action(description="Revoke the selected links")
    def revoke(self, request: HttpRequest, links: QuerySet[ShareLink]) -> None:
        for link in links:
            revoke_link(link)
