"""Property-based API tests from the OpenAPI schema: no 5xx and no schema violation, whatever comes in."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from k6intel.wsgi import application
from runs.api.apikeys import PerKeyThrottle


@pytest.fixture
def api_schema(transactional_db: None, settings: Any) -> Any:
    # Accepted runs go to a broker no worker reads: the fuzzer never starts load.
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"
    return schemathesis.openapi.from_wsgi("/api/schema", application)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: Any, keys: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PerKeyThrottle, "rate", "100000/min", raising=False)
    # Every check except "schema-valid data is accepted": a URL that fits the schema may still not
    # resolve, and a well-formed captcha answer may still be wrong; those are 400s by design.
    # The generated key is replaced by a real one, but only where the case has one: a case made invalid
    # by leaving the key out must stay without it (and get its 401), or the fuzzer sees invalid data accepted.
    headers = {"X-API-Key": keys["user"][1]} if "X-API-Key" in (case.headers or {}) else {}
    case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
