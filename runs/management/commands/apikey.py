from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from runs.api.apikeys import apikey_create, apikey_revoke
from runs.models import ApiKey


class Command(BaseCommand):
    help = "Manage API keys: create NAME [--admin] [--trusted] | list | revoke ID."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="create a key; it is printed once")
        create.add_argument("name")
        create.add_argument("--admin", action="store_true", help="sees every run and may reset data")
        create.add_argument("--trusted", action="store_true", help="starts runs without a captcha (for CI)")
        actions.add_parser("list", help="list keys (never the keys themselves)")
        revoke = actions.add_parser("revoke", help="revoke a key by id")
        revoke.add_argument("key_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _create(self, options: dict[str, Any]) -> None:
        record, key = apikey_create(options["name"], is_admin=options["admin"], is_trusted=options["trusted"])
        kind = ("trusted " if record.is_trusted else "") + ("admin key" if record.is_admin else "key")
        self.stdout.write(f"Created {kind} {record.pk} ({record.name}). It is shown only now:\n{key}")

    def _list(self, options: dict[str, Any]) -> None:
        for record in ApiKey.objects.all():
            state = f"revoked {record.revoked_at:%Y-%m-%d}" if record.revoked_at else "active"
            used = f"{record.last_used_at:%Y-%m-%d %H:%M}" if record.last_used_at else "never"
            admin = "admin" if record.is_admin else "user"
            trusted = "trusted" if record.is_trusted else ""
            self.stdout.write(
                f"{record.pk:>4}  {record.prefix}…  {admin:<5}  {trusted:<7}  {state:<18}  last used {used}  {record.name}"
            )

    def _revoke(self, options: dict[str, Any]) -> None:
        try:
            record = apikey_revoke(options["key_id"])
        except ApiKey.DoesNotExist:
            raise CommandError(f"No API key with id {options['key_id']}.", returncode=2) from None
        self.stdout.write(f"Revoked key {record.pk} ({record.name}).")
