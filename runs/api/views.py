"""The public REST API (paths kept from the system k6intel replaces). Views stay thin."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import django_filters
import orjson
from asgiref.sync import sync_to_async
from django import forms
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse, QueryDict, StreamingHttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, parsers, renderers, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from runs.api.apikeys import IsAdminKey, apikey_lookup, request_key, skips_captcha
from runs.api.captcha import Answer, CaptchaInvalid, captcha_check, captcha_issue, captcha_spend
from runs.api.comparisons import query_labels
from runs.api.documents import result_document
from runs.api.downloads import DownloadMissing, artifact_response, run_artifact, run_download
from runs.api.errors import ApiError, error_body
from runs.api.quotas import RETRY_AFTER_S, QuotaExceeded, check_active_runs
from runs.api.result_http import document_response
from runs.api.serializers import BuilderRunSerializer, ScriptOptionsSerializer
from runs.dispatch import run_enqueue
from runs.engine.bundle import MAX_UPLOAD_BYTES, SIZE_LIMITS
from runs.engine.verdict import FAILED, NOT_GRADED, PASSED
from runs.engine.vetting import ScriptRejected
from runs.events import end_seq, history
from runs.loadtests import labelled
from runs.models import ApiKey, Run
from runs.pipeline import run_cancel, run_create_from_builder, run_create_from_script, run_create_repeats
from runs.purge import reset_all
from runs.selectors import headline_metrics, run_links, runs_for_listing, runs_visible_to, runs_visible_to_user

POLL_S = 0.5
KEEPALIVE_S = 15.0
RECONNECT_MS = 3000  # how long an EventSource waits before it reconnects after a dropped stream
RESET_CONFIRMATION = "DELETE ALL"
ACCEPTED = inline_serializer(
    "RunAccepted", {"run_id": serializers.UUIDField(), "status": serializers.CharField(), "links": serializers.DictField()}
)


class EventStreamRenderer(renderers.BaseRenderer):
    """Lets `Accept: text/event-stream` through content negotiation; the view streams the events itself."""

    media_type = "text/event-stream"
    format = "sse"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return orjson.dumps(data)


def _visible_run(request: Request, run_id: Any) -> Run:
    run = runs_visible_to(request_key(request)).filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"No run {run_id} that this API key can see.")
    return run


def _accepted(run: Run, repeats: list[Run] | None = None) -> Response:
    body: dict[str, Any] = {"run_id": str(run.pk), "status": run.status, "test": run.test.name if run.test else None}
    if repeats and len(repeats) > 1:
        body["repeat_run_ids"] = [str(each.pk) for each in repeats]  # run one after another, in this order
    return Response({**body, "links": run_links(run)}, status=status.HTTP_202_ACCEPTED)


class RunCreateView(APIView):
    renderer_classes = [renderers.JSONRenderer, EventStreamRenderer]

    def handle_exception(self, exc: Exception) -> Response:
        # Errors are JSON even for a client that asked for an event stream.
        self.request.accepted_renderer, self.request.accepted_media_type = renderers.JSONRenderer(), "application/json"
        return super().handle_exception(exc)

    @extend_schema(
        request=BuilderRunSerializer,
        responses={(202, "application/json"): ACCEPTED, (200, "text/event-stream"): OpenApiTypes.STR},
        summary="Start a load test (builder mode); with Accept: text/event-stream, follow it",
    )
    def post(self, request: Request) -> HttpResponseBase:
        serializer = BuilderRunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = request_key(request)
        _within_quota(key)
        run = run_create_from_builder(serializer, api_key=key, meta=serializer.to_meta())
        runs = run_create_repeats(run, serializer.validated_data["repeat"])
        run_enqueue(run)  # a repeat's next run starts when the one before it ends
        if request.accepted_renderer.format == "sse":
            return event_stream(run.pk)
        return _accepted(run, runs)


def _within_quota(api_key: ApiKey) -> None:
    try:
        check_active_runs(api_key=api_key)
    except QuotaExceeded as exc:
        raise ApiError(429, "too_many_active_runs", str(exc), retry_after_s=RETRY_AFTER_S) from None


CAPTCHA_RULE = "Required unless the API key is trusted (or an admin key): a challenge from GET /api/captcha."
CAPTCHA_FIELD: dict[str, Any] = {"required": False, "help_text": CAPTCHA_RULE, "error_messages": {"required": CAPTCHA_RULE}}


class ScriptUploadSerializer(ScriptOptionsSerializer):
    project_name = serializers.CharField(max_length=100)
    file = serializers.FileField(help_text=f"a .js/.ts script, a .zip/.tar.gz of a folder or a k6 archive .tar. {SIZE_LIMITS}")
    captcha_answer = serializers.CharField(max_length=100, **CAPTCHA_FIELD)
    captcha_token = serializers.CharField(max_length=200, **CAPTCHA_FIELD)
    captcha_timestamp = serializers.IntegerField(**CAPTCHA_FIELD)

    def __init__(self, *args: Any, captcha_required: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if captcha_required:  # it depends on the key, which the schema can only say in words
            for name in ("captcha_answer", "captcha_token", "captcha_timestamp"):
                self.fields[name].required = True


class RunScriptView(APIView):
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    @extend_schema(
        request={"multipart/form-data": ScriptUploadSerializer},
        responses={202: ACCEPTED},
        summary="Start a k6 script",
        description="A trusted API key (or an admin key) sends no captcha fields; any other key sends all three.",
    )
    def post(self, request: Request) -> Response:
        key = request_key(request)
        form = ScriptUploadSerializer(data=request.data, captcha_required=not skips_captcha(key))
        form.is_valid(raise_exception=True)
        data = form.validated_data
        answer = _captcha_answer(key, data)
        _within_quota(key)
        upload = data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            message = f"The upload is {upload.size} bytes; the limit is {MAX_UPLOAD_BYTES} bytes. {SIZE_LIMITS}"
            raise ApiError(400, "script_rejected", message, {"file": [message]})
        options = form.to_options(data)
        try:
            with transaction.atomic():  # the captcha is used up with the run it starts, or not at all
                run = run_create_from_script(
                    data["project_name"], upload.read(), upload.name, api_key=key, options=options, meta=form.to_meta()
                )
                runs = run_create_repeats(run, data["repeat"])
                if answer is not None:
                    captcha_spend(answer)
        except ScriptRejected as exc:
            raise ApiError(400, "script_rejected", "The script was not run; fix every finding.", {"file": exc.findings}) from None
        except CaptchaInvalid as exc:
            raise _captcha_refused(exc) from None
        run_enqueue(run)
        return _accepted(run, runs)


def _captcha_answer(key: ApiKey, data: dict[str, Any]) -> Answer | None:
    """The request's captcha answer, checked but not used up; None for a key that needs none."""
    if skips_captcha(key):
        return None
    try:
        return captcha_check(data["captcha_answer"], data["captcha_token"], data["captcha_timestamp"], holder=str(key.pk))
    except CaptchaInvalid as exc:
        raise _captcha_refused(exc) from None


def _captcha_refused(exc: CaptchaInvalid) -> ApiError:
    return ApiError(400, "captcha_invalid", str(exc), {"captcha_answer": [str(exc)]})


class CaptchaView(APIView):
    @extend_schema(
        responses=inline_serializer(
            "Captcha",
            {
                "challenge": serializers.CharField(),
                "captcha_token": serializers.CharField(),
                "captcha_timestamp": serializers.IntegerField(),
                "expires_in_s": serializers.IntegerField(),
            },
        ),
        summary="Get a single-use captcha challenge (5 minutes)",
    )
    def get(self, request: Request) -> Response:
        challenge = captcha_issue(holder=str(request.auth.pk))
        return Response(
            {
                "challenge": challenge.question,
                "captcha_token": challenge.token,
                "captcha_timestamp": challenge.timestamp,
                "expires_in_s": 300,
            }
        )


class ResultView(APIView):
    """An ended run's document is stored once and sent as stored (runs/api/documents.py); k6intel/asgi.py
    also sends it through a shortcut that makes this view's checks without Django's request cycle."""

    @extend_schema(
        responses={
            200: OpenApiTypes.OBJECT,
            304: OpenApiResponse(description="Not modified: If-None-Match names the current document's ETag"),
        },
        summary="The whole result of a run (ETag; If-None-Match gets 304 while it is unchanged)",
    )
    def get(self, request: Request, run_id: Any) -> HttpResponseBase:
        # Django's own request: the conditional-GET rules read its headers.
        return document_response(request._request, result_document(_visible_run(request, run_id)))


class RunListForm(forms.Form):
    def clean_ordering(self) -> list[str] | None:
        # django-filter lets empty items through (`ordering=score,`); the schema allows only field names.
        ordering: list[str] | None = self.cleaned_data.get("ordering")
        if ordering and not all(ordering):
            raise forms.ValidationError("An empty item in ordering: list field names, e.g. ordering=-created_at,score.")
        return ordering


class RunListFilter(django_filters.FilterSet):
    project = django_filters.CharFilter(field_name="project__name")
    status = django_filters.ChoiceFilter(choices=Run.Status.choices)
    grade = django_filters.ChoiceFilter(choices=[(g, g) for g in "ABCF"])
    verdict = django_filters.ChoiceFilter(choices=[(v, v) for v in (PASSED, FAILED, NOT_GRADED)])
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    test = django_filters.NumberFilter(field_name="test_id", help_text="a test's id")
    test_name = django_filters.CharFilter(field_name="test__name")
    label = django_filters.CharFilter(method="filter_label", help_text="KEY:VALUE (repeat it for several labels)")
    ordering = django_filters.OrderingFilter(fields=("created_at", "score", "grade", "status"))

    class Meta:
        model = Run
        form = RunListForm
        fields = ["project", "status", "grade", "verdict"]

    def filter_label(self, runs: Any, name: str, value: str) -> Any:
        items = self.data.getlist("label") if isinstance(self.data, QueryDict) else [value]
        return labelled(runs, query_labels(items))


class RunListItemSerializer(serializers.ModelSerializer):
    run_id = serializers.UUIDField(source="pk")
    project = serializers.CharField(source="project.name")
    test = serializers.CharField(source="test.name", allow_null=True, default=None)
    metrics = serializers.SerializerMethodField(help_text="headline numbers: p50/p95/p99 ms, requests/s, error rate, checks")

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_metrics(self, run: Run) -> dict[str, Any] | None:
        return headline_metrics(run)

    class Meta:
        model = Run
        fields = [
            "run_id",
            "project",
            "test",
            "labels",
            "mode",
            "target_url",
            "status",
            "verdict",
            "grade",
            "score",
            "created_at",
            "finished_at",
            "k6_exit_code",
            "metrics",
        ]


class RunPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            message = f"page_size must be a whole number from 1 to {self.max_page_size}."
            raise ApiError(400, "invalid", message, {"page_size": [message]})
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == "page_size":
                parameter["schema"].update({"minimum": 1, "maximum": self.max_page_size})
        return parameters


class ResultListView(generics.ListAPIView):
    serializer_class = RunListItemSerializer
    filterset_class = RunListFilter
    pagination_class = RunPagination
    filter_backends = [DjangoFilterBackend]

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        known = set(RunListFilter.base_filters) | {"page", "page_size"}
        problems = {name: ["Unknown parameter."] for name in request.query_params if name not in known}
        problems |= {
            name: ["Give it once."]
            for name in request.query_params
            if name != "label" and len(request.query_params.getlist(name)) > 1
        }
        problems |= {
            name: ["Leave the filter out rather than sending it empty."]
            for name, value in request.query_params.items()
            if value == ""
        }
        if problems:
            raise ApiError(400, "invalid", f"Use only these parameters, with values: {', '.join(sorted(known))}.", problems)
        return super().list(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no key
            return Run.objects.none()
        return runs_for_listing(runs_visible_to(request_key(self.request))).order_by("-created_at")


class DownloadView(APIView):
    @extend_schema(
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, 404: OpenApiResponse(description="not ready")},
        summary="A generated file of a run: the PDF, or the html, json, csv or junit export",
    )
    def get(self, request: Request, run_id: Any, kind: str = "pdf") -> FileResponse:
        run = _visible_run(request, run_id)
        try:
            download = run_download(run, kind)
        except DownloadMissing as exc:
            raise ApiError(404, exc.code, str(exc)) from None
        return FileResponse(download.path.open("rb"), content_type=download.content_type, filename=download.filename)


class DownloadExportView(DownloadView):
    @extend_schema(
        operation_id="download_export",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: OpenApiResponse(description="not ready")},
        summary="An export of a run: html, json, csv or junit",
    )
    def get(self, request: Request, run_id: Any, kind: str = "pdf") -> FileResponse:
        return super().get(request, run_id, kind)


class ArtifactView(APIView):
    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: OpenApiResponse(description="no such file")},
        summary="A file the run's handleSummary wrote (listed in the result's artifacts)",
    )
    def get(self, request: Request, run_id: Any, name: str) -> HttpResponse:
        run = _visible_run(request, run_id)
        try:
            return artifact_response(run_artifact(run, name))
        except DownloadMissing as exc:
            raise ApiError(404, exc.code, str(exc)) from None


class CancelView(APIView):
    @extend_schema(request=None, responses={202: ACCEPTED}, summary="Cancel a run; k6 stops gracefully, partial results kept")
    def post(self, request: Request, run_id: Any) -> Response:
        run = _visible_run(request, run_id)
        if run.is_terminal:
            raise ApiError(409, "already_ended", f"Run {run.pk} has already ended ({run.status}).")
        return _accepted(run_cancel(run.pk))


class ResetSerializer(serializers.Serializer):
    confirm = serializers.CharField(help_text=f"must be exactly {RESET_CONFIRMATION!r}")

    def validate_confirm(self, value: str) -> str:
        if value != RESET_CONFIRMATION:
            raise serializers.ValidationError(f"Send confirm: {RESET_CONFIRMATION!r} to delete every run and file.")
        return value


class ResetDataView(APIView):
    permission_classes = [IsAdminKey]

    @extend_schema(request=ResetSerializer, responses=OpenApiTypes.OBJECT, summary="Delete every run, result and file")
    def post(self, request: Request) -> Response:
        if not _from_loopback(request):
            raise ApiError(403, "not_loopback", "Reset is allowed only from the machine itself (loopback).")
        ResetSerializer(data=request.data).is_valid(raise_exception=True)
        purged = reset_all()
        return Response({"deleted": {"runs": purged.runs, "projects": purged.projects, "files": purged.files}})


def _from_loopback(request: Request) -> bool:
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


# --- server-sent events ------------------------------------------------------------


async def run_events(request: HttpRequest, run_id: Any) -> HttpResponseBase:
    """The run's events (history first, then live) until its end. X-API-Key, or a logged-in session."""
    visible = await _sse_visible_runs(request)
    if visible is None:
        return JsonResponse(error_body("not_authenticated", "Send your API key in the X-API-Key header."), status=401)
    if not await visible.filter(pk=run_id).aexists():
        return JsonResponse(error_body("not_found", f"No run {run_id} that you can see."), status=404)
    last_event_id = request.headers.get("Last-Event-ID", "")
    after_seq = int(last_event_id) if last_event_id.isdigit() else 0  # a reconnecting client resumes
    if after_seq and (ended_at := await sync_to_async(end_seq)(run_id)) is not None and ended_at <= after_seq:
        return HttpResponse(status=204)  # it has seen the end: 204 is what tells an EventSource to stop reconnecting
    return event_stream(run_id, after_seq)


async def _sse_visible_runs(request: HttpRequest) -> Any:
    key = request.headers.get("X-API-Key")
    if key:
        record: ApiKey | None = await sync_to_async(apikey_lookup)(key)
        return runs_visible_to(record) if record else None
    user = await request.auser()
    return runs_visible_to_user(user) if user.is_authenticated else None


def event_stream(run_id: Any, after_seq: int = 0) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_stream(run_id, after_seq), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _stream(run_id: Any, after_seq: int) -> AsyncIterator[bytes]:
    # The server sends the headers with the first chunk: without this one, a client following a queued
    # run would see nothing, not even the status line, until the first event or keep-alive.
    yield f"retry: {RECONNECT_MS}\n\n".encode()
    idle_s = 0.0
    while True:
        events = await sync_to_async(history)(run_id, after_seq)
        for event in events:
            after_seq = event["seq"]
            yield f"id: {event['seq']}\nevent: {event['type']}\n".encode() + b"data: " + orjson.dumps(event) + b"\n\n"
            if event["type"] == "end":
                return
        idle_s = 0.0 if events else idle_s + POLL_S
        if idle_s >= KEEPALIVE_S:
            idle_s = 0.0
            yield b": keep-alive\n\n"
        await asyncio.sleep(POLL_S)
