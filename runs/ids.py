"""Run ids as people type them: a page, an API query or a command argument that is not a UUID names no run."""

from __future__ import annotations

import uuid


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
