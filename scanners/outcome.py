"""The value every analyzer returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Outcome:
    status: str  # ok | skipped | error
    grade: str = ""
    score: float | None = None
    summary: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), **self.details}


def skipped(reason: str) -> Outcome:
    return Outcome(status="skipped", summary=reason)


def failed(message: str) -> Outcome:
    return Outcome(status="error", summary=message, error=message)
