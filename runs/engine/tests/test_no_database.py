"""The engine turns a plan or a script into measured, scored numbers without touching the database:
none of its modules imports a model, Django's ORM or another part of the platform."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1]
FORBIDDEN = ("django.db", "runs.models", "runs.api", "runs.web", "runs.pipeline", "runs.stages", "runs.events")


def _imports(source: Path) -> list[str]:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    names += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module]
    return names


@pytest.mark.parametrize("module", sorted(p.name for p in ENGINE.glob("*.py")))
def test_an_engine_module_imports_nothing_of_the_database_or_the_lifecycle(module: str) -> None:
    imported = _imports(ENGINE / module)
    assert not [name for name in imported if name.startswith(FORBIDDEN)], imported
