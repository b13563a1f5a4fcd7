from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from runs.sweeper import sweep


class Command(BaseCommand):
    help = (
        "One sweeper pass: queue again runs whose queue message was lost, fail runs whose worker stopped "
        "sending heartbeats (killing their leftover k6), and remove dead runs' work directories."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = sweep()
        self.stdout.write(", ".join(f"{name}: {count}" for name, count in counts.items()))
