"""What the Celery processes do for the run lifecycle, beyond executing tasks.

* beat hosts the sweeper thread (queue lost runs again, reap, clean up), so no
  one worker has to be up for dead runs to be ended;
* a worker removes dead runs' work directories on this host when it starts;
* SIGTERM (docker stop, systemd) stops a running test gracefully: the task
  running it turns SIGTERM into the shutdown flag (runs/shutdown.py), and the
  main process, which alone receives `docker stop`'s signal, passes it on.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

import psutil
from celery.signals import beat_init, worker_ready, worker_shutting_down

log = logging.getLogger(__name__)


@beat_init.connect
def start_sweeper(**kwargs: Any) -> None:
    from runs.sweeper import start_sweeper

    start_sweeper()


@worker_ready.connect
def remove_dead_workdirs(**kwargs: Any) -> None:
    from runs.sweeper import remove_dead_workdirs

    try:
        removed = remove_dead_workdirs()
    except Exception:  # a database that is down is the start-up check's business, not this one's
        log.warning("could not look for dead runs' work directories", exc_info=True)
        return
    if removed:
        log.warning("removed %s work directories left by dead runs", removed)


@worker_shutting_down.connect
def pass_sigterm_to_pool(sig: str = "", how: str = "", **kwargs: Any) -> None:
    if how != "Warm":  # a cold shutdown means "now": Celery terminates the pool itself
        return
    for child in psutil.Process(os.getpid()).children():
        try:
            child.send_signal(signal.SIGTERM)
        except psutil.Error:
            continue
