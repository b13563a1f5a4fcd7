from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from runs.purge import reset_all


class Command(BaseCommand):
    help = "Delete every run, result, project and generated file (API keys and users stay)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["yes"]:
            answer = input("Delete every run, result and generated file? Type 'DELETE ALL' to confirm: ")
            if answer.strip() != "DELETE ALL":
                raise CommandError("Nothing was deleted.", returncode=1)
        purged = reset_all()
        self.stdout.write(f"Deleted {purged.runs} runs in {purged.projects} projects and {purged.files} files.")
