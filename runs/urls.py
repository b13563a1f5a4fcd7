"""Browser UI routes (the API's are in k6intel/urls.py)."""

from __future__ import annotations

from django.urls import path

from runs.web import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("runs/", views.run_list, name="run-list"),
    path("runs/new", views.run_new, name="run-new"),
    path("runs/upload", views.run_upload, name="run-upload"),
    path("runs/<uuid:run_id>/", views.run_detail, name="run-detail"),
    path("runs/<uuid:run_id>/cancel", views.run_cancel_view, name="run-cancel"),
    path("runs/<uuid:run_id>/baseline", views.run_make_baseline, name="run-baseline"),
    path("runs/<uuid:run_id>/download/<str:kind>", views.run_download_view, name="run-download"),
    path("runs/<uuid:run_id>/artifacts/<path:name>", views.run_artifact_view, name="run-artifact"),
    path("runs/<uuid:run_id>/filmstrip/<str:name>", views.run_filmstrip_frame, name="run-filmstrip"),
    path("tests/", views.test_list, name="test-list"),
    path("tests/<int:test_id>/", views.test_detail, name="test-detail"),
    path("compare", views.compare, name="compare"),
]
