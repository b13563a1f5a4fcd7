from __future__ import annotations

from typing import Any

from daphne.management.commands.runserver import Command as DaphneRunserver
from django.conf import settings


class Command(DaphneRunserver):
    help = DaphneRunserver.help + " In embedded mode (no REDIS_URL) it also runs the sweeper (runs/sweeper.py)."

    def inner_run(self, *args: Any, **options: Any) -> None:
        # inner_run is the serving process (under the autoreloader, its child): the one whose executor runs tests.
        if not settings.REDIS_URL:
            from runs.sweeper import start_sweeper

            start_sweeper()
        super().inner_run(*args, **options)
