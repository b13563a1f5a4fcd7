from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reports.sharing import LinkRefused, SharingOff, create_link, share_path
from runs.ids import is_uuid
from runs.models import Run


class Command(BaseCommand):
    help = "Make a signed, expiring, read-only link to a run's HTML report (SHARE_LINKS must be on); prints its path."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run_id")
        parser.add_argument("--hours", type=int, default=72, help="how long it works (default 72)")

    def handle(self, *args: Any, **options: Any) -> None:
        run = Run.objects.filter(pk=options["run_id"]).first() if is_uuid(options["run_id"]) else None
        if run is None:
            raise CommandError(f"No run {options['run_id']}.", returncode=2)
        try:
            link, token = create_link(run, "manage.py sharelink", options["hours"])
        except (SharingOff, LinkRefused, ValueError) as exc:
            raise CommandError(str(exc), returncode=2) from None
        self.stdout.write(
            f"{share_path(token)}  (until {link.expires_at:%Y-%m-%d %H:%M} UTC; prefix it with this server's address)"
        )
