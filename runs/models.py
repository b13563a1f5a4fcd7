from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Project(models.Model):
    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class LoadTest(models.Model):
    """What runs are compared within: a project's named test (builder: method and URL path; script: its entry file)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tests")
    name = models.CharField(max_length=200)
    baseline = models.ForeignKey(
        "Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="Every new run is compared with it."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project__name", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_test_name_per_project")]

    def __str__(self) -> str:
        return f"{self.project.name} · {self.name}"


class ApiKey(models.Model):
    """A named, revocable API key. Only its SHA-256 is stored; the key is shown once, at creation."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="The key's first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    is_admin = models.BooleanField(default=False, help_text="Sees every run and may reset data.")
    is_trusted = models.BooleanField(
        default=False, help_text="Starts runs without answering a captcha (for CI). Only admins set it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class UsedCaptcha(models.Model):
    """Nonces of API captcha challenges already answered: a challenge is good once."""

    nonce = models.CharField(max_length=32, unique=True)
    used_at = models.DateTimeField(auto_now_add=True, db_index=True)


class Run(models.Model):
    """One load test: its input, where it is in its lifecycle, and how it ended."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        ANALYZING = "analyzing"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    TERMINAL = (Status.DONE, Status.FAILED, Status.CANCELLED)

    class Mode(models.TextChoices):
        BUILDER = "builder"
        SCRIPT = "script"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runs")
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs", help_text="Who submitted it."
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
        help_text="The browser user who started it.",
    )
    mode = models.CharField(max_length=10, choices=Mode.choices)
    test = models.ForeignKey(LoadTest, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    labels = models.JSONField(default=dict, blank=True, help_text="Free key/value: variant, git_sha, branch, environment…")
    repeat_group = models.UUIDField(null=True, blank=True, db_index=True, help_text="Runs started together by `repeat`.")
    repeat_index = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1…N within its repeat group.")
    comparison = models.JSONField(
        default=dict, blank=True, help_text="Its comparison with the test's baseline, made when it ended."
    )
    target_url = models.CharField(max_length=2048, blank=True)
    spec = models.JSONField(default=dict, blank=True, help_text="The validated builder input or script options.")
    script = models.TextField(help_text="The k6 script exactly as it ran (a bundle's entry file).")
    bundle = models.BinaryField(
        blank=True, editable=False, help_text="A script's files (tar.gz), its entry file and fetched modules included."
    )
    planned_duration_s = models.PositiveIntegerField(help_text="How long the load is planned to run, without graceful stops.")
    graceful_stop_s = models.PositiveIntegerField(
        default=0, help_text="Extra time k6 may take to let running iterations finish after the load ends."
    )
    max_vus = models.PositiveIntegerField()
    segments = models.PositiveSmallIntegerField(
        default=1, help_text="k6 processes the test is split over, each on a k6 worker of its own (runs/segments.py)."
    )
    sla_config = models.JSONField(default=dict, help_text="SLA thresholds this run is scored against.")
    sealed_secrets = models.TextField(
        blank=True, editable=False, help_text="Encrypted credential headers, erased once k6 has run."
    )

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    stage = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="When its queue message (k6, or the post-k6 stages) was last published."
    )
    dispatch_attempts = models.PositiveIntegerField(default=0, help_text="Queue messages published for its current step.")
    stage_durations_s = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    worker_host = models.CharField(max_length=255, blank=True, help_text="Host whose worker runs k6.")
    k6_pid = models.IntegerField(null=True, blank=True, help_text="k6's process (and process group) id while it runs.")

    k6_exit_code = models.IntegerField(null=True, blank=True)
    k6_exit_reason = models.CharField(max_length=200, blank=True)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True, help_text="What went wrong, in words a person can act on.")

    score = models.FloatField(null=True, blank=True)
    grade = models.CharField(max_length=1, blank=True, db_index=True)
    verdict = models.CharField(
        max_length=10, blank=True, db_index=True, help_text="passed, failed or not_graded; empty until k6 has finished."
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.project.name} · {self.target_url or 'script'} · {self.status}"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL


class RunResult(models.Model):
    """What the run measured; written once, after k6 has finished."""

    run = models.OneToOneField(Run, on_delete=models.CASCADE, primary_key=True, related_name="result")
    metrics = models.JSONField(default=dict)
    timeseries = models.JSONField(default=list)
    endpoints = models.JSONField(default=list)
    thresholds = models.JSONField(default=list)
    checks = models.JSONField(default=list)
    groups = models.JSONField(default=list)
    failures = models.JSONField(default=dict, help_text="Capped samples of failed requests and their counts.")
    sla = models.JSONField(default=dict, help_text="The scorecard: each criterion's value, threshold and points.")
    ingest = models.JSONField(default=dict, help_text="How the raw samples were processed.")
    delivery = models.JSONField(default=dict, help_text="Planned against delivered load: duration, VUs, dropped iterations.")
    scenarios = models.JSONField(default=list, help_text="Per-scenario summaries and time series.")
    histograms = models.JSONField(
        default=dict, help_text="Encoded HDR histograms of request durations: all requests and each endpoint."
    )
    custom_metrics = models.JSONField(default=list, help_text="The script's own metrics, with their thresholds.")
    endpoint_series = models.JSONField(default=dict, help_text="p95 latency per second of the busiest endpoints.")

    def __str__(self) -> str:
        return f"Result of {self.run_id}"


class RunSegment(models.Model):
    """One k6 process of a split run: where it ran, how it ended, and what it measured in a form that adds up."""

    class Status(models.TextChoices):
        CLAIMED = "claimed"  # a worker has its message
        READY = "ready"  # its worker has the files and waits at the start barrier
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="parts")
    index = models.PositiveSmallIntegerField(help_text="0…segments-1; segment 0 also merges and finishes the run.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CLAIMED)
    worker = models.CharField(max_length=255, blank=True, help_text="host:pid of the worker process that ran it.")
    k6_pid = models.IntegerField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    k6_exit_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    live = models.JSONField(default=dict, blank=True, help_text="Its latest closed seconds, for the merged live view.")
    state = models.BinaryField(blank=True, help_text="zlib-compressed JSON: summary, sample aggregates and stream state.")

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="unique_segment_per_run")]

    def __str__(self) -> str:
        return f"Segment {self.index} of {self.run_id}"


class RunDocument(models.Model):
    """An ended run's result document, rendered once and then served as stored (runs/api/documents.py)."""

    run = models.OneToOneField(Run, on_delete=models.CASCADE, primary_key=True, related_name="document")
    body = models.BinaryField(help_text="The JSON the result API returns, byte for byte.")
    etag = models.CharField(max_length=64, help_text="SHA-256 of the body, hex.")
    source = models.CharField(
        max_length=64, help_text="Fingerprint of the run state and code it was rendered from; another one means stale."
    )
    rendered_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Document of {self.run_id}"


class RunArtifact(models.Model):
    """A file the script's handleSummary wrote inside its box (its own HTML or JSON summary), kept with the run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="artifacts")
    name = models.CharField(max_length=255, help_text="Its path as the script wrote it, relative to the script.")
    content = models.BinaryField()
    size_bytes = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="unique_artifact_name_per_run")]

    def __str__(self) -> str:
        return f"{self.name} of {self.run_id}"


class RunEvent(models.Model):
    """One progress event (stage change, log lines, live metrics), kept so late joiners get the history."""

    class Kind(models.TextChoices):
        STAGE = "stage"
        LOG = "log"
        METRICS = "metrics"
        RESULTS = "results"  # k6's results or an analyzer's are stored: pages reload to show them
        END = "end"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def as_message(self) -> dict:
        return {"seq": self.pk, "type": self.kind, "at": self.created_at.isoformat(), "data": self.data}
