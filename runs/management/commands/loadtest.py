from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from runs.api.serializers import BuilderRunSerializer
from runs.cli_output import format_comparison, format_progress, format_summary
from runs.dispatch import run_enqueue
from runs.engine import prometheus
from runs.engine.presets import PRESETS
from runs.engine.targets import TargetRejected, check_target_url
from runs.engine.verdict import FAILED
from runs.engine.vetting import ScriptOptions, ScriptRejected, split_env_pairs
from runs.events import history
from runs.ids import is_uuid
from runs.loadtests import MAX_REPEAT, NotComparable, RunMeta, comparison, group_comparison, label_problems, set_baseline
from runs.models import Run
from runs.pipeline import run_create_from_builder, run_create_from_script, run_create_repeats
from runs.segments import run_here
from runs.selectors import run_result
from runs.workers import k6_workers

VERDICT_FAILED = 1
BAD_INPUT = 2
RUN_FAILED = 3
FOLLOW_POLL_S = 0.5


class Command(BaseCommand):
    help = (
        "Run a load test synchronously and print its graded result. "
        "Exit status: 0 done, 1 the verdict is failed (with --fail-on-sla / --fail-on-verdict; raw k6's 99 "
        "for crossed thresholds lands here), 2 bad input, 3 the run failed or was cancelled."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "url",
            nargs="?",
            help="target URL (builder mode); with --script, what the analyzers look at (default: where the load went)",
        )
        parser.add_argument("--method", default="GET")
        parser.add_argument("--header", action="append", default=[], metavar="'K: V'")
        parser.add_argument("--query", action="append", default=[], metavar="K=V")
        parser.add_argument("--body", help="request body, or @FILE to read it from a file")
        parser.add_argument(
            "--body-type", choices=["json", "form", "raw"], help="default: json when the body parses as JSON, else raw"
        )
        parser.add_argument("--vus", type=int, help="with --script: overrides the script's VUs, as k6's --vus")
        parser.add_argument("--duration", help="e.g. 30s, 5m; with --script: overrides its duration, as k6's --duration")
        parser.add_argument("--iterations", type=int, help="with --script: overrides its iterations, as k6's --iterations")
        parser.add_argument("--stages", help="ramping stages, e.g. 30s:10,1m:50,30s:0")
        parser.add_argument("--preset", choices=PRESETS)
        parser.add_argument("--rate", type=int, help="breakpoint preset: peak arrivals per second")
        parser.add_argument("--check-status", type=int, help="check that every response has this status")
        parser.add_argument("--check-body", help="check that every response body contains this text")
        parser.add_argument(
            "--threshold", action="append", default=[], metavar="METRIC:EXPR", help="e.g. http_req_duration:p(95)<500"
        )
        parser.add_argument("--sla-success-rate", type=float)
        parser.add_argument("--sla-error-rate", type=float)
        parser.add_argument("--sla-p90-ms", type=float)
        parser.add_argument(
            "--script",
            metavar="FILE|BUNDLE",
            help="run this k6 script (.js, .ts), folder bundle (.zip, .tar.gz) or k6 archive (.tar) instead of building one",
        )
        parser.add_argument("--entry", default="", help="the bundle's script to run (default: script.js, index.js, the only one)")
        parser.add_argument(
            "-e",
            "--env",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a variable for __ENV, as k6's -e (names that look like secrets are masked and sealed)",
        )
        parser.add_argument("--project", default="default")
        parser.add_argument("--json", action="store_true", help="print the result document as JSON")
        parser.add_argument(
            "--fail-on-sla",
            "--fail-on-verdict",
            dest="fail_on_verdict",
            action="store_true",
            help="exit 1 when the verdict is failed: an SLA criterion missed, a k6 threshold failed or aborted the run, "
            "or too many arrival-rate iterations dropped",
        )
        parser.add_argument("--queue", action="store_true", help="hand the run to a Celery worker and follow its progress")
        parser.add_argument(
            "--test", default="", help="the test the run belongs to (default: method and URL path, or the entry file)"
        )
        parser.add_argument("--label", action="append", default=[], metavar="K=V", help="e.g. variant=cached, git_sha=$SHA")
        parser.add_argument("--repeat", type=int, default=1, help=f"run it N times in a row (at most {MAX_REPEAT})")
        parser.add_argument(
            "--segments",
            type=int,
            default=1,
            metavar="N",
            help="split the load over N k6 processes on k6 workers of their own (with --queue); results are merged",
        )
        parser.add_argument(
            "--prometheus-url", default="", metavar="URL", help="also send the run's metrics to this remote-write endpoint"
        )
        parser.add_argument(
            "--compare-to", metavar="RUN_ID|baseline", help="compare the result with this run, or the test's baseline"
        )
        parser.add_argument(
            "--fail-on-regression", action="store_true", help="exit 1 when the comparison finds a significant regression"
        )
        parser.add_argument("--set-baseline", action="store_true", help="make this run its test's baseline once it is done")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["queue"] and not settings.REDIS_URL:
            raise CommandError(
                "--queue needs workers: set REDIS_URL (and start `celery -A k6intel worker -Q k6`).", returncode=BAD_INPUT
            )
        if not 1 <= options["repeat"] <= MAX_REPEAT:
            raise CommandError(f"--repeat takes 1 to {MAX_REPEAT}.", returncode=BAD_INPUT)
        if options["fail_on_regression"] and not options["compare_to"]:
            raise CommandError("--fail-on-regression needs --compare-to RUN_ID|baseline.", returncode=BAD_INPUT)
        runs = run_create_repeats(_create_run(options), options["repeat"])
        base = _comparison_base(runs[0], options["compare_to"])  # the baseline before this run may replace it
        progress = None if options["verbosity"] == 0 else _progress_printer()
        for index, queued in enumerate(runs):
            if len(runs) > 1:
                sys.stderr.write(f"Run {index + 1} of {len(runs)}: {queued.pk}\n")
            runs[index] = _follow_queued(queued, progress) if options["queue"] else run_here(queued.pk, progress)
        run = runs[-1]
        document = run_result(run)
        if base is not None:
            document["comparison"] = _comparison(base, runs)
        if options["set_baseline"] and run.status == Run.Status.DONE:
            run.test = set_baseline(run)
            document["test"] = run_result(run)["test"]
        if options["json"]:
            sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
            sys.stdout.flush()
        else:
            self.stdout.write(format_summary(document))
            self.stdout.write(format_comparison(document.get("comparison")))
            self.stdout.write(_report_paths(run))
        _exit(run, document, options["fail_on_verdict"], options["fail_on_regression"])


def _follow_queued(run: Run, progress: Any) -> Run:
    run_enqueue(run)
    sys.stderr.write(f"Queued run {run.pk}; following its progress.\n")
    last_seq = 0
    while True:
        for event in history(run.pk, last_seq):
            last_seq = event["seq"]
            if event["type"] == "metrics" and progress:
                progress(event["data"])
            elif event["type"] == "stage":
                sys.stderr.write(f"stage: {event['data']['stage']}\n")
            elif event["type"] == "end":
                run.refresh_from_db()
                return run
        time.sleep(FOLLOW_POLL_S)


def _progress_printer() -> Any:
    def show(point: dict[str, Any]) -> None:
        sys.stderr.write(format_progress(point) + "\n")
        sys.stderr.flush()

    return show


def _report_paths(run: Run) -> str:
    from reports.render import FILES, report_path  # the reports app's public paths

    found = [(kind, path) for kind in FILES if (path := report_path(run.pk, kind)).exists()]
    width = max((len(kind) for kind, _ in found), default=0) + 2  # summary_csv is longer than the rest
    lines = [f"  {kind:<{width}}{path}" for kind, path in found]
    return "\n".join(["Reports:", *lines]) if lines else "No report files were generated."


def _comparison_base(run: Run, compare_to: str | None) -> Run | None:
    """The run to compare with: one named by id, or the test's baseline (None when it has none yet)."""
    if not compare_to:
        return None
    if compare_to == "baseline":
        baseline = run.test.baseline if run.test else None
        if baseline is None:
            sys.stderr.write(f"Test {run.test.name if run.test else '?'!r} has no baseline yet: nothing to compare with.\n")
        return baseline
    base = Run.objects.filter(pk=compare_to).first() if is_uuid(compare_to) else None
    if base is None:
        raise CommandError(f"--compare-to {compare_to!r}: no such run; give a run id or 'baseline'.", returncode=BAD_INPUT)
    return base


def _comparison(base: Run, runs: list[Run]) -> dict[str, Any]:
    """This run against the base; repeated runs as the medians of the group, with their range."""
    try:
        if len(runs) == 1:
            return {k: v for k, v in comparison(base, runs[0]).items() if k not in ("timeseries", "config_diff", "script_diff")}
        return group_comparison([base], [run for run in runs if run.status == Run.Status.DONE])
    except NotComparable as exc:
        return {"base_id": str(base.pk), "error": str(exc), "metrics": {}, "regressions": []}


def _exit(run: Run, document: dict[str, Any], fail_on_verdict: bool, fail_on_regression: bool = False) -> None:
    if run.status != Run.Status.DONE:
        sys.stderr.write(f"Run {run.status}: {run.error}\n")
        sys.exit(RUN_FAILED)
    verdict = document["verdict"] or {}
    if fail_on_verdict and verdict.get("status") == FAILED:
        sys.exit(VERDICT_FAILED)
    if fail_on_regression and (document.get("comparison") or {}).get("regressions"):
        sys.stderr.write("Regression: " + "; ".join(document["comparison"]["regressions"]) + "\n")
        sys.exit(VERDICT_FAILED)


def _create_run(options: dict[str, Any]) -> Run:
    if options["script"]:
        return _create_script_run(options)
    if not options["url"]:
        raise CommandError("Give a target URL, or --script FILE|BUNDLE.", returncode=BAD_INPUT)
    if options["iterations"] is not None or options["env"] or options["entry"]:
        raise CommandError("--iterations, --env and --entry are for --script runs.", returncode=BAD_INPUT)
    serializer = BuilderRunSerializer(
        data={**_builder_data(options), **_meta_data(options)}, context={"runs_here": not options["queue"]}
    )
    if not serializer.is_valid():
        raise CommandError(_field_errors(serializer.errors), returncode=BAD_INPUT)
    return run_create_from_builder(serializer, meta=serializer.to_meta())


def _meta_data(options: dict[str, Any]) -> dict[str, Any]:
    labels = dict(_split_pair(label, "=", "--label", "key=value") for label in options["label"])
    if problems := label_problems(labels):
        raise CommandError("--label: " + " ".join(problems), returncode=BAD_INPUT)
    url = options["prometheus_url"]
    if url and (problem := prometheus.run_url_problem(url)):
        raise CommandError(f"--prometheus-url: {problem}", returncode=BAD_INPUT)
    segments = options["segments"]
    if not 1 <= segments <= settings.MAX_SEGMENTS:
        raise CommandError(f"--segments: 1 to MAX_SEGMENTS={settings.MAX_SEGMENTS}.", returncode=BAD_INPUT)
    if segments > 1 and options["queue"] and segments > (workers := k6_workers()):
        raise CommandError(f"--segments {segments} needs {segments} k6 workers; {workers} can run k6 now.", returncode=BAD_INPUT)
    return {"test": options["test"], "labels": labels, "prometheus_url": url, "segments": segments}


def _create_script_run(options: dict[str, Any]) -> Run:
    path = Path(options["script"])
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"Cannot read --script {path}: {exc.strerror}.", returncode=BAD_INPUT) from None
    try:
        env = split_env_pairs(options["env"])
    except ValueError as exc:
        raise CommandError(f"-e/--env {exc}", returncode=BAD_INPUT) from None
    if options["url"]:
        try:
            check_target_url(options["url"])
        except TargetRejected as exc:
            raise CommandError(f"The target URL was refused: {exc}", returncode=BAD_INPUT) from None
    script_options = ScriptOptions(
        entry=options["entry"],
        env=env,
        vus=options["vus"],
        duration=options["duration"],
        iterations=options["iterations"],
        target=options["url"] or "",
    )
    try:
        meta = RunMeta(**_meta_data(options))
        return run_create_from_script(
            options["project"], raw, path.name, _sla(options) or None, options=script_options, meta=meta
        )
    except ScriptRejected as exc:
        raise CommandError("The script was rejected:\n  " + "\n  ".join(exc.findings), returncode=BAD_INPUT) from None


def _builder_data(options: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "project_name": options["project"],
        "url": options["url"],
        "method": options["method"].upper(),
        "headers": dict(_split_pair(h, ":", "--header", "'Name: value'") for h in options["header"]),
        "query": dict(_split_pair(q, "=", "--query", "name=value") for q in options["query"]),
        "thresholds": _thresholds(options["threshold"]),
    }
    for key in ("vus", "duration", "preset", "rate"):
        if options[key] is not None:
            data[key] = options[key]
    if options["stages"]:
        data["stages"] = _stages(options["stages"])
    if options["body"] is not None:
        data.update(_body(options["body"], options["body_type"]))
    checks = {"status": options["check_status"], "body_contains": options["check_body"]}
    if any(value is not None for value in checks.values()):
        data["checks"] = checks
    if sla := _sla(options):
        data["sla"] = sla
    return data


def _split_pair(text: str, separator: str, flag: str, example: str) -> tuple[str, str]:
    name, found, value = text.partition(separator)
    if not found or not name.strip():
        raise CommandError(f"{flag} {text!r} is not in the form {example}.", returncode=BAD_INPUT)
    return name.strip(), value.strip()


def _stages(text: str) -> list[dict[str, Any]]:
    stages = []
    for part in text.split(","):
        duration, found, target = part.strip().partition(":")
        if not found or not target.strip().isdigit():
            raise CommandError(f"--stages part {part!r} is not DURATION:VUS, e.g. 30s:10.", returncode=BAD_INPUT)
        stages.append({"duration": duration.strip(), "target": int(target)})
    return stages


def _thresholds(items: list[str]) -> dict[str, list[str]]:
    thresholds: dict[str, list[str]] = {}
    for item in items:
        metric, expression = _split_pair(item, ":", "--threshold", "http_req_duration:p(95)<500")
        thresholds.setdefault(metric, []).append(expression)
    return thresholds


def _body(text: str, body_type: str | None) -> dict[str, Any]:
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read --body file {text[1:]}: {exc}.", returncode=BAD_INPUT) from None
    if body_type is None:
        body_type = "json" if _is_json(text) else "raw"
    if body_type == "json":
        try:
            return {"body_type": "json", "body": orjson.loads(text)}
        except orjson.JSONDecodeError as exc:
            raise CommandError(f"--body is not valid JSON: {exc}.", returncode=BAD_INPUT) from None
    if body_type == "form":
        return {"body_type": "form", "body": dict(parse_qsl(text, keep_blank_values=True))}
    return {"body_type": "raw", "body": text}


def _is_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _sla(options: dict[str, Any]) -> dict[str, float]:
    keys = {"sla_success_rate": "success_rate", "sla_error_rate": "error_rate", "sla_p90_ms": "p90_ms"}
    return {target: options[source] for source, target in keys.items() if options[source] is not None}


def _field_errors(errors: dict[str, Any]) -> str:
    return "\n".join(["The run was not started; fix these:", *_flatten(errors, "")])


def _flatten(errors: Any, prefix: str) -> list[str]:
    if isinstance(errors, dict):
        return [
            line
            for key, value in errors.items()
            for line in _flatten(value, f"{prefix}{key}." if key != "non_field_errors" else prefix)
        ]
    if isinstance(errors, list) and errors and not isinstance(errors[0], str):
        return [line for index, value in enumerate(errors) for line in _flatten(value, f"{prefix}{index}.")]
    return [f"  {prefix.rstrip('.') or 'input'}: {message}" for message in errors]
