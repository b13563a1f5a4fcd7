"""Tests (a project's named series of runs), their baselines, comparisons and trends.

A run belongs to a test: by default the builder's method and URL path, or a
script's entry file; "Run again" and re-runs with the same name add to it. A
test may have a baseline run; every run of the test that ends is compared with
it (stored with the run), and any two runs can be compared on demand. The
statistics are the engine's (runs/engine/compare.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from runs.engine.compare import RunFacts, compare_groups, compare_runs
from runs.models import LoadTest, Project, Run, RunDocument, RunResult

MAX_TREND_POINTS = 200
ON_DEMAND_ONLY = ("timeseries", "config_diff", "script_diff")  # large: not stored with each run
LABEL_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_LABELS = 20
MAX_REPEAT = 10
MAX_LABEL_VALUE_CHARS = 200
CONVENTIONAL_LABELS = ("variant", "git_sha", "branch", "environment")


@dataclass(frozen=True)
class RunMeta:
    """Where a new run belongs: its test (by name; empty: the default) and its labels."""

    test: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    prometheus_url: str = ""  # where k6 also sends the run's metrics (runs/engine/prometheus.py)
    segments: int = 1  # k6 processes on k6 workers of their own (runs/segments.py)


def label_problems(labels: dict[str, str]) -> list[str]:
    problems = [f"At most {MAX_LABELS} labels."] if len(labels) > MAX_LABELS else []
    for key, value in labels.items():
        if not LABEL_KEY.fullmatch(key) or "__" in key:
            problems.append(f"{key!r} is not a label name (letters, digits, '_' but not '__', '.', '-'; at most 64).")
        if not isinstance(value, str) or len(value) > MAX_LABEL_VALUE_CHARS:
            problems.append(f"The value of {key} must be text of at most {MAX_LABEL_VALUE_CHARS} characters.")
    return problems


class NotComparable(ValueError):
    """A run without results (it failed before k6 measured anything, or has not ended)."""


def default_test_name(mode: str, spec: dict[str, Any], target_url: str) -> str:
    if mode == Run.Mode.SCRIPT:
        return str(spec.get("entry") or spec.get("filename") or "script.js")[:200]
    path = urlsplit(target_url or str(spec.get("url") or "")).path or "/"
    return f"{spec.get('method') or 'GET'} {path}"[:200]


def test_for(project: Project, name: str) -> LoadTest:
    test, _ = LoadTest.objects.get_or_create(project=project, name=name[:200])
    return test


def set_baseline(run: Run, among: QuerySet[Run] | None = None) -> LoadTest:
    """Make `run` its test's baseline; NotComparable if it has nothing to compare, or (with `among`, the runs
    the caller sees) when the test's baseline is someone else's: tests are shared by project name, baselines
    are not taken over."""
    if run.test_id is None:
        raise NotComparable(f"Run {run.pk} belongs to no test.")
    current = LoadTest.objects.filter(pk=run.test_id).values_list("baseline_id", flat=True).first()
    if among is not None and current is not None and not among.filter(pk=current).exists():
        raise NotComparable("This test's baseline was set by someone else; name your own test to keep your own baseline.")
    facts_of(run)  # a baseline must have results
    LoadTest.objects.filter(pk=run.test_id).update(baseline=run)
    RunDocument.objects.filter(run__test_id=run.test_id).delete()  # each says which run is its test's baseline
    return LoadTest.objects.get(pk=run.test_id)


def facts_of(run: Run) -> RunFacts:
    try:
        result = run.result
    except RunResult.DoesNotExist:
        raise NotComparable(f"Run {run.pk} has no results to compare ({run.status}).") from None
    return RunFacts(
        id=str(run.pk),
        metrics=result.metrics,
        timeseries=result.timeseries,
        endpoints=result.endpoints,
        scenarios=result.scenarios,
        thresholds=result.thresholds,
        checks=result.checks,
        delivery=result.delivery,
        histograms=result.histograms,
        config={"spec": run.spec, "max_vus": run.max_vus, "planned_duration_s": run.planned_duration_s, "labels": run.labels},
        script=run.script,
    )


def comparison(base: Run, run: Run) -> dict[str, Any]:
    """`run` against `base`: the engine's comparison, with the test it was made in."""
    document = compare_runs(facts_of(base), facts_of(run), settings.REGRESSION_TOLERANCE)
    return {**document, "test": run.test.name if run.test else None, "base_labels": base.labels, "run_labels": run.labels}


def compare_with_baseline(run: Run) -> dict[str, Any]:
    """Stored with a run once k6 has finished: its comparison with its test's baseline (nothing without one),
    without the series and diffs, which GET /api/compare gives."""
    test = run.test
    if test is None or test.baseline is None or test.baseline_id == run.pk or not sees(run, test.baseline):
        return {}
    try:
        full = comparison(test.baseline, run)
    except NotComparable:
        return {}
    return {key: value for key, value in full.items() if key not in ON_DEMAND_ONLY}


def group_comparison(base: list[Run], runs: list[Run]) -> dict[str, Any]:
    """Repeated runs against a base (a run, or repeated runs too): medians with their range, and the tests."""
    if not runs:
        raise NotComparable("None of the repeated runs finished.")
    document = compare_groups([facts_of(run) for run in base], [facts_of(run) for run in runs], settings.REGRESSION_TOLERANCE)
    return {**document, "base_id": str(base[0].pk), "test": runs[0].test.name if runs[0].test else None}


def sees(run: Run, other: Run) -> bool:
    """Whether whoever submitted `run` may see `other` (its numbers go into the run's document): an admin
    key or staff sees every run, anyone else their own; a run from the command line has no submitter."""
    if run.api_key_id is not None:
        return bool(run.api_key and run.api_key.is_admin) or other.api_key_id == run.api_key_id
    if run.owner_id is not None:
        return bool(run.owner and run.owner.is_staff) or other.owner_id == run.owner_id
    return True


def labelled(runs: QuerySet[Run], labels: dict[str, str]) -> QuerySet[Run]:
    """Runs carrying every one of these labels (`__exact`: a label named like a lookup is still a key)."""
    return runs.filter(**{f"labels__{key}__exact": value for key, value in labels.items()})


def variant_comparison(
    test: LoadTest, key: str, base_value: str, run_value: str, among: QuerySet[Run] | None = None
) -> dict[str, Any]:
    """The experiment view: the done runs labelled key=base_value against those labelled key=run_value."""
    groups = [
        [facts_of(run) for run in labelled(_done_runs(test, among), {key: value}).select_related("result")]
        for value in (base_value, run_value)
    ]
    if not groups[0] or not groups[1]:
        missing = base_value if not groups[0] else run_value
        raise NotComparable(f"Test {test.name!r} has no finished run labelled {key}={missing}.")
    return {**compare_groups(groups[0], groups[1], settings.REGRESSION_TOLERANCE), "test": test.name, "label": key,
            "variants": [base_value, run_value]}  # fmt: skip


def trend(test: LoadTest, labels: dict[str, str] | None = None, among: QuerySet[Run] | None = None) -> dict[str, Any]:
    """p95, p99, RPS, error rate and score of the test's finished runs (of `among`, when given), oldest
    first, each with its labels."""
    runs = labelled(_done_runs(test, among), labels or {})
    # Only the metrics of each result: its series and histograms would be most of what is read.
    with_metrics = runs.prefetch_related(Prefetch("result", queryset=RunResult.objects.only("run_id", "metrics")))
    recent = list(with_metrics.order_by("-created_at")[:MAX_TREND_POINTS])[::-1]
    return {
        "test": {"id": test.pk, "name": test.name, "project": test.project.name},
        "baseline_id": str(test.baseline_id) if test.baseline_id else None,
        "points": [trend_point(run, test) for run in recent],
    }


def trend_point(run: Run, test: LoadTest) -> dict[str, Any]:
    metrics = run.result.metrics
    duration = metrics.get("http_req_duration") or {}
    return {
        "run_id": str(run.pk),
        "created_at": run.created_at.isoformat(),
        "labels": run.labels,
        "baseline": run.pk == test.baseline_id,
        "grade": run.grade or None,
        "verdict": run.verdict or None,
        "p95": duration.get("p95"),
        "p99": duration.get("p99"),
        "rps": (metrics.get("http_reqs") or {}).get("rate"),
        "error_rate": (metrics.get("http_req_failed") or {}).get("rate"),
        "score": run.score,
    }


def _done_runs(test: LoadTest, among: QuerySet[Run] | None = None) -> QuerySet[Run]:
    runs = among.filter(test=test) if among is not None else test.runs.all()
    return runs.filter(status=Run.Status.DONE, result__isnull=False)
