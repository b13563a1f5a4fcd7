"""Fixtures of the browser UI's tests."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

PASSWORD = "a-long-test-password-31"


@pytest.fixture
def users(db: None) -> dict[str, Any]:
    """A user who owns runs, another who must not see them, and a staff user who sees every run."""
    model = get_user_model()
    return {
        "owner": model.objects.create_user("owner", password=PASSWORD),
        "stranger": model.objects.create_user("stranger", password=PASSWORD),
        "staff": model.objects.create_user("staff", password=PASSWORD, is_staff=True),
    }
