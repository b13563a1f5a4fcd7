from __future__ import annotations

from k6intel.celery import app as celery_app

__all__ = ["celery_app"]
