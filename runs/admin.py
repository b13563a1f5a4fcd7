from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from runs.api.apikeys import apikey_create
from runs.models import ApiKey, Project, Run, RunResult, RunSegment
from runs.pipeline import run_cancel
from runs.purge import runs_purge


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)


class RunResultInline(admin.StackedInline):
    model = RunResult
    can_delete = False
    extra = 0
    readonly_fields = ("metrics", "sla", "thresholds", "checks", "custom_metrics", "endpoints", "failures", "ingest")
    exclude = ("timeseries", "groups", "scenarios")  # long per-second series and trees: the run page shows them


class RunSegmentInline(admin.TabularInline):
    """A split run's k6 processes: where each ran and how it ended."""

    model = RunSegment
    can_delete = False
    extra = 0
    fields = ("index", "status", "worker", "k6_exit_code", "started_at", "finished_at", "error")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Run | None = None) -> bool:
        return False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "target_url", "status", "grade", "score", "owner", "k6_exit_code", "created_at")
    list_filter = ("status", "grade", "mode", "project")
    search_fields = ("id", "target_url", "project__name", "owner__username")
    date_hierarchy = "created_at"
    inlines = [RunResultInline, RunSegmentInline]
    actions = ["cancel_runs"]
    readonly_fields = (
        "id",
        "project",
        "owner",
        "api_key",
        "mode",
        "target_url",
        "spec",
        "script",
        "planned_duration_s",
        "max_vus",
        "segments",
        "sla_config",
        "status",
        "stage",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "stage_durations_s",
        "k6_exit_code",
        "k6_exit_reason",
        "error",
        "score",
        "grade",
        "log",
    )
    fieldsets = (
        (
            None,
            {"fields": ("id", "project", "owner", "api_key", "mode", "target_url", "status", "stage", "grade", "score", "error")},
        ),
        ("Timing", {"fields": ("created_at", "started_at", "finished_at", "heartbeat_at", "stage_durations_s")}),
        (
            "k6",
            {
                "fields": (
                    "k6_exit_code",
                    "k6_exit_reason",
                    "planned_duration_s",
                    "max_vus",
                    "sla_config",
                    "spec",
                    "script",
                    "log",
                )
            },
        ),
    )

    def has_add_permission(self, request: object) -> bool:
        return False  # runs are created by submitting a test, not by hand

    def delete_model(self, request: HttpRequest, obj: Run) -> None:
        runs_purge(Run.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        # Django's delete confirmation page comes first; this also removes the runs' files.
        runs_purge(queryset)

    @admin.action(description="Cancel selected runs (k6 stops gracefully; partial results kept)")
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        active = [run for run in queryset if not run.is_terminal]
        for run in active:
            run_cancel(run.pk)
        self.message_user(request, f"Cancel requested for {len(active)} run(s).", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "is_admin", "is_trusted", "created_at", "last_used_at", "revoked_at")
    list_filter = ("is_admin", "is_trusted")
    fields = ("name", "is_admin", "is_trusted", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: object, change: bool) -> None:
        if change:
            obj.save()
            return
        record, key = apikey_create(obj.name, is_admin=obj.is_admin, is_trusted=obj.is_trusted)
        obj.pk, obj.prefix, obj.key_hash = record.pk, record.prefix, record.key_hash
        self.message_user(request, f"The new key (shown only now): {key}", messages.WARNING)

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        from django.utils import timezone

        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)
