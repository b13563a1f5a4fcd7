"""How many k6 processes this platform can run at once: what a split run's segments are checked against."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

K6_QUEUE = "k6"
INSPECT_TIMEOUT_S = 1.0


def k6_workers() -> int:
    """Free slots that take k6 messages: the embedded executor's threads, or the idle pool processes of every
    Celery worker consuming the k6 queue (asked over the broker; 0 when none answers within a second)."""
    if not settings.REDIS_URL:
        return settings.EMBEDDED_WORKERS
    from k6intel.celery import app

    inspector = app.control.inspect(timeout=INSPECT_TIMEOUT_S)
    try:
        queues: dict[str, Any] = dict(inspector.active_queues() or {})
        stats: dict[str, Any] = dict(inspector.stats() or {})
        busy: dict[str, Any] = dict(inspector.active() or {})
    except Exception as exc:  # the broker is down: nothing can be said to be free
        log.warning("could not ask the workers for their queues (%s)", exc)
        return 0
    consuming = [name for name, listened in queues.items() if any(q.get("name") == K6_QUEUE for q in listened)]
    slots = {name: int((stats.get(name) or {}).get("pool", {}).get("max-concurrency", 1)) for name in consuming}
    return sum(max(0, count - len(busy.get(name) or [])) for name, count in slots.items())
