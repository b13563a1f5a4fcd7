"""Browser forms for starting and finding runs.

The builder form turns its text fields into the API's builder payload and lets
`BuilderRunSerializer` judge it, so the browser and the API accept exactly the
same input; the serializer's messages are put back next to the fields they
are about.
"""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth.models import User

from runs.api.serializers import MAX_BODY_CHARS, BuilderRunSerializer, ScriptOptionsSerializer
from runs.engine.bundle import MAX_UPLOAD_BYTES, SIZE_LIMITS
from runs.engine.presets import PRESET_DESCRIPTIONS, PRESETS
from runs.engine.script import BODY_TYPES, METHODS
from runs.loadtests import CONVENTIONAL_LABELS, LABEL_KEY, MAX_REPEAT, RunMeta
from runs.models import Run
from runs.web.captcha import KeptCaptchaField, captcha_spend
from scanners import KINDS as ANALYZER_KINDS

ANALYZER_LABELS = {
    "headers": "Security headers",
    "tls": "SSL/TLS",
    "pagetest": "Page test (Chromium, first and repeat view)",
    "lighthouse": "Lighthouse",
}
# Where the serializer's nested fields are shown in the form.
NESTED_FIELDS = {
    ("checks", "status"): "check_status",
    ("checks", "body_contains"): "check_body_contains",
    ("sla", "p90_ms"): "sla_p90_ms",
    ("sla", "error_rate"): "sla_error_percent",
    ("sla", "success_rate"): "sla_success_percent",
}


def _textarea(rows: int, placeholder: str) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "placeholder": placeholder, "spellcheck": "false"})


class RunMetaFields(forms.Form):
    """Where a run belongs and how often it runs (test, labels, repeat), as the API takes them: the run
    form's serializer (a RunMetaSerializer) judges them, and a valid form keeps `meta` and `repeat_count`."""

    test = forms.CharField(label="Test", required=False, max_length=200)
    labels = forms.CharField(
        required=False,
        widget=_textarea(3, "\n".join(f"{key}=…" for key in CONVENTIONAL_LABELS)),
        help_text=f"One KEY=VALUE per line; conventional: {', '.join(CONVENTIONAL_LABELS)}. "
        "Runs are filtered and compared by them.",
    )
    repeat = forms.IntegerField(
        label="Runs",
        required=False,  # empty: once
        min_value=1,
        max_value=MAX_REPEAT,
        initial=1,
        help_text=f"1 to {MAX_REPEAT}, one after another: an experiment compares the medians of repeated runs.",
    )
    segments = forms.IntegerField(
        label="k6 processes",
        required=False,  # empty: one
        min_value=1,
        initial=1,
        help_text="Split the load over this many k6 workers (each runs its share of the VUs); results are merged.",
    )
    test_default = ""  # what an empty test name stands for, shown as its placeholder

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["test"].widget.attrs["placeholder"] = self.test_default
        self.fields["test"].help_text = f"Runs of one test are compared and trended together. Empty: {self.test_default}."
        self.meta = RunMeta()
        self.repeat_count = 1

    def _meta_payload(self) -> dict[str, Any]:
        return {
            "test": self.cleaned_data.get("test") or "",
            "labels": self._pairs("labels", "=", "KEY=VALUE"),
            "repeat": self.cleaned_data.get("repeat") or 1,
            "segments": self.cleaned_data.get("segments") or 1,
        }

    def _keep_meta(self, serializer: Any) -> None:
        self.meta, self.repeat_count = serializer.to_meta(), serializer.validated_data["repeat"]

    def _lines(self, name: str) -> list[tuple[int, str]]:
        text = self.cleaned_data.get(name) or ""
        return [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]

    def _pairs(self, name: str, separator: str, example: str) -> dict[str, str]:
        pairs = {}
        for number, line in self._lines(name):
            key, found, value = line.partition(separator)
            if not found or not key.strip():
                self.add_error(name, f"Line {number}: write it as {example}.")
                continue
            pairs[key.strip()] = value.strip()
        return pairs


def labels_text(labels: dict[str, str]) -> str:
    """A run's labels as the labels field shows them."""
    return "\n".join(f"{key}={value}" for key, value in labels.items())


class BuilderForm(RunMetaFields):
    test_default = "the method and the URL's path, like GET /items"
    project_name = forms.CharField(max_length=100, initial="default")
    url = forms.CharField(
        label="Target URL", max_length=2048, widget=forms.TextInput(attrs={"placeholder": "https://api.example.com/items"})
    )
    method = forms.ChoiceField(choices=[(m, m) for m in METHODS], initial="GET")
    headers = forms.CharField(
        required=False,
        widget=_textarea(3, "Accept: application/json"),
        help_text="One per line, as Name: value. Authorization, Cookie and other credential headers are "
        "encrypted until k6 starts and never appear in the script, the result or the report.",
    )
    query = forms.CharField(
        label="Query parameters", required=False, widget=_textarea(2, "page=1"), help_text="One per line, as name=value."
    )
    body_type = forms.ChoiceField(choices=[(t, t) for t in BODY_TYPES], initial="none")
    body = forms.CharField(
        required=False,
        strip=False,
        max_length=MAX_BODY_CHARS,
        widget=_textarea(4, '{"name": "value"}'),
        help_text="json: a JSON document. form: one name=value per line. raw: sent as written.",
    )
    preset = forms.ChoiceField(
        label="Load profile",
        required=False,
        widget=forms.RadioSelect,
        choices=[("", "custom")] + [(preset, preset) for preset in PRESETS],
        initial="",
    )
    vus = forms.IntegerField(label="VUs", min_value=1, initial=10, help_text="The highest number of virtual users.")
    duration = forms.CharField(
        required=False, max_length=20, initial="30s", help_text="Like k6: 30s, 5m, 1m30s. A preset's default when empty."
    )
    stages = forms.CharField(
        required=False,
        widget=_textarea(3, "30s 10\n1m 10\n30s 0"),
        help_text="Custom ramp instead of VUs + duration: one stage per line, as duration target.",
    )
    rate = forms.IntegerField(
        label="Peak arrivals per second", required=False, min_value=1, help_text="Breakpoint only; 10 × VUs when empty."
    )
    check_status = forms.IntegerField(label="Expected status", required=False, min_value=100, max_value=599, initial=200)
    check_body_contains = forms.CharField(label="Body contains", required=False, max_length=500)
    thresholds = forms.CharField(
        label="k6 thresholds",
        required=False,
        widget=_textarea(2, "http_req_duration: p(95)<500, p(99)<1000"),
        help_text="One metric per line, as metric: expression, expression.",
    )
    sla_p90_ms = forms.FloatField(label="p90 latency at most (ms)", min_value=1)
    sla_error_percent = forms.FloatField(label="Error rate at most (%)", min_value=0, max_value=100)
    sla_success_percent = forms.FloatField(label="Check success at least (%)", min_value=0, max_value=100)
    analyzers = forms.MultipleChoiceField(
        label="Analyzers to run", required=False, widget=forms.CheckboxSelectMultiple, choices=[]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sla_p90_ms"].initial = settings.THRESHOLD_P90_MS
        self.fields["sla_error_percent"].initial = round(100 * settings.THRESHOLD_ERROR_RATE, 3)
        self.fields["sla_success_percent"].initial = round(100 * settings.THRESHOLD_SUCCESS_RATE, 3)
        vus = cast(forms.IntegerField, self.fields["vus"])  # copies of the fields declared above
        analyzers = cast(forms.MultipleChoiceField, self.fields["analyzers"])
        vus.max_value = settings.MAX_VUS
        vus.help_text += f" At most {settings.MAX_VUS}; runs last at most {settings.MAX_DURATION_S} s."
        enabled = [kind for kind in ANALYZER_KINDS if kind in settings.ANALYZERS]
        analyzers.choices = [(kind, ANALYZER_LABELS[kind]) for kind in enabled]
        analyzers.initial = enabled
        self.serializer: BuilderRunSerializer | None = None

    def preset_choices(self) -> list[dict[str, Any]]:
        return [{"value": "", "label": "Custom", "description": "Your VUs for your duration, or your own stages."}] + [
            {"value": preset, "label": preset.capitalize(), "description": PRESET_DESCRIPTIONS[preset]} for preset in PRESETS
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data (an override may return None)
        if self.errors:
            return cleaned
        payload = self._payload(cleaned)
        if self.errors:
            return cleaned
        serializer = BuilderRunSerializer(data=payload)
        if serializer.is_valid():
            self.serializer = serializer
            self._keep_meta(serializer)
        else:
            self._add_serializer_errors(serializer.errors)
        return cleaned

    def _payload(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "project_name": cleaned["project_name"],
            "url": cleaned["url"].strip(),
            "method": cleaned["method"],
            "headers": self._pairs("headers", ":", "Name: value"),
            "query": self._pairs("query", "=", "name=value"),
            "body_type": cleaned["body_type"],
            "vus": cleaned["vus"],
            "thresholds": self._thresholds(),
            "analyzers": cleaned["analyzers"],
            **self._meta_payload(),
            "sla": {
                "p90_ms": cleaned["sla_p90_ms"],
                "error_rate": cleaned["sla_error_percent"] / 100,
                "success_rate": cleaned["sla_success_percent"] / 100,
            },
        }
        body = self._body(cleaned)
        if body is not None:  # {} and 0 are bodies too
            payload["body"] = body
        if cleaned["preset"]:
            payload["preset"] = cleaned["preset"]
        if cleaned["rate"]:
            payload["rate"] = cleaned["rate"]
        if stages := self._stages():
            payload["stages"] = stages
        elif cleaned["duration"]:
            payload["duration"] = cleaned["duration"]
        checks = {"status": cleaned["check_status"], "body_contains": cleaned["check_body_contains"] or None}
        if any(value is not None for value in checks.values()):
            payload["checks"] = checks
        return payload

    def _stages(self) -> list[dict[str, Any]]:
        stages = []
        for number, line in self._lines("stages"):
            parts = line.replace(":", " ").split()
            if len(parts) != 2 or not parts[1].isdecimal():
                self.add_error("stages", f"Line {number}: write a stage as duration target, like 30s 10.")
                continue
            stages.append({"duration": parts[0], "target": int(parts[1])})
        return stages

    def _thresholds(self) -> dict[str, list[str]]:
        thresholds = {}
        for number, line in self._lines("thresholds"):
            metric, found, expressions = line.partition(":")
            if not found or not metric.strip() or not expressions.strip():
                self.add_error("thresholds", f"Line {number}: write it as metric: expression, like http_req_duration: p(95)<500.")
                continue
            thresholds[metric.strip()] = [expression.strip() for expression in expressions.split(",") if expression.strip()]
        return thresholds

    def _body(self, cleaned: dict[str, Any]) -> Any:
        text, body_type = cleaned.get("body") or "", cleaned["body_type"]
        if not text.strip():
            return None
        if body_type == "json":
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                self.add_error("body", f"Not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.")
                return None
            except RecursionError:
                self.add_error("body", "The JSON is nested too deeply.")
                return None
        if body_type == "form":
            return self._pairs("body", "=", "name=value")
        return text

    def _add_serializer_errors(self, errors: dict[str, Any]) -> None:
        for name, messages in errors.items():
            if name == "stages" and isinstance(messages, dict):  # many=True: {index: {field: [...]}}
                for index, stage_messages in messages.items():
                    self.add_error("stages", [f"Stage {int(index) + 1}: {text}" for text in _flatten(stage_messages)])
            elif isinstance(messages, dict):  # nested: checks, sla, headers, query
                for inner, inner_messages in messages.items():
                    field = NESTED_FIELDS.get((name, inner), name if name in self.fields else None)
                    self.add_error(field, _flatten(inner_messages))
            elif name == "non_field_errors" or name not in self.fields:
                self.add_error(None, _flatten(messages))
            else:
                self.add_error(name, _flatten(messages))


def _flatten(messages: Any, prefix: str = "") -> list[str]:
    """DRF error trees as plain sentences."""
    if isinstance(messages, dict):
        return [text for key, value in messages.items() for text in _flatten(value, f"{prefix}{key}: ")]
    if isinstance(messages, list):
        return [text for item in messages for text in _flatten(item, prefix)]
    return [f"{prefix}{messages}"]


class CaptchaUsed(Exception):
    """Another request started a run with this captcha first."""


class CaptchaForm(forms.Form):
    """Kept apart from the run forms so that a preview does not use up the challenge. Staff users have none.

    A right answer is used up only by the run it starts (`spend`); until then the page sends it again."""

    captcha = KeptCaptchaField(label="Solve to start", help_text="A small sum, to keep load away from bots.")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if user.is_staff:
            del self.fields["captcha"]

    @property
    def answer(self) -> list[str] | None:
        """The right answer no run has used yet, which the page sends again (hidden); None otherwise."""
        return getattr(self, "cleaned_data", {}).get("captcha")

    def spend(self) -> None:
        """Use the answer up, in the transaction that stores the run; CaptchaUsed (rolling it back) if
        another request used it first, with a new challenge to solve."""
        if "captcha" in self.fields and not captcha_spend(self.cleaned_data["captcha"]):
            self.add_error("captcha", "Another submission started a test with this captcha; solve this one.")
            raise CaptchaUsed


class ScriptUploadForm(RunMetaFields):
    """A script, a folder bundle or a k6 archive, with what k6's flags would set; or, for 'Run again',
    no file and the earlier run's stored files."""

    test_default = "the entry file, like script.js"

    project_name = forms.CharField(max_length=100, initial="default")
    file = forms.FileField(
        label="k6 script or bundle",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".js,.mjs,.ts,.zip,.tar,.tgz,.gz"}),
        help_text="A .js or .ts script, a .zip or .tar.gz of a folder (local modules and data files), or a k6 archive "
        f".tar. {SIZE_LIMITS} Modules from {', '.join(settings.MODULE_HOSTS) or 'no host'} are fetched for you.",
    )
    entry = forms.CharField(
        label="Entry point",
        required=False,
        max_length=255,
        help_text="The bundle's script to run (default: script.js, index.js or the only one).",
    )
    env = forms.CharField(
        label="Environment (__ENV)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "BASE_URL=https://staging.example.com\nAPI_TOKEN=…"}),
        help_text="One KEY=VALUE per line, as k6's -e. Values of names that look like secrets (token, key, password…) "
        "are sealed until k6 starts and shown masked.",
    )
    vus = forms.IntegerField(label="VUs", required=False, min_value=1, help_text="Overrides the script's, as k6's --vus.")
    duration = forms.CharField(required=False, max_length=20, help_text="As k6's --duration, e.g. 30s or 2m.")
    iterations = forms.IntegerField(required=False, min_value=1, help_text="As k6's --iterations.")
    target_url = forms.CharField(
        label="Target for the analyzers",
        required=False,
        max_length=2048,
        help_text="Default: the origin the run sent the most requests to.",
    )
    again = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload and upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"The file is {upload.size} bytes; the limit is {MAX_UPLOAD_BYTES} bytes. {SIZE_LIMITS}")
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data (an override may return None)
        if not cleaned.get("file") and not cleaned.get("again") and "file" not in self.errors:
            self.add_error("file", "Choose a script or bundle to upload.")
        lines = [line for line in (cleaned.get("env") or "").splitlines() if line.strip()]
        given = {k: v for k, v in cleaned.items() if k in OPTION_FIELDS and v not in (None, "")}
        options = ScriptOptionsSerializer(data={**given, "env": lines, **self._meta_payload()})
        if not options.is_valid():
            for field, messages in options.errors.items():
                for message in messages if isinstance(messages, list) else [messages]:
                    self.add_error(field if field in self.fields else None, str(message))
        else:
            self.options = options.to_options(options.validated_data)
            self._keep_meta(options)
        return cleaned


OPTION_FIELDS = ("entry", "vus", "duration", "iterations", "target_url")


GRADES = [("", "any grade")] + [(grade, grade) for grade in "ABCF"]


class LabelFilterField(forms.CharField):
    """KEY:VALUE, as the API's label filter; cleaned to {KEY: VALUE} (empty: no filter)."""

    def __init__(self, **kwargs: Any) -> None:
        widget = forms.TextInput(attrs={"placeholder": "variant:cached", "list": "label-filters"})
        super().__init__(label="Label", required=False, max_length=300, widget=widget, **kwargs)

    def clean(self, value: Any) -> dict[str, str]:  # text in, a mapping out
        text = super().clean(value)
        if not text:
            return {}
        key, separator, wanted = text.partition(":")
        if not separator or not LABEL_KEY.fullmatch(key.strip()):
            raise forms.ValidationError("Write it as KEY:VALUE, like variant:cached.")
        return {key.strip(): wanted.strip()}


class LabelFilterForm(forms.Form):
    label = LabelFilterField()


class ExperimentForm(forms.Form):
    """Two variants of a test: its runs labelled KEY=BASE against those labelled KEY=RUN."""

    key = forms.RegexField(rf"^{LABEL_KEY.pattern}$", label="Label", max_length=64, initial="variant")
    base = forms.CharField(label="Base variant", max_length=200, widget=forms.TextInput(attrs={"list": "label-values"}))
    run = forms.CharField(label="Compared variant", max_length=200, widget=forms.TextInput(attrs={"list": "label-values"}))


class CompareForm(forms.Form):
    base = forms.UUIDField(label="Base run", required=False, help_text="The run compared with, e.g. the baseline.")
    run = forms.UUIDField(label="Compared run", required=False)


class RunFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=200, widget=forms.TextInput(attrs={"type": "search"}))
    project = forms.CharField(required=False, max_length=100)
    test = forms.CharField(required=False, max_length=200, widget=forms.TextInput(attrs={"list": "test-names"}))
    label = LabelFilterField()
    status = forms.ChoiceField(required=False, choices=[("", "any status")] + list(Run.Status.choices))
    grade = forms.ChoiceField(required=False, choices=GRADES)
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data (an override may return None)
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "Pick a date on or after the From date.")
        return cleaned
