"""Validation of builder input, shared by the CLI and (later) the API and forms.

Errors come back per field, worded so the user knows what to change.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from django.conf import settings
from rest_framework import serializers

from k6intel.env import parse_duration_s
from runs.engine import prometheus
from runs.engine.presets import PRESET_DEFAULT_DURATION_S, PRESETS, LoadShape, Stage, constant_shape, preset_shape, staged_shape
from runs.engine.script import BODY_TYPES, METHODS, Checks, RequestSpec, ScriptPlan
from runs.engine.secrets import split_headers, split_query
from runs.engine.targets import TargetRejected, check_target_url
from runs.engine.vetting import MAX_ENV_VALUE_CHARS, ScriptOptions, split_env_pairs
from runs.loadtests import MAX_REPEAT, RunMeta, label_problems
from runs.workers import k6_workers
from scanners import KINDS as ANALYZER_KINDS

HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\{[^{}]{1,200}\})?$")
THRESHOLD_EXPR = re.compile(
    r"^\s*(avg|min|max|med|count|rate|value|p\(\d{1,2}(\.\d{1,3})?\))\s*(<|<=|>|>=|==|===|!=)\s*-?\d+(\.\d+)?\s*$"
)
MAX_HEADERS = 50
MAX_STAGES = 50
MAX_BODY_CHARS = 1_000_000
DEFAULT_DURATION_S = 30


def _duration_s(value: str) -> int:
    seconds = parse_duration_s(value)
    if seconds is None or seconds < 1:
        raise serializers.ValidationError(f"{value!r} is not a duration; write it like k6 does: 30s, 5m, 1m30s.")
    return round(seconds)


class StageSerializer(serializers.Serializer):
    duration = serializers.CharField(max_length=20)
    target = serializers.IntegerField(min_value=0)

    def validate_duration(self, value: str) -> int:
        return _duration_s(value)


class ChecksSerializer(serializers.Serializer):
    status = serializers.IntegerField(min_value=100, max_value=599, required=False, allow_null=True)
    body_contains = serializers.CharField(max_length=500, required=False, allow_blank=True, allow_null=True)


class SlaSerializer(serializers.Serializer):
    success_rate = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    error_rate = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    p90_ms = serializers.FloatField(min_value=1.0, max_value=3_600_000.0, required=False)


class PairsField(serializers.ListField):
    """Key/value pairs (run variables as k6's `-e`, labels): repeated `KEY=VALUE` form fields, or one JSON
    object of strings (in a JSON body, the object itself)."""

    child = serializers.CharField(max_length=MAX_ENV_VALUE_CHARS + 200, trim_whitespace=False)

    def to_internal_value(self, data: Any) -> dict[str, str]:  # type: ignore[override]  # pairs in, a mapping out
        if isinstance(data, dict):
            pairs = data
        elif not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise serializers.ValidationError('Give {"KEY": "value", …} or KEY=VALUE items.')
        elif len(data) == 1 and isinstance(data[0], str) and data[0].lstrip().startswith("{"):
            try:
                pairs = orjson.loads(data[0])
            except orjson.JSONDecodeError as exc:
                raise serializers.ValidationError(f"Not a JSON object: {exc}.") from None
        else:
            try:
                return split_env_pairs(super().to_internal_value(data))
            except ValueError as exc:
                raise serializers.ValidationError(str(exc)) from None
        if not isinstance(pairs, dict) or not all(isinstance(value, str) for value in pairs.values()):
            raise serializers.ValidationError('Give {"KEY": "value", …} with text values, or KEY=VALUE fields.')
        return {str(key): value for key, value in pairs.items()}


class RunMetaSerializer(serializers.Serializer):
    """Where a run belongs: its test and labels; and `repeat`, to run it several times in a row."""

    test = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="the test it belongs to (default: method and URL path, or the script's entry file)",
    )
    labels = PairsField(required=False, help_text="e.g. variant, git_sha, branch, environment: K=V fields or one JSON object")
    repeat = serializers.IntegerField(
        min_value=1, max_value=MAX_REPEAT, default=1, help_text="run it this many times, one after another"
    )
    prometheus_url = serializers.URLField(
        required=False,
        allow_blank=True,
        max_length=2048,
        help_text="a Prometheus remote-write endpoint k6 also sends this run's metrics to (where PROMETHEUS_RW_PER_RUN allows)",
    )

    segments = serializers.IntegerField(
        min_value=1,
        default=1,
        help_text="split the test over this many k6 processes, each on a k6 worker of its own (at most MAX_SEGMENTS)",
    )

    def validate_segments(self, value: int) -> int:
        if value > settings.MAX_SEGMENTS:
            raise serializers.ValidationError(f"At most MAX_SEGMENTS={settings.MAX_SEGMENTS} segments.")
        # A run the CLI executes itself runs its segments in threads of its own: no worker is needed.
        if value > 1 and not self.context.get("runs_here") and value > (workers := k6_workers()):
            raise serializers.ValidationError(
                f"{value} segments need {value} free k6 workers; {workers} can run k6 now. "
                "Start more k6-queue workers, or ask for fewer segments."
            )
        return value

    def validate_prometheus_url(self, value: str) -> str:
        if value and (problem := prometheus.run_url_problem(value)):
            raise serializers.ValidationError(problem)
        return value

    def validate_labels(self, value: dict[str, str]) -> dict[str, str]:
        if problems := label_problems(value):
            raise serializers.ValidationError(problems)
        return value

    def to_meta(self) -> RunMeta:
        data = self.validated_data
        return RunMeta(
            test=(data.get("test") or "").strip(),
            labels=data.get("labels") or {},
            prometheus_url=data.get("prometheus_url") or "",
            segments=data.get("segments") or 1,
        )


class BuilderRunSerializer(RunMetaSerializer):
    project_name = serializers.CharField(max_length=100, default="default")
    url = serializers.CharField(max_length=2048)
    method = serializers.ChoiceField(choices=METHODS, default="GET")
    headers = serializers.DictField(child=serializers.CharField(max_length=8192, allow_blank=True), default=dict)
    query = serializers.DictField(child=serializers.CharField(max_length=2048, allow_blank=True), default=dict)
    body_type = serializers.ChoiceField(choices=BODY_TYPES, default="none")
    body = serializers.JSONField(required=False, allow_null=True)
    vus = serializers.IntegerField(min_value=1, default=10)
    duration = serializers.CharField(max_length=20, required=False)
    stages = StageSerializer(many=True, required=False)
    preset = serializers.ChoiceField(choices=PRESETS, required=False, allow_null=True)
    rate = serializers.IntegerField(
        min_value=1, max_value=100_000, required=False, help_text="breakpoint: peak arrivals per second"
    )
    checks = ChecksSerializer(required=False)
    thresholds = serializers.DictField(child=serializers.ListField(child=serializers.CharField(max_length=100)), default=dict)
    sla = SlaSerializer(required=False)
    analyzers = serializers.ListField(
        child=serializers.ChoiceField(choices=ANALYZER_KINDS),
        required=False,
        allow_empty=True,
        max_length=len(ANALYZER_KINDS),
        help_text="Analyzers to run on the target after k6; all enabled ones when left out.",
    )

    def validate_project_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("Give the project a name.")
        return value

    def validate_url(self, value: str) -> str:
        try:
            check_target_url(value)
        except TargetRejected as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value

    def validate_headers(self, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_HEADERS:
            raise serializers.ValidationError(f"At most {MAX_HEADERS} headers.")
        for name, header_value in value.items():
            if not HEADER_NAME.match(name):
                raise serializers.ValidationError(f"{name!r} is not a valid header name.")
            if "\r" in header_value or "\n" in header_value:
                raise serializers.ValidationError(f"The value of {name!r} contains a line break.")
        return value

    def validate_duration(self, value: str) -> int:
        return _duration_s(value)

    def validate_stages(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not value:
            raise serializers.ValidationError("Give at least one stage, like 30s:10.")
        if len(value) > MAX_STAGES:
            raise serializers.ValidationError(f"At most {MAX_STAGES} stages.")
        if not any(stage["target"] > 0 for stage in value):
            raise serializers.ValidationError("At least one stage needs a target above 0 VUs.")
        return value

    def validate_thresholds(self, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for metric, expressions in value.items():
            if not METRIC_NAME.match(metric):
                raise serializers.ValidationError(f"{metric!r} is not a k6 metric name (e.g. http_req_duration).")
            for expression in expressions:
                if not THRESHOLD_EXPR.match(expression):
                    raise serializers.ValidationError(
                        f"{expression!r} is not a threshold; write it like 'p(95)<500' or 'rate<0.01'."
                    )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _check_body(attrs)
        if attrs.get("stages") and attrs.get("preset"):
            raise serializers.ValidationError({"stages": "Use either stages or a preset, not both."})
        if attrs.get("stages") and attrs.get("duration"):
            raise serializers.ValidationError({"duration": "Stages carry their own durations; leave duration out."})
        shape = _shape(attrs)
        if shape.max_vus > settings.MAX_VUS:
            raise serializers.ValidationError(
                {"vus": f"This run would reach {shape.max_vus} VUs; the limit is MAX_VUS={settings.MAX_VUS}."}
            )
        if attrs.get("segments", 1) > shape.max_vus:
            raise serializers.ValidationError(
                {
                    "segments": f"Each segment runs at least one VU: {attrs['segments']} segments need {attrs['segments']} VUs or more."
                }
            )
        if shape.planned_duration_s > settings.MAX_DURATION_S:
            raise serializers.ValidationError(
                {
                    "duration": f"This run would last {shape.planned_duration_s} s; the limit is MAX_DURATION={settings.MAX_DURATION_S} s."
                }
            )
        attrs["shape"] = shape
        return attrs

    def to_plan(self) -> ScriptPlan:
        data = self.validated_data
        checks = data.get("checks") or {}
        public_headers, secret_headers = split_headers(data["headers"])
        url, public_query, secret_query = split_query(data["url"], data["query"])
        request = RequestSpec(
            url=url,
            method=data["method"],
            headers=public_headers,
            query=public_query,
            body_type=data["body_type"],
            body=data.get("body"),
        )
        return ScriptPlan(
            request=request,
            shape=data["shape"],
            checks=Checks(status=checks.get("status"), body_contains=checks.get("body_contains") or None),
            thresholds=data["thresholds"],
            user_agent=settings.USER_AGENT,
            project_name=data["project_name"],
            preset=data.get("preset"),
            secret_header_names=tuple(secret_headers),
            secret_query_names=tuple(secret_query),
        )

    def secrets(self) -> dict[str, dict[str, str]]:
        """What the run's script reads from secrets.json: credential headers and query parameters."""
        data = self.validated_data
        secrets = {"headers": split_headers(data["headers"])[1], "query": split_query(data["url"], data["query"])[2]}
        return {kind: values for kind, values in secrets.items() if values}


def _check_body(attrs: dict[str, Any]) -> None:
    body_type, body = attrs["body_type"], attrs.get("body")
    if body_type == "none" and body not in (None, ""):
        raise serializers.ValidationError({"body_type": "A body was given; set body_type to json, form or raw."})
    if body_type == "form" and not (isinstance(body, dict) and all(isinstance(v, str) for v in body.values())):
        raise serializers.ValidationError({"body": "A form body is an object of field names to string values."})
    if body_type == "raw" and not isinstance(body, str):
        raise serializers.ValidationError({"body": "A raw body is a string."})
    if body_type != "none" and len(str(body)) > MAX_BODY_CHARS:
        raise serializers.ValidationError({"body": f"The body is larger than {MAX_BODY_CHARS} characters."})
    if attrs["method"] in ("GET", "HEAD") and body_type != "none":
        raise serializers.ValidationError({"body": f"{attrs['method']} requests carry no body; use POST, PUT or PATCH."})


def _shape(attrs: dict[str, Any]) -> LoadShape:
    vus = attrs["vus"]
    if attrs.get("stages"):
        return staged_shape([Stage(stage["duration"], stage["target"]) for stage in attrs["stages"]])
    preset = attrs.get("preset")
    if preset:
        duration_s = attrs.get("duration") or min(PRESET_DEFAULT_DURATION_S[preset], settings.MAX_DURATION_S)
        return preset_shape(preset, vus, duration_s, attrs.get("rate"))
    return constant_shape(vus, attrs.get("duration") or DEFAULT_DURATION_S)


class ScriptOptionsSerializer(RunMetaSerializer):
    """What a script run may set, like k6's flags: the bundle's entry, `-e` variables, vus/duration/iterations."""

    entry = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        help_text="the bundle's script to run (default: script.js, index.js, the only one)",
    )
    env = PairsField(
        required=False, help_text="KEY=VALUE (repeat the field), or one JSON object; secret-looking names are sealed"
    )
    vus = serializers.IntegerField(required=False, allow_null=True, help_text="overrides the script's VUs, as k6's --vus")
    duration = serializers.CharField(required=False, allow_blank=True, max_length=20, help_text="as k6's --duration, e.g. 30s")
    iterations = serializers.IntegerField(required=False, allow_null=True, help_text="as k6's --iterations")
    target_url = serializers.CharField(
        required=False, allow_blank=True, max_length=2048, help_text="what the analyzers look at (default: where the load went)"
    )

    def validate_target_url(self, value: str) -> str:
        if value:
            try:
                check_target_url(value)
            except TargetRejected as exc:
                raise serializers.ValidationError(str(exc)) from None
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if problems := self.to_options(attrs).problems():
            raise serializers.ValidationError(problems)
        return attrs

    @staticmethod
    def to_options(data: dict[str, Any]) -> ScriptOptions:
        return ScriptOptions(
            entry=data.get("entry") or "",
            env=data.get("env") or {},
            vus=data.get("vus"),
            duration=data.get("duration") or None,
            iterations=data.get("iterations"),
            target=data.get("target_url") or "",
        )
