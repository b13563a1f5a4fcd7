"""Progress events: stored (for replay to late joiners) and pushed to the run's channel group."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from runs.models import Run, RunEvent

log = logging.getLogger(__name__)


def group_name(run_id: Any) -> str:
    return f"run.{run_id}"


def publish(run_id: Any, kind: str, data: dict[str, Any]) -> RunEvent:
    event = RunEvent.objects.create(run_id=run_id, kind=kind, data=data)
    layer = get_channel_layer()
    if layer is not None:
        try:
            async_to_sync(layer.group_send)(group_name(run_id), {"type": "run.event", "event": event.as_message()})
        except Exception:  # live push is best effort; the stored event is replayed on reconnect
            log.warning("could not push event %s of run %s", event.pk, run_id, exc_info=True)
    return event


def history(run_id: Any, after_seq: int = 0) -> list[dict[str, Any]]:
    events = RunEvent.objects.filter(run_id=run_id, pk__gt=after_seq).order_by("pk")
    return [event.as_message() for event in events]


def end_seq(run_id: Any) -> int | None:
    """The sequence number of the run's end event; None while the run goes on."""
    return RunEvent.objects.filter(run_id=run_id, kind="end").values_list("pk", flat=True).first()


def last_event_seq(run_id: Any) -> int:
    """The newest event a page rendered now already reflects; the page reacts only to later ones."""
    newest = RunEvent.objects.filter(run_id=run_id).order_by("-pk").values_list("pk", flat=True).first()
    return newest or 0


def publish_end(run: Run) -> RunEvent:
    data = {
        "status": run.status,
        "verdict": run.verdict or None,
        "grade": run.grade or None,
        "score": run.score,
        "error": run.error or None,
    }
    return publish(run.pk, "end", data)
