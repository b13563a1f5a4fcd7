"""The browser UI: dashboard, new test, script upload, run page, run list, tests, comparisons. Views stay thin."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from runs.api.downloads import DownloadMissing, artifact_response, available_downloads, run_artifact, run_download
from runs.api.quotas import QuotaExceeded, check_active_runs
from runs.dispatch import run_enqueue
from runs.engine.presets import preset_outline
from runs.engine.script import render_script
from runs.engine.secrets import MASK
from runs.engine.vetting import ScriptRejected
from runs.ids import is_uuid
from runs.loadtests import NotComparable, set_baseline
from runs.models import Run
from runs.pipeline import run_cancel, run_create_again, run_create_from_builder, run_create_from_script, run_create_repeats
from runs.purge import run_files_dir
from runs.selectors import runs_for_listing, runs_visible_to_user
from runs.web import comparisons
from runs.web.forms import (
    BuilderForm,
    CaptchaForm,
    CaptchaUsed,
    CompareForm,
    ExperimentForm,
    LabelFilterForm,
    RunFilterForm,
    RunMetaFields,
    ScriptUploadForm,
    labels_text,
)
from runs.web.presentation import is_cancellable, run_page_context

RUNS_PER_PAGE = 20
TESTS_PER_PAGE = 50
FILMSTRIP_FILE = re.compile(r"^[A-Za-z0-9_-]{1,80}\.(jpg|jpeg|png)$")


class AuthenticatedHttpRequest(HttpRequest):
    """What a login_required view gets: request.user is a signed-in User (for the type checker)."""

    user: User


def _visible_run(request: HttpRequest, run_id: Any) -> Run:
    run = runs_visible_to_user(request.user).filter(pk=run_id).first()
    if run is None:
        raise Http404(f"No run {run_id} that you can see.")
    return run


@login_required
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    runs = runs_visible_to_user(request.user)
    # Counted over the user's own runs: a shared project name must not reveal how much others ran.
    projects = runs.order_by().values("project__name").annotate(run_count=Count("pk")).order_by("project__name")[:20]
    context = {
        "recent": _with_metrics(runs_for_listing(runs).order_by("-created_at")[:10]),
        "active": runs.filter(status__in=[Run.Status.RUNNING, Run.Status.ANALYZING]).count(),
        "queued": runs.filter(status=Run.Status.QUEUED).count(),
        "total": runs.count(),
        "projects": projects,
    }
    return render(request, "runs/dashboard.html", context)


@login_required
def run_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = RunFilterForm(request.GET or None)
    visible = runs_visible_to_user(request.user)
    runs = runs_for_listing(visible).order_by("-created_at")
    if form.is_bound and form.is_valid():
        runs = _filtered(runs, form.cleaned_data)
    context = {
        "form": form,
        **_runs_page(request, runs),
        "test_names": comparisons.tests_of(visible).values_list("name", flat=True)[:200],
        "suggestions": comparisons.label_suggestions(visible),
    }
    return render(request, "runs/run_list.html", context)


def _runs_page(request: HttpRequest, runs: QuerySet[Run]) -> dict[str, Any]:
    """A page of runs as table rows, and the query string that keeps the filters from page to page."""
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {"page": page, "rows": _with_metrics(page.object_list), "query": query.urlencode()}


def _filtered(runs: QuerySet[Run], filters: dict[str, Any]) -> QuerySet[Run]:
    if filters["q"]:
        query = filters["q"]
        runs = runs.filter(Q(target_url__icontains=query) | Q(project__name__icontains=query) | Q(test__name__icontains=query))
    if filters["project"]:
        runs = runs.filter(project__name=filters["project"])
    if filters["test"]:
        runs = runs.filter(test__name=filters["test"])
    runs = comparisons.labelled(runs, filters["label"])
    if filters["status"]:
        runs = runs.filter(status=filters["status"])
    if filters["grade"]:
        runs = runs.filter(grade=filters["grade"])
    if filters["since"]:
        runs = runs.filter(created_at__date__gte=filters["since"])
    if filters["until"]:
        runs = runs.filter(created_at__date__lte=filters["until"])
    return runs


def _with_metrics(runs: Iterable[Run]) -> list[dict[str, Any]]:
    """Rows for run tables: the run and the headline numbers of its result, when it has one."""
    rows = []
    for run in runs:
        metrics = run.result.metrics if hasattr(run, "result") else {}
        rows.append(
            {
                "run": run,
                "p95_ms": metrics.get("http_req_duration", {}).get("p95"),
                "error_rate": metrics.get("http_req_failed", {}).get("rate"),
                "rps": metrics.get("http_reqs", {}).get("rate"),
                "is_baseline": run.test is not None and run.test.baseline_id == run.pk,
            }
        )
    return rows


@login_required
def run_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    preview = None
    if request.method == "POST":
        form, captcha = BuilderForm(request.POST), CaptchaForm(request.POST, user=request.user)
        if "preview" in request.POST:
            if not captcha.is_valid():  # a preview uses no answer up: a right one is kept, else a new challenge
                captcha = CaptchaForm(user=request.user)
            if form.is_valid():
                assert form.serializer is not None  # a valid form holds its valid serializer
                preview = render_script(form.serializer.to_plan())
        elif _all_valid(form, captcha) and _within_quota(request, form):
            serializer = form.serializer
            assert serializer is not None
            if run := _create_spending(
                captcha, lambda: run_create_from_builder(serializer, owner=request.user, meta=form.meta), form
            ):
                return _started(request, run, form.repeat_count)
    else:
        form, captcha = BuilderForm(initial=_initial_from(request)), CaptchaForm(user=request.user)
    outlines = {preset["value"]: _outline_points(preset["value"]) for preset in form.preset_choices()}
    context = {"form": form, "captcha": captcha, "preview": preview, "outlines": outlines}
    return render(request, "runs/run_new.html", context)


def _initial_from(request: HttpRequest) -> dict[str, Any]:
    """'Run again': the form filled in from an earlier builder run the user can see."""
    source_id = request.GET.get("from")
    if not source_id:
        return {}
    source = (
        runs_visible_to_user(request.user).filter(pk=source_id, mode=Run.Mode.BUILDER).first() if is_uuid(source_id) else None
    )
    if source is None:
        return {}
    return _spec_as_initial(source.spec) | _meta_initial(source)


def _meta_initial(earlier: Run) -> dict[str, Any]:
    """'Run again' stays in the earlier run's test, with its labels."""
    return {"test": earlier.test.name if earlier.test else "", "labels": labels_text(earlier.labels)}


def _spec_as_initial(spec: dict[str, Any]) -> dict[str, Any]:
    initial = {
        key: spec[key] for key in ("project_name", "url", "method", "body_type", "vus", "duration", "rate") if spec.get(key)
    }
    initial["preset"] = spec.get("preset") or ""
    # Masked credential values are left out: the user types them again.
    initial["headers"] = "\n".join(f"{k}: {v}" for k, v in (spec.get("headers") or {}).items() if v != "••••")
    initial["query"] = "\n".join(f"{k}={v}" for k, v in (spec.get("query") or {}).items())
    initial["stages"] = "\n".join(f"{stage['duration']} {stage['target']}" for stage in spec.get("stages") or [])
    initial["body"] = _body_text(spec.get("body_type"), spec.get("body"))
    initial["thresholds"] = "\n".join(f"{metric}: {', '.join(exprs)}" for metric, exprs in (spec.get("thresholds") or {}).items())
    checks, sla = spec.get("checks") or {}, spec.get("sla") or {}
    initial |= {"check_status": checks.get("status"), "check_body_contains": checks.get("body_contains") or ""}
    # The spec is the input as sent: API clients may have sent numbers as strings.
    for field, key, scale in (
        ("sla_p90_ms", "p90_ms", 1),
        ("sla_error_percent", "error_rate", 100),
        ("sla_success_percent", "success_rate", 100),
    ):
        try:
            initial[field] = round(scale * float(sla[key]), 3)
        except (KeyError, TypeError, ValueError):
            pass
    if "analyzers" in spec:
        initial["analyzers"] = spec["analyzers"]
    return initial


def _body_text(body_type: str | None, body: Any) -> str:
    if body in (None, ""):
        return ""
    if body_type == "json":
        return json.dumps(body, indent=2)
    if body_type == "form" and isinstance(body, dict):
        return "\n".join(f"{k}={v}" for k, v in body.items())
    return str(body)


def _outline_points(preset: str) -> str:
    """SVG polyline points of a preset's load shape in a 100 × 40 box."""
    outline = preset_outline(preset) if preset else [(0.0, 0.0), (0.1, 0.8), (0.9, 0.8), (1.0, 0.0)]
    return " ".join(f"{100 * t:.1f},{40 - 36 * load:.1f}" for t, load in outline)


@login_required
def run_upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    findings: list[dict[str, Any]] = []
    if request.method == "POST":
        form, captcha = ScriptUploadForm(request.POST, request.FILES), CaptchaForm(request.POST, user=request.user)
        earlier = _earlier_script_run(request, request.POST.get("again"))
        if _all_valid(form, captcha) and _within_quota(request, form):
            try:
                run = _create_spending(captcha, _script_run_creator(request, form, earlier), form)
            except ScriptRejected as exc:
                run, findings = None, _findings_shown(exc)
            if run is not None:
                return _started(request, run, form.repeat_count)
    else:
        earlier = _earlier_script_run(request, request.GET.get("from"))
        form, captcha = ScriptUploadForm(initial=_script_initial(earlier)), CaptchaForm(user=request.user)
    context = {"form": form, "captcha": captcha, "findings": findings, "earlier": earlier}
    return render(request, "runs/run_upload.html", context)


def _earlier_script_run(request: HttpRequest, run_id: str | None) -> Run | None:
    """The script run 'Run again' started from, if the user can see it."""
    if not run_id or not is_uuid(run_id):
        return None
    return runs_visible_to_user(request.user).filter(pk=run_id, mode=Run.Mode.SCRIPT).first()


def _script_run_creator(request: AuthenticatedHttpRequest, form: ScriptUploadForm, earlier: Run | None) -> Callable[[], Run]:
    data, upload = form.cleaned_data, form.cleaned_data.get("file")
    if upload:
        raw = upload.read()
        return lambda: run_create_from_script(
            data["project_name"], raw, upload.name, owner=request.user, options=form.options, meta=form.meta
        )
    if earlier is None:
        raise ScriptRejected(["The run to start again is gone, or not yours to see; upload the files instead."])
    return lambda: run_create_again(earlier, form.options, owner=request.user, meta=form.meta)


def _script_initial(earlier: Run | None) -> dict[str, Any]:
    """'Run again': the earlier script run's options; sealed values are left for the user to type again."""
    if earlier is None:
        return {}
    spec = earlier.spec
    env = spec.get("env") or {}
    initial = {key: spec[key] for key in ("entry", "vus", "duration", "iterations") if spec.get(key)}
    initial["env"] = "\n".join(f"{key}={'' if value == MASK else value}" for key, value in env.items())
    initial |= {"project_name": earlier.project.name, "target_url": spec.get("target") or "", "again": earlier.pk}
    return initial | _meta_initial(earlier)


def _all_valid(*forms: Any) -> bool:
    """Each form checked, whatever the others say: each shows its errors, and a right captcha answer is kept."""
    return all([form.is_valid() for form in forms])


def _create_spending(captcha: CaptchaForm, create: Callable[[], Run], form: RunMetaFields) -> Run | None:
    """The run `create` stores (and its repeats), with the captcha used up in the same transaction (a refused
    run keeps it); None if another request used the captcha first (its form says so)."""
    try:
        with transaction.atomic():
            run = create()
            run_create_repeats(run, form.repeat_count)
            captcha.spend()
    except CaptchaUsed:
        return None
    return run


def _started(request: HttpRequest, run: Run, repeat: int) -> HttpResponse:
    run_enqueue(run)  # a repeat's next run starts when the one before it ends
    if repeat > 1:
        messages.info(request, f"This is run 1 of {repeat}: the others follow one after another, in the same test.")
    return redirect("run-detail", run_id=run.pk)


def _within_quota(request: HttpRequest, form: Any) -> bool:
    """False, with the reason as a form error (nothing typed is lost), when the user has too many active runs."""
    try:
        check_active_runs(owner=request.user)
    except QuotaExceeded as exc:
        form.add_error(None, str(exc))
        return False
    return True


def _findings_shown(rejected: ScriptRejected) -> list[dict[str, Any]]:
    """Each finding with its file, line and the offending source; the rest (limits, k6's own errors) as said."""
    shown = [
        {"path": found.path, "line": found.line, "message": found.message, "source": found.source} for found in rejected.located
    ]
    located = {f"{found.path} line {found.line}: {found.message}" for found in rejected.located}
    return shown + [{"message": finding} for finding in rejected.findings if finding not in located]


@login_required
def run_detail(request: AuthenticatedHttpRequest, run_id: Any) -> HttpResponse:
    run = _visible_run(request, run_id)
    context = run_page_context(run, available_downloads(run), runs_visible_to_user(request.user))
    return render(request, "runs/run_detail.html", context)


@login_required
@require_POST
def run_make_baseline(request: AuthenticatedHttpRequest, run_id: Any) -> HttpResponse:
    run = _visible_run(request, run_id)
    if run.status != Run.Status.DONE:
        messages.error(request, f"Only a finished run can be a baseline; this one is {run.status}.")
        return redirect("run-detail", run_id=run.pk)
    try:
        test = set_baseline(run, runs_visible_to_user(request.user))
    except NotComparable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"This run is now the baseline of {test.name}: every new run of the test is compared with it.")
    return redirect("run-detail", run_id=run.pk)


@login_required
def test_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    visible = runs_visible_to_user(request.user)
    page = Paginator(comparisons.tests_of(visible), TESTS_PER_PAGE).get_page(request.GET.get("page"))
    tests = list(page.object_list)
    baselines = comparisons.visible_baselines(tests, visible)
    rows = [{"test": test, "baseline_at": baselines.get(test.baseline_id)} for test in tests]
    return render(request, "runs/test_list.html", {"page": page, "rows": rows})


@login_required
def test_detail(request: AuthenticatedHttpRequest, test_id: int) -> HttpResponse:
    visible = runs_visible_to_user(request.user)
    test = comparisons.tests_of(visible).filter(pk=test_id).first()
    if test is None:
        raise Http404(f"No test {test_id} with runs that you can see.")
    filters = LabelFilterForm(request.GET)
    labels = filters.cleaned_data["label"] if filters.is_valid() else {}
    experiment = ExperimentForm(request.GET if "key" in request.GET else None, initial={"key": "variant"})
    runs = runs_for_listing(comparisons.labelled(visible.filter(test=test), labels)).order_by("-created_at")
    context = {
        "test": test,
        "filters": filters,
        "labels": labels,
        "experiment_form": experiment,
        **_runs_page(request, runs),
        **comparisons.test_page(test, visible, labels, experiment),
    }
    return render(request, "runs/test_detail.html", context)


@login_required
def compare(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = CompareForm(request.GET)
    if not form.is_valid():
        return render(request, "runs/compare.html", {"form": form}, status=400)
    visible = runs_visible_to_user(request.user)
    try:
        context = comparisons.compare_page(visible, form.cleaned_data["base"], form.cleaned_data["run"])
    except comparisons.CannotCompare as exc:
        return render(request, "runs/compare.html", {"form": form, "error": str(exc)}, status=exc.status)
    return render(request, "runs/compare.html", {"form": form, **context})


@login_required
@require_POST
def run_cancel_view(request: AuthenticatedHttpRequest, run_id: Any) -> HttpResponse:
    run = _visible_run(request, run_id)
    if not is_cancellable(run):
        messages.info(request, f"Nothing to cancel: the load test has already ended ({run.status}, {run.stage or 'no stage'}).")
    else:
        run_cancel(run.pk)
        messages.success(request, "Cancelling: k6 stops gracefully and the partial results are kept.")
    return redirect("run-detail", run_id=run.pk)


@login_required
def run_download_view(request: AuthenticatedHttpRequest, run_id: Any, kind: str) -> FileResponse:
    run = _visible_run(request, run_id)
    try:
        download = run_download(run, kind)
    except DownloadMissing as exc:
        raise Http404(str(exc)) from None
    inline = kind == "html"  # the HTML report opens in the browser; the rest download
    response = FileResponse(
        download.path.open("rb"), content_type=download.content_type, filename=download.filename, as_attachment=not inline
    )
    if inline:
        # The report runs its own chart script; sandboxed, it gets no access to this site's cookies or pages.
        response["Content-Security-Policy"] = "sandbox allow-scripts"
    return response


@login_required
def run_artifact_view(request: AuthenticatedHttpRequest, run_id: Any, name: str) -> HttpResponse:
    run = _visible_run(request, run_id)
    try:
        return artifact_response(run_artifact(run, name))
    except DownloadMissing as exc:
        raise Http404(str(exc)) from None


@login_required
def run_filmstrip_frame(request: AuthenticatedHttpRequest, run_id: Any, name: str) -> FileResponse:
    run = _visible_run(request, run_id)
    path = run_files_dir(run.pk) / "filmstrip" / name
    if not FILMSTRIP_FILE.match(name) or not path.is_file():
        raise Http404("No such filmstrip frame.")
    return FileResponse(path.open("rb"), content_type="image/png" if name.endswith(".png") else "image/jpeg")
