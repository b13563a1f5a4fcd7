"""How many runs one API key or one user may have waiting or running at once.

One key queueing runs as fast as it can would otherwise make every other
key's runs wait behind them. Admin keys and staff are not limited.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from runs.models import ApiKey, Run

ACTIVE = (Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.ANALYZING)
RETRY_AFTER_S = 30


class QuotaExceeded(Exception):
    """The submitter already has MAX_ACTIVE_RUNS runs waiting or running; the message says so."""


def check_active_runs(api_key: ApiKey | None = None, owner: Any = None) -> None:
    limit = settings.MAX_ACTIVE_RUNS
    if api_key is not None and not api_key.is_admin:
        active = _active(Run.objects.filter(api_key=api_key, status__in=ACTIVE))
    elif owner is not None and not owner.is_staff:
        active = _active(Run.objects.filter(owner=owner, status__in=ACTIVE))
    else:
        return
    if active >= limit:
        raise QuotaExceeded(
            f"You already have {active} runs queued or running (MAX_ACTIVE_RUNS={limit}); "
            "start another when one of them has finished."
        )


def _active(runs: QuerySet[Run]) -> int:
    """Runs waiting or running, a `repeat` group counting once: its runs go one after another."""
    single = runs.filter(repeat_group__isnull=True).count()
    return single + runs.exclude(repeat_group__isnull=True).values("repeat_group").distinct().count()
