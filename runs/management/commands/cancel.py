from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from runs.models import Run
from runs.pipeline import run_cancel


class Command(BaseCommand):
    help = "Cancel a run: k6 is stopped gracefully and the results measured so far are kept."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run_id")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run = run_cancel(options["run_id"])
        except (Run.DoesNotExist, ValidationError):
            raise CommandError(f"No run with id {options['run_id']!r}.", returncode=2) from None
        if run.status == Run.Status.CANCELLED:
            self.stdout.write(f"{run.pk}: cancelled.")
        elif run.is_terminal:
            self.stdout.write(f"{run.pk} had already ended ({run.status}).")
        else:
            self.stdout.write(f"{run.pk}: cancel requested; k6 stops within a few seconds.")
