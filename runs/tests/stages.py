"""Post-k6 stages used by the tests (named in RUN_POST_STAGES, also by worker processes)."""

from __future__ import annotations

import os
import time

from django.conf import settings

from runs import events
from runs.models import Run
from runs.sweeper import reap_stale_runs


def count_requests(run: Run) -> None:
    count = run.result.metrics["http_reqs"]["count"]
    events.publish(run.pk, "log", {"lines": [f"post stage saw {count} requests"], "dropped": 0, "pid": os.getpid()})


def explode(run: Run) -> None:
    raise RuntimeError("analyzer crashed")


def outlive_the_reaper(run: Run) -> None:
    # Longer than REAP_AFTER_S: only the stage heartbeat keeps the run alive.
    time.sleep(settings.REAP_AFTER_S + 1.5)
    reaped = reap_stale_runs()
    assert not reaped, "the reaper took a run whose stage was still working"


def wait_for_gate(run: Run) -> None:
    """Holds the run in its post-k6 stages until the test opens the gate (creates GATE_FILE), at most a minute."""
    gate = os.environ.get("GATE_FILE")
    deadline = time.monotonic() + 60
    while gate and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.2)
