"""Deleting runs together with every file generated for them."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from runs.models import Project, Run


@dataclass(frozen=True)
class Purged:
    runs: int
    projects: int
    files: int


def run_files_dir(run_id: Any) -> Path:
    return Path(settings.RESULT_DIR) / str(run_id)


def runs_purge(runs: QuerySet[Run]) -> int:
    """Delete these runs (results and events cascade) and their result directories."""
    ids = list(runs.values_list("pk", flat=True))
    for run_id in ids:
        shutil.rmtree(run_files_dir(run_id), ignore_errors=True)
    Run.objects.filter(pk__in=ids).delete()
    return len(ids)


def reset_all() -> Purged:
    """Every run, result, project and generated file; API keys and users stay."""
    files = _clear_directory(Path(settings.RESULT_DIR))
    runs = Run.objects.count()
    projects = Project.objects.count()
    Project.objects.all().delete()  # cascades to runs, results and events
    return Purged(runs=runs, projects=projects, files=files)


def _clear_directory(root: Path) -> int:
    if not root.is_dir():
        return 0
    files = sum(1 for path in root.rglob("*") if path.is_file())
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    return files
