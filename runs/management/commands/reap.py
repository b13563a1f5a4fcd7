from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from runs.pipeline import reap_stale_runs


class Command(BaseCommand):
    help = "Mark runs whose worker stopped sending heartbeats as failed, and kill their leftover k6."

    def handle(self, *args: Any, **options: Any) -> None:
        for run in reap_stale_runs():
            self.stdout.write(f"{run.pk}: {run.error}")
