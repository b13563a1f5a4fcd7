"""The browser analyzers in a process of their own, killed with everything they started at their deadline.

A page that never finishes loading keeps Chromium (and Playwright or
Lighthouse waiting on it) busy far past any timeout a thread can impose; a
thread cannot be stopped. Run as `manage.py scan KIND URL --json` in its own
process group, the analyzer and every browser it launched are killed at
ANALYZER_TIMEOUT_S and the result says so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import psutil
from django.conf import settings

from scanners.outcome import Outcome, failed

# The settings that decide what an analyzer may reach and how: the child process must decide the same way.
INHERITED_SETTINGS = (
    "ALLOW_LOOPBACK_TARGETS", "ALLOW_PRIVATE_TARGETS", "TARGET_ALLOWLIST", "TLS_EXTRA_CA_FILE", "USER_AGENT", "CHROMIUM_PATH",
)  # fmt: skip


def analyze_in_process(kind: str, url: str, deadline_s: float, output_dir: Path | None = None) -> Outcome:
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "scan", kind, url, "--json"]
    if output_dir is not None:
        command += ["--output-dir", str(output_dir)]
    child = subprocess.Popen(
        command, cwd=settings.BASE_DIR, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        out, err = child.communicate(timeout=max(deadline_s, 1.0))
    except subprocess.TimeoutExpired:
        kill_tree(child)
        return failed(f"The {kind} analyzer timed out after {deadline_s:.0f} s (ANALYZER_TIMEOUT_S) and was stopped.")
    try:
        data: dict[str, Any] = orjson.loads(out)
    except orjson.JSONDecodeError:
        return failed(f"The {kind} analyzer crashed: {err.decode('utf-8', 'replace')[-500:]}")
    return Outcome(
        status=data["status"], grade=data["grade"], score=data["score"], summary=data["summary"], details=data["details"],
        error=data["error"],
    )  # fmt: skip


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    for name in INHERITED_SETTINGS:
        value = getattr(settings, name)
        if isinstance(value, bool):
            env[name] = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            env[name] = ",".join(value)
        elif value is not None:
            env[name] = str(value)
        else:
            env.pop(name, None)
    return env


def kill_tree(child: subprocess.Popen[bytes]) -> None:
    """Kill the analyzer and everything it started. Playwright starts Chromium in a process group of its
    own, so the tree is collected first (a process whose parent dies is re-parented and lost to it)."""
    try:
        tree = psutil.Process(child.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for process in tree:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    child.communicate()
