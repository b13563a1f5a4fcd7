"""The API of tests, baselines, comparisons, trends and experiments (runs/loadtests.py does the work).

A key sees a test through the runs it can see: an admin key every run, another key its own. Tests,
trends and comparisons are made of those runs only.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from runs.api.apikeys import request_key
from runs.api.errors import ApiError
from runs.ids import is_uuid
from runs.loadtests import NotComparable, comparison, label_problems, set_baseline, trend, variant_comparison
from runs.models import LoadTest, Run
from runs.selectors import headline_metrics, runs_for_listing, runs_visible_to

LABEL_PARAMETER = OpenApiParameter("label", str, many=True, description="KEY:VALUE; repeat it for several labels")


def _runs(request: Request) -> QuerySet[Run]:
    return runs_visible_to(request_key(request))


def _run(request: Request, run_id: Any, role: str) -> Run:
    run = _runs(request).filter(pk=run_id).select_related("test").first()
    if run is None:
        raise ApiError(404, "not_found", f"No {role} run {run_id} that this API key can see.")
    return run


def _test(request: Request, test_id: Any) -> LoadTest:
    test = LoadTest.objects.filter(pk=test_id, runs__in=_runs(request)).select_related("project", "baseline").first()
    if test is None:
        raise ApiError(404, "not_found", f"No test {test_id} with runs this API key can see.")
    return test


def query_labels(items: list[str]) -> dict[str, str]:
    """`label=KEY:VALUE` query parameters as a dict; a malformed one is the 400 that says how to write it."""
    labels = {}
    for item in items:
        key, separator, value = item.partition(":")
        if not separator or label_problems({key: value}):
            raise ApiError(400, "invalid", "label is KEY:VALUE, e.g. label=variant:cached.", {"label": [item]})
        labels[key] = value
    return labels


def _comparable(make: Any) -> Response:
    try:
        return Response(make())
    except NotComparable as exc:
        raise ApiError(409, "not_comparable", str(exc)) from None


class CompareView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("base", OpenApiTypes.UUID, required=True, description="the run compared with"),
            OpenApiParameter("run", OpenApiTypes.UUID, required=True, description="the run compared"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Compare two runs: deltas with their statistical test, endpoints, scenarios, states, series, diffs",
    )
    def get(self, request: Request) -> Response:
        ids = {name: request.query_params.get(name, "") for name in ("base", "run")}
        missing = {name: ["Give a run id (a UUID)."] for name, value in ids.items() if not is_uuid(value)}
        missing |= {name: ["Give it once."] for name in ids if len(request.query_params.getlist(name)) > 1}
        if missing:
            raise ApiError(400, "invalid", "Give both runs: /api/compare?base=RUN_ID&run=RUN_ID.", missing)
        base, run = _run(request, ids["base"], "base"), _run(request, ids["run"], "compared")
        return _comparable(lambda: comparison(base, run))


class BaselineView(APIView):
    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT}, summary="Make a run its test's baseline")
    def post(self, request: Request, run_id: Any) -> Response:
        run = _run(request, run_id, "")
        try:
            test = set_baseline(run, _runs(request))
        except NotComparable as exc:
            raise ApiError(409, "not_comparable", str(exc)) from None
        return Response({"test": {"id": test.pk, "name": test.name}, "baseline_id": str(run.pk)})


class TestListView(APIView):
    @extend_schema(operation_id="tests_list", responses={200: OpenApiTypes.OBJECT}, summary="Tests with runs this key can see")
    def get(self, request: Request) -> Response:
        tests = (
            LoadTest.objects.filter(runs__in=_runs(request))
            .annotate(visible_runs=Count("runs", distinct=True), last_run_at=Max("runs__created_at"))
            .select_related("project")
            .order_by("-last_run_at")[:200]
        )
        visible = _runs(request)
        return Response({"results": [_test_row(test, visible) | {"runs": test.visible_runs} for test in tests]})


class TestDetailView(APIView):
    @extend_schema(
        operation_id="tests_retrieve",
        responses={200: OpenApiTypes.OBJECT},
        summary="A test: its baseline and its latest runs with their numbers",
    )
    def get(self, request: Request, test_id: Any) -> Response:
        test = _test(request, test_id)
        runs = runs_for_listing(_runs(request).filter(test=test)).order_by("-created_at")[:50]
        rows = [
            {"run_id": str(run.pk), "created_at": run.created_at.isoformat(), "status": run.status, "verdict": run.verdict or None,
             "grade": run.grade or None, "labels": run.labels, "metrics": headline_metrics(run)}
            for run in runs
        ]  # fmt: skip
        return Response({**_test_row(test, _runs(request)), "runs": rows})


class TrendView(APIView):
    @extend_schema(
        parameters=[LABEL_PARAMETER],
        responses={200: OpenApiTypes.OBJECT},
        summary="p95, p99, RPS, error rate and score over a test's finished runs, labelled, baseline marked",
    )
    def get(self, request: Request, test_id: Any) -> Response:
        test = _test(request, test_id)
        document = trend(test, query_labels(request.query_params.getlist("label")), _runs(request))
        return Response({**document, "baseline_id": _visible_baseline(test, _runs(request))})


class ExperimentView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("label", str, required=True, description="the label that names the variants, e.g. variant"),
            OpenApiParameter("base", str, required=True, description="the variant compared with, e.g. baseline"),
            OpenApiParameter("run", str, required=True, description="the variant compared, e.g. cached"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Two variants of a test's repeated runs: medians with their range, and whether they differ",
    )
    def get(self, request: Request, test_id: Any) -> Response:
        test = _test(request, test_id)
        asked = {name: request.query_params.get(name, "") for name in ("label", "base", "run")}
        if missing := {name: ["Required."] for name, value in asked.items() if not value}:
            raise ApiError(400, "invalid", "Give label, base and run, e.g. ?label=variant&base=baseline&run=cached.", missing)
        return _comparable(lambda: variant_comparison(test, asked["label"], asked["base"], asked["run"], _runs(request)))


def _visible_baseline(test: LoadTest, visible: QuerySet[Run]) -> str | None:
    """The test's baseline, if this key can see it (another key's run stays unnamed)."""
    if test.baseline_id is None or not visible.filter(pk=test.baseline_id).exists():
        return None
    return str(test.baseline_id)


def _test_row(test: LoadTest, visible: QuerySet[Run]) -> dict[str, Any]:
    return {
        "id": test.pk,
        "name": test.name,
        "project": test.project.name,
        "baseline_id": _visible_baseline(test, visible),
        "links": {"self": f"/api/tests/{test.pk}", "trend": f"/api/tests/{test.pk}/trend"},
    }
