"""The Celery app. Queues: `k6` (one load test per worker at a time) and `analyzers`."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "k6intel.settings")

app = Celery("k6intel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

import k6intel.worker_startup  # noqa: E402, F401  (connects the start-up check to worker_init)
import runs.worker_hooks  # noqa: E402, F401  (the sweeper on beat, graceful SIGTERM, work directory clean-up)
