"""An ended run's result document: rendered once, stored for every web process, sent as stored.

Rendering a result (the run, its result, analyzer results and analysis, encoded as JSON) costs many
times what sending it does, and once a run has ended its document stops changing. So the first read
of an ended run renders and stores it (RunDocument), and later reads send the stored bytes. A run
that has not ended is rendered on every read and never stored; deleting a run deletes its document.

A stored document is used only while its `source` still matches: a fingerprint of the code that
renders documents and of the run's lifecycle columns. A write to the run row after the document
was stored makes it stale, so the next read renders it again. That covers the one way an ended run
still changes: the reaper fails a run whose post-k6 stage is in fact still going; that stage stores
its output and then records its duration on the run row (runs/stages.py), as every stage does.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from runs.models import Run, RunDocument
from runs.selectors import run_result

log = logging.getLogger(__name__)

# The run columns a document shows that change after the run is created. The others it shows (mode,
# target, spec, script, planned duration, VUs, SLA, created_at) are written once, at creation.
LIFECYCLE_FIELDS = (
    "status",
    "stage",
    "error",
    "started_at",
    "finished_at",
    "heartbeat_at",
    "stage_durations_s",
    "k6_exit_code",
    "k6_exit_reason",
    "verdict",
    "grade",
    "score",
    "labels",
    "test_id",
    "comparison",
)
# Apps whose code shapes a document (run_result reads from all three).
RENDERING_APPS = ("runs", "scanners", "reports")


@dataclass(frozen=True)
class Document:
    body: bytes
    etag: str  # SHA-256 of the body, hex: equal for byte-identical documents only


def result_document(run: Run) -> Document:
    """The run's document: the stored one while it is current, else rendered now (and stored if the run has ended)."""
    source = document_source(run)
    stored = RunDocument.objects.filter(run=run, source=source).values_list("body", "etag").first()
    if stored is not None:
        return Document(bytes(stored[0]), stored[1])
    document = render_document(run)
    if run.is_terminal:
        _store(run, document, source)
    return document


def stored_document(runs: QuerySet[Run], run_id: Any) -> Document | None:
    """The current stored document of the run `run_id` among `runs`, in one query; None when there is none."""
    fields = ("project__name", "document__body", "document__etag", "document__source", *LIFECYCLE_FIELDS)
    found = runs.filter(pk=run_id).select_related("project", "document").only(*fields).order_by()[:1]
    run = found[0] if found else None
    if run is None or not run.is_terminal:
        return None
    try:
        stored = run.document
    except RunDocument.DoesNotExist:
        return None
    if stored.source != document_source(run):
        return None
    return Document(bytes(stored.body), stored.etag)


def render_document(run: Run) -> Document:
    # DRF's renderer, as the API used before documents were stored: the bytes stay the same.
    body = JSONRenderer().render(run_result(run))
    return Document(body, hashlib.sha256(body).hexdigest())


def document_source(run: Run) -> str:
    state = [code_version(), repr(run.project.name), *(repr(getattr(run, field)) for field in LIFECYCLE_FIELDS)]
    return hashlib.sha256("\n".join(state).encode()).hexdigest()


@cache
def code_version() -> str:
    """Changes with any source file of the apps that render documents: a release that changes what a
    document holds (or a data migration that reshapes stored results) renders every document again."""
    digest = hashlib.sha256()
    for app in RENDERING_APPS:
        for path in sorted((settings.BASE_DIR / app).rglob("*.py")):
            if "tests" not in path.parts:
                digest.update(path.relative_to(settings.BASE_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _store(run: Run, document: Document, source: str) -> None:
    """Best effort: when another process stores the run's document at the same moment, one of them
    wins and the other's work is simply not kept."""
    fields = {"body": document.body, "etag": document.etag, "source": source}
    try:
        if not RunDocument.objects.filter(run=run).update(**fields, rendered_at=timezone.now()):
            with transaction.atomic():
                RunDocument.objects.create(run=run, **fields)
    except DatabaseError as exc:  # a duplicate key, or a deadlock between two first inserts
        log.info("document of run %s not stored (%s); it is rendered again on its next read", run.pk, exc)
