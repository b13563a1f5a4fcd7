"""The analyzer stage: every analyzer on the run's target, in parallel, each with a timeout.

`analyze_run` is the post-k6 stage registered in RUN_POST_STAGES;
`results_for` is what the runs app reads into the result document.
One analyzer failing or timing out never fails the others or the run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import httpx
from django.conf import settings
from django.db import close_old_connections

from runs import events
from runs.engine.targets import TargetRejected
from runs.models import Run
from runs.purge import run_files_dir
from scanners import KINDS, headers, lighthouse, pagetest, tls
from scanners.fetch import fetch_chain
from scanners.isolated import analyze_in_process
from scanners.models import AnalyzerResult
from scanners.outcome import Outcome, failed, skipped

Analyzer = Callable[..., Outcome]
ANALYZERS: dict[str, Analyzer] = {
    "headers": headers.analyze,
    "tls": tls.analyze,
    "pagetest": pagetest.analyze,
    "lighthouse": lighthouse.analyze,
}
assert tuple(ANALYZERS) == KINDS
BUILTIN_ANALYZERS = dict(ANALYZERS)  # tests may replace an entry of ANALYZERS with a stand-in run in this process
# Analyzers that drive a browser; only for targets that are pages.
BROWSER_ANALYZERS = ("pagetest", "lighthouse")


def analyze_url(kind: str, url: str, **options: Any) -> Outcome:
    """One analyzer on one URL; any crash becomes an `error` outcome."""
    try:
        return ANALYZERS[kind](url, **options)
    except Exception as exc:
        return failed(f"The {kind} analyzer crashed: {exc!r}")
    finally:
        close_old_connections()


def analyze_run(run: Run) -> None:
    target = run.target_url
    if not target.startswith(("http://", "https://")):
        reason = "No http(s) target: the script names no URL the analyzers could use."
        for kind in ANALYZERS:
            _store(run, kind, target, skipped(reason), 0.0)
        return
    kinds = _kinds_to_run(run, target)
    if not kinds:
        return
    with ThreadPoolExecutor(max_workers=len(kinds), thread_name_prefix="analyzer") as pool:
        started = time.monotonic()
        futures = {kind: pool.submit(_analyze_for_run, run, kind, target) for kind in kinds}
        for kind, future in futures.items():
            _store(run, kind, target, _wait(kind, future, started), time.monotonic() - started)
            # Pages following the run show each analyzer as soon as its result is stored.
            events.publish(run.pk, "results", {"status": run.status, "stored": kind})


def _kinds_to_run(run: Run, target: str) -> list[str]:
    """The enabled analyzers the run asked for; the browser ones only when the target is a page.

    The others are stored as skipped, with the reason, so every kind has a result.
    """
    chosen = run.spec.get("analyzers")
    enabled = []
    for kind in ANALYZERS:
        if kind not in settings.ANALYZERS:
            _store(run, kind, target, skipped(f"The {kind} analyzer is turned off (ANALYZERS setting)."), 0.0)
        elif chosen is not None and kind not in chosen:
            _store(run, kind, target, skipped(f"The {kind} analyzer was not chosen for this run."), 0.0)
        else:
            enabled.append(kind)
    if any(kind in BROWSER_ANALYZERS for kind in enabled) and not _is_page(target):
        for kind in BROWSER_ANALYZERS:
            if kind in enabled:
                enabled.remove(kind)
                _store(run, kind, target, skipped("The target is not an HTML page, so there is nothing to render."), 0.0)
    return enabled


def _is_page(url: str) -> bool:
    try:
        fetched = asyncio.run(fetch_chain(url))
    except (httpx.HTTPError, TargetRejected):
        return False
    return fetched.response is not None and "html" in fetched.response.headers.get("content-type", "")


def _analyze_for_run(run: Run, kind: str, target: str) -> Outcome:
    """Browser analyzers run in their own process, killed at the deadline; the others in this thread."""
    if kind in BROWSER_ANALYZERS and ANALYZERS[kind] is BUILTIN_ANALYZERS[kind]:
        return analyze_in_process(kind, target, settings.ANALYZER_TIMEOUT_S, _options(run, kind).get("output_dir"))
    return analyze_url(kind, target, **_options(run, kind))


def _options(run: Run, kind: str) -> dict[str, Any]:
    if kind == "pagetest":
        return {"output_dir": run_files_dir(run.pk) / "filmstrip"}
    return {}


analyze_run.stage_name = "analyzers"  # type: ignore[attr-defined]


def _wait(kind: str, future: Any, started: float) -> Outcome:
    budget_s = settings.ANALYZER_TIMEOUT_S - (time.monotonic() - started)
    try:
        return future.result(timeout=max(budget_s, 0.1))
    except FutureTimeout:
        return failed(f"The {kind} analyzer timed out after {settings.ANALYZER_TIMEOUT_S} s (ANALYZER_TIMEOUT_S).")


def _store(run: Run, kind: str, target: str, outcome: Outcome, duration_s: float) -> None:
    AnalyzerResult.objects.update_or_create(
        run=run,
        kind=kind,
        defaults={
            "target_url": target,
            "status": outcome.status,
            "grade": outcome.grade,
            "score": outcome.score,
            "summary": outcome.summary,
            "details": outcome.details,
            "duration_s": round(duration_s, 3),
            "error": outcome.error,
        },
    )


def results_for(run: Run) -> dict[str, Any]:
    return {
        result.kind: {
            "status": result.status,
            "grade": result.grade or None,
            "score": result.score,
            "summary": result.summary,
            "error": result.error or None,
            "duration_s": result.duration_s,
            **result.details,
        }
        for result in run.analyzer_results.all()
    }
