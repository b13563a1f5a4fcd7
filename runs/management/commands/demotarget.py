from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from runs.demo_target import DemoTarget, TargetProfile


class Command(BaseCommand):
    help = "Serve the bundled demo target: uniform latency between two bounds and an exact error rate."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--latency-min-ms", type=float, default=5.0)
        parser.add_argument("--latency-max-ms", type=float, default=25.0)
        parser.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered with an error, 0–1")
        parser.add_argument("--error-status", type=int, default=500)
        parser.add_argument("--concurrency", type=int, help="serve at most this many requests at once (saturates)")

    def handle(self, *args: Any, **options: Any) -> None:
        profile = _profile(options)
        target = DemoTarget(profile, port=options["port"])
        self.stdout.write(
            f"Demo target on {target.url}: latency {profile.latency_min_ms}–{profile.latency_max_ms} ms, "
            f"{profile.error_rate:.0%} errors (HTTP {profile.error_status}). Ctrl-C stops it."
        )
        try:
            target.server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            target.server.server_close()


def _profile(options: dict[str, Any]) -> TargetProfile:
    if not 0 <= options["error_rate"] <= 1:
        raise CommandError("--error-rate must be between 0 and 1, e.g. 0.1 for 10 %.")
    if not 0 <= options["latency_min_ms"] <= options["latency_max_ms"]:
        raise CommandError("--latency-min-ms must be ≥ 0 and ≤ --latency-max-ms.")
    if not 100 <= options["error_status"] <= 599:
        raise CommandError("--error-status must be an HTTP status code (100–599).")
    if options["concurrency"] is not None and options["concurrency"] < 1:
        raise CommandError("--concurrency must be at least 1.")
    return TargetProfile(
        options["latency_min_ms"],
        options["latency_max_ms"],
        options["error_rate"],
        options["error_status"],
        options["concurrency"],
    )
