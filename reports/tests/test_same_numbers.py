"""Same numbers on every surface: for one real k6 run, the key numbers (requests, RPS, error rate, p95, verdict,
grade and score) of the API's result document are those of the run page, the HTML report, the PDF and the CLI summary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from reports.render import report_path
from reports.tests.reading import page_text
from runs.api.serializers import BuilderRunSerializer
from runs.cli_output import format_summary
from runs.engine.formatting import percent
from runs.models import Run
from runs.pipeline import run_create_from_builder, run_execute

pytestmark = pytest.mark.django_db(transaction=True)


def key_numbers(document: dict[str, Any]) -> dict[str, str]:
    """The numbers as each surface writes them (one decimal for RPS and milliseconds; counts without separators)."""
    metrics = document["metrics"]
    return {
        "requests": str(metrics["http_reqs"]["count"]),
        "rps": f"{metrics['http_reqs']['rate']:.1f}",
        "error rate": percent(metrics["http_req_failed"]["rate"]),
        "p95": f"{metrics['http_req_duration']['p95']:.1f}",
        "verdict": document["verdict"]["headline"],
        "grade": document["grade"],
        "score": f"{document['score']:.1f}",
    }


def surfaces(run: Run, document: dict[str, Any], client: Any) -> dict[str, str]:
    pdf = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(report_path(run.pk, "pdf")).pages)
    texts = {
        "run page": page_text(client.get(f"/runs/{run.pk}/").content.decode()),
        "HTML report": page_text(report_path(run.pk, "html").read_text()),
        "PDF": pdf,
        "CLI": " ".join(format_summary(document).split()),
    }
    # 1,234 and 1234 are the same count, PASSED (the CLI's shout) the same verdict as Passed
    return {name: text.replace(",", "").casefold() for name, text in texts.items()}


def test_the_key_numbers_are_the_same_in_the_api_the_run_page_the_reports_and_the_cli(
    demo_target: Callable[..., Any], settings: Any, tmp_path: Path, keys: dict[str, Any], api: Callable[..., Any],
    django_user_model: Any, client: Any,
) -> None:  # fmt: skip
    settings.RESULT_DIR, settings.RUN_POST_STAGES = tmp_path, ["reports.render.render_run"]
    target = demo_target(latency_min_ms=10, latency_max_ms=30, error_rate=0.05)
    serializer = BuilderRunSerializer(data={"url": target.url, "vus": 3, "duration": "3s", "project_name": "numbers"})
    assert serializer.is_valid(), serializer.errors
    run = run_execute(run_create_from_builder(serializer, api_key=keys["user"][0], meta=serializer.to_meta()).pk)
    assert run.status == Run.Status.DONE, run.error

    document = api("user").get(f"/api/result/{run.pk}").json()
    expected = key_numbers(document)
    assert document["metrics"]["http_req_failed"]["rate"] > 0 and document["grade"]  # numbers worth comparing
    client.force_login(django_user_model.objects.create_user("staff", password="a-long-test-password-31", is_staff=True))
    for surface, text in surfaces(run, document, client).items():
        for name, value in expected.items():
            assert value.replace(",", "").casefold() in text, f"{name} {value!r} is not on the {surface}"
