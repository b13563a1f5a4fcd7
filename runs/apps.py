from __future__ import annotations

from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
    verbose_name = "Load test runs"

    def ready(self) -> None:
        from runs import checks, openapi  # noqa: F401  (register system checks and the OpenAPI auth scheme)
