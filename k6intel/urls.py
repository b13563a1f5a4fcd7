from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from reports.views import shared_report
from runs.api import comparisons, sharing
from runs.api import views as api

urlpatterns = [
    path("", include("runs.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("captcha/", include("captcha.urls")),
    path("api/run", api.RunCreateView.as_view(), name="api-run"),
    path("api/runjs", api.RunScriptView.as_view(), name="api-runjs"),
    path("api/captcha", api.CaptchaView.as_view(), name="api-captcha"),
    path("api/result/list", api.ResultListView.as_view(), name="api-result-list"),
    path("api/result/<uuid:run_id>", api.ResultView.as_view(), name="api-result"),
    path("api/download/<uuid:run_id>", api.DownloadView.as_view(), name="api-download"),
    path("api/download/<uuid:run_id>/<str:kind>", api.DownloadExportView.as_view(), name="api-download-kind"),
    path("api/runs/<uuid:run_id>/artifacts/<path:name>", api.ArtifactView.as_view(), name="api-artifact"),
    path("share/<str:token>", shared_report, name="shared-report"),
    path("api/run/<uuid:run_id>/share", sharing.ShareView.as_view(), name="api-run-share"),
    path("api/compare", comparisons.CompareView.as_view(), name="api-compare"),
    path("api/run/<uuid:run_id>/baseline", comparisons.BaselineView.as_view(), name="api-run-baseline"),
    path("api/tests", comparisons.TestListView.as_view(), name="api-tests"),
    path("api/tests/<int:test_id>", comparisons.TestDetailView.as_view(), name="api-test"),
    path("api/tests/<int:test_id>/trend", comparisons.TrendView.as_view(), name="api-test-trend"),
    path("api/tests/<int:test_id>/experiment", comparisons.ExperimentView.as_view(), name="api-test-experiment"),
    path("api/resetdata", api.ResetDataView.as_view(), name="api-resetdata"),
    path("api/run/<uuid:run_id>/events", api.run_events, name="api-run-events"),
    path("api/run/<uuid:run_id>/cancel", api.CancelView.as_view(), name="api-run-cancel"),
    path("api/schema", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="api-schema"),
    path(
        "api/docs",
        SpectacularSwaggerView.as_view(url_name="api-schema", authentication_classes=[], permission_classes=[]),
        name="api-docs",
    ),
]
