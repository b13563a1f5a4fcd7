"""A script's target is where its load went: never a link in a comment (issue 16, point 5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runs.engine.results import url_origin
from runs.engine.vetting import vet_upload
from runs.models import Run
from runs.pipeline import run_execute


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://127.0.0.1:8001/a?b=c", "http://127.0.0.1:8001"),
        ("https://user:secret@example.com/path", "https://example.com"),
        ("http://[::1]:9000/", "http://[::1]:9000"),
        ("not a url", None),
        ("http://host:notaport/", None),
    ],
)
def test_a_requests_origin_keeps_scheme_host_and_port_only(url: str, origin: str | None) -> None:
    assert url_origin(url) == origin


def test_a_link_in_a_comment_is_not_the_guessed_target(demo_target: Callable[..., Any]) -> None:
    target = demo_target()
    script = (
        "// Written after https://grafana.com/docs/k6/latest/ — see also /* https://example.org/ */\n"
        "import http from 'k6/http';\n"
        f"export default function () {{ http.get('{target.url}/'); }}\n"
    )
    assert vet_upload(script.encode(), "commented.js").needs.target_url == f"{target.url}/"


@pytest.mark.django_db(transaction=True)
def test_after_the_run_a_scripts_target_is_the_origin_it_hit_most(
    make_run: Callable[..., Run], demo_target: Callable[..., Any], settings: Any
) -> None:
    settings.RUN_POST_STAGES = []
    side, main = demo_target(), demo_target()
    script = (
        "// https://docs.example.com/ is only a comment\n"
        "import http from 'k6/http';\nexport const options = { iterations: 5 };\n"
        f"export default function () {{ http.get('{side.url}/once'); for (let i = 0; i < 3; i++) http.get('{main.url}/api?i=' + i); }}\n"
    )
    run = run_execute(make_run(script, target_url=f"{side.url}/once").pk)
    assert run.status == "done", run.error
    assert (side.errors.count, main.errors.count) == (5, 15)  # what each target received
    assert Run.objects.get(pk=run.pk).target_url == f"{main.url}/"
