from __future__ import annotations

from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
    verbose_name = "Load test runs"

    def ready(self) -> None:
        from runs import checks  # noqa: F401  (register system checks)
        from runs.api import openapi  # noqa: F401  (the OpenAPI auth scheme)
