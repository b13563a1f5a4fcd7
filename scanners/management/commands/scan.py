from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError, CommandParser

from scanners.pagetest import PROFILES
from scanners.pipeline import ANALYZERS, analyze_url


class Command(BaseCommand):
    help = "Run one analyzer on a URL and print its findings. Exit status 0 ok, 1 error, 3 skipped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=sorted(ANALYZERS))
        parser.add_argument("url")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--profile", choices=sorted(PROFILES), help="pagetest: connectivity profile (default 3gfast)")
        parser.add_argument("--output-dir", help="pagetest: where to save filmstrip thumbnails")

    def handle(self, *args: Any, **options: Any) -> None:
        outcome = analyze_url(options["kind"], options["url"], **_options(options))
        if options["json"]:
            sys.stdout.buffer.write(orjson.dumps(outcome.as_dict(), option=orjson.OPT_INDENT_2) + b"\n")
            sys.stdout.flush()
        else:
            self.stdout.write(
                f"{options['kind']}: {outcome.status} {outcome.grade} {outcome.score if outcome.score is not None else ''}"
            )
            self.stdout.write(outcome.summary)
            for test in outcome.details.get("tests", []):
                mark = "ok  " if test["pass"] else "FAIL"
                modifier = f"{test['modifier']:>+4}" if test.get("scored", True) else "info"  # outside the score
                self.stdout.write(f"  {mark} {test['name']:<32} {modifier}  {test['result']}")
            for cap in outcome.details.get("caps", []):
                self.stdout.write(f"  cap {cap['grade']}: {cap['reason']}")
        if outcome.status != "ok":
            sys.exit({"error": 1, "skipped": 3}[outcome.status])


def _options(options: dict[str, Any]) -> dict[str, Any]:
    if options["kind"] != "pagetest":
        if options["profile"]:
            raise CommandError("--profile applies to pagetest only.", returncode=2)
        return {}
    extra: dict[str, Any] = {"profile": options["profile"] or "3gfast"}
    if options["output_dir"]:
        extra["output_dir"] = Path(options["output_dir"])
    return extra
