"""Tests, labels, baselines, comparisons, trends and experiments in the browser UI (Django's test client).

The runs are stored as k6 would have left them: 2000 requests with latencies drawn uniformly from a known
range (a fixed seed), their HDR histogram, per-second series, endpoints, thresholds and checks. A variant
at 30–60 ms against a baseline at 10–30 ms is the known truth of a significant p95 regression.
"""

from __future__ import annotations

import html
import json
import random
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from runs import loadtests
from runs.engine.compare import MWU_LATENCY
from runs.engine.results import ALL_REQUESTS, new_histogram, percentile, record_ms
from runs.loadtests import compare_with_baseline, set_baseline
from runs.models import LoadTest, Project, Run, RunResult
from runs.web.tests.test_ui_views import BUILDER, browser, field_errors, solved, stored_run

SCRIPT = b"export const options = { vus: 1, duration: '1s' };\nexport default function () {}\n"
ENDPOINT = {"name": "http://127.0.0.1:9/items", "method": "GET", "status": "200"}
ENDPOINT_KEY = "GET http://127.0.0.1:9/items 200"


def measured_run(
    owner: Any, latency_ms: tuple[float, float] = (10, 30), test: str = "checkout", seed: int = 1, **fields: Any
) -> Run:
    """A finished run of `test` whose 2000 requests took uniform latencies in `latency_ms`, over 10 seconds."""
    rng = random.Random(seed)
    latencies = sorted(rng.uniform(*latency_ms) for _ in range(2000))
    histogram = new_histogram()
    for value in latencies:
        record_ms(histogram, value)
    p95 = percentile(latencies, 0.95)
    duration = {key: percentile(latencies, pct) for key, pct in (("med", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99))}
    script = fields.pop("script", "export default function () {}")
    run = stored_run(owner, test=loadtests.test_for(Project.objects.get_or_create(name="shop")[0], test), **fields)
    Run.objects.filter(pk=run.pk).update(script=script)
    RunResult.objects.filter(run=run).update(
        metrics={
            "http_req_duration": duration,
            "http_reqs": {"count": 2000, "rate": 200.0},
            "http_req_failed": {"rate": 0.0, "passes": 0, "fails": 2000},
            "checks": {"rate": 1.0, "passes": 2000, "fails": 0},
        },
        timeseries=[{"t": t, "rps": 200, "p95_ms": p95, "error_rate": 0.0, "vus": 2} for t in range(10)],
        endpoints=[{**ENDPOINT, "count": 2000, "p95_ms": p95}],
        histograms={ALL_REQUESTS: histogram.encode().decode(), ENDPOINT_KEY: histogram.encode().decode()},
        thresholds=[{"metric": "http_req_duration", "expression": "p(95)<40", "ok": p95 < 40}],
        checks=[{"name": "status is 200", "group": "", "passes": 2000, "fails": 0, "rate": 1.0}],
    )
    return Run.objects.select_related("test").get(pk=run.pk)


def compared(run: Run) -> Run:
    """As the pipeline leaves a run once k6 has finished: compared with its test's baseline."""
    run.refresh_from_db()
    Run.objects.filter(pk=run.pk).update(comparison=compare_with_baseline(run))
    return Run.objects.select_related("test").get(pk=run.pk)


def page_of(client: Any, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return response.content.decode()


def json_script(page: str, element_id: str) -> Any:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', page, re.S)
    assert match is not None, element_id
    return json.loads(match.group(1))


# --- the forms -------------------------------------------------------------------------------


def test_the_builder_puts_runs_in_their_test_with_labels_and_repeats_them(users: dict[str, Any]) -> None:
    client = browser(users["owner"])
    form = client.get("/runs/new").content.decode()
    assert 'name="test"' in form and "GET /items" in form and 'name="labels"' in form and 'name="repeat"' in form
    data = {**BUILDER, "test": "checkout", "labels": "variant=cached\ngit_sha=3f2c1ab", "repeat": "3"}
    response = client.post("/runs/new", {**data, **solved(client, "/runs/new")}, follow=True)
    runs = list(Run.objects.order_by("repeat_index"))
    assert [run.repeat_index for run in runs] == [1, 2, 3] and len({run.repeat_group for run in runs}) == 1
    assert all(
        run.test and run.test.name == "checkout" and run.labels == {"variant": "cached", "git_sha": "3f2c1ab"} for run in runs
    )
    assert "test" not in runs[0].spec and "labels" not in runs[0].spec  # the run's own columns, not the builder's input
    assert response.redirect_chain[-1][0] == f"/runs/{runs[0].pk}/" and "run 1 of 3" in response.content.decode()
    client.post("/runs/new", {**BUILDER, "repeat": "1", **solved(client, "/runs/new")})
    default = Run.objects.exclude(pk__in=[run.pk for run in runs]).values_list("test__name", flat=True).get()
    assert default == "GET /items"  # the method and the URL's path


def test_an_upload_joins_its_test_named_or_by_entry_file(users: dict[str, Any]) -> None:
    staff = browser(users["staff"])
    page = page_of(staff, "/runs/upload")
    assert 'name="test"' in page and "the entry file, like script.js" in page
    upload = SimpleUploadedFile("journey.js", SCRIPT, content_type="text/javascript")
    staff.post("/runs/upload", {"project_name": "scripts", "file": upload, "labels": "branch=main", "repeat": "2"})
    named = SimpleUploadedFile("other.js", SCRIPT, content_type="text/javascript")
    staff.post("/runs/upload", {"project_name": "scripts", "file": named, "test": "smoke", "repeat": "1"})
    by_test = {name: list(Run.objects.filter(test__name=name)) for name in ("journey.js", "smoke")}
    assert len(by_test["journey.js"]) == 2 and all(run.labels == {"branch": "main"} for run in by_test["journey.js"])
    assert len(by_test["smoke"]) == 1 and by_test["smoke"][0].labels == {}


def test_test_label_and_repeat_errors_sit_next_to_their_fields_and_keep_the_input(users: dict[str, Any]) -> None:
    client = browser(users["owner"])
    cases = {
        "no equals": ({"labels": "variant"}, "Line 1: write it as KEY=VALUE."),
        "bad key": ({"labels": "variant=a\nbad key!=x"}, "&#x27;bad key!&#x27; is not a label name"),
        "too many runs": ({"repeat": "11"}, "less than or equal to 10"),
        "no runs": ({"repeat": "0"}, "greater than or equal to 1"),
        "long test name": ({"test": "t" * 201}, "at most 200 characters"),
    }
    for name, (changes, message) in cases.items():
        for path, data in (("/runs/new", BUILDER), ("/runs/upload", {"project_name": "shop"})):
            files = {"file": SimpleUploadedFile("a.js", SCRIPT)} if path == "/runs/upload" else {}
            page = client.post(
                path, {**data, "labels": "git_sha=abc", **changes, **files, **solved(client, path)}
            ).content.decode()
            assert any(message in error for error in field_errors(page)), (name, path, field_errors(page))
            assert 'value="shop"' in page, (name, path)  # the rest of the input is still there
    assert not Run.objects.exists()


def test_run_again_keeps_the_test_and_the_labels(users: dict[str, Any]) -> None:
    owner, staff = browser(users["owner"]), browser(users["staff"])
    owner.post("/runs/new", {**BUILDER, "test": "checkout", "labels": "variant=v2", **solved(owner, "/runs/new")})
    builder_run = Run.objects.get()
    page = page_of(owner, f"/runs/new?from={builder_run.pk}")
    assert re.search(r'name="test" value="checkout"', page) and ">\nvariant=v2</textarea>" in page
    assert 'value="checkout"' not in page_of(browser(users["stranger"]), f"/runs/new?from={builder_run.pk}")

    upload = SimpleUploadedFile("journey.js", SCRIPT, content_type="text/javascript")
    staff.post("/runs/upload", {"project_name": "scripts", "file": upload, "test": "journeys", "labels": "branch=main"})
    script_run = Run.objects.get(mode=Run.Mode.SCRIPT)
    page = page_of(staff, f"/runs/upload?from={script_run.pk}")
    assert re.search(r'name="test" value="journeys"', page) and ">\nbranch=main</textarea>" in page
    staff.post(
        "/runs/upload", {"project_name": "scripts", "again": str(script_run.pk), "test": "journeys", "labels": "branch=main"}
    )
    again = Run.objects.filter(mode=Run.Mode.SCRIPT).exclude(pk=script_run.pk).get()
    assert again.test_id == script_run.test_id and again.labels == {"branch": "main"}


# --- the run page -----------------------------------------------------------------------------


def test_the_run_page_shows_its_test_labels_baseline_and_the_comparison_with_it(users: dict[str, Any]) -> None:
    owner = users["owner"]
    baseline = measured_run(owner, (10, 30), labels={"variant": "baseline"})
    set_baseline(baseline)
    slow = compared(measured_run(owner, (30, 60), seed=2, labels={"variant": "slow", "git_sha": "<b>3f2c</b>"}))
    client = browser(owner)

    page = page_of(client, f"/runs/{slow.pk}/")
    assert f'href="/tests/{slow.test_id}/" id="run-test">checkout</a>' in page
    assert ">variant=slow</a>" in page and "git_sha=&lt;b&gt;3f2c&lt;/b&gt;" in page and "<b>3f2c</b>" not in page
    assert "?label=variant:slow" in page  # a chip filters the runs list
    assert 'id="baseline-badge"' not in page and 'id="baseline-form"' in page
    section = page.split('id="baseline-comparison"')[1].split("</section>")[0]
    assert "1 regression" in section or "regressions" in section
    assert re.search(r'<tr data-metric="p95" class="regression">', section)
    assert "p95 went from" in section and MWU_LATENCY in section and "the test's baseline" in section
    assert f'href="/compare?base={baseline.pk}&amp;run={slow.pk}"' in page  # the full comparison and "Compare with…"

    baseline_page = page_of(client, f"/runs/{baseline.pk}/")
    assert 'id="baseline-badge"' in baseline_page and 'id="baseline-form"' not in baseline_page
    assert 'id="baseline-comparison"' not in baseline_page
    assert f'href="/compare?run={baseline.pk}" id="compare-link"' in baseline_page


def test_a_label_named_like_a_dict_method_still_shows_and_filters(users: dict[str, Any]) -> None:
    run = measured_run(users["owner"], labels={"items": "x", "contains": "y"})
    client = browser(users["owner"])
    assert ">items=x</a>" in page_of(client, f"/runs/{run.pk}/")
    assert "1 run<" in page_of(client, "/runs/?label=contains:y") and "0 runs" in page_of(client, "/runs/?label=contains:z")
    assert json_script(page_of(client, f"/tests/{run.test_id}/?label=contains:y"), "trend-data")["n"] == [1]


def test_make_baseline_is_for_finished_runs_the_user_can_see(users: dict[str, Any]) -> None:
    owner = users["owner"]
    first, second = measured_run(owner), measured_run(owner, seed=2)
    queued = measured_run(owner, status="queued", grade="")
    test = LoadTest.objects.get(name="checkout")
    path = f"/runs/{second.pk}/baseline"
    assert browser().post(path).status_code == 302 and browser(users["stranger"]).post(path).status_code == 404
    assert browser(owner).get(path).status_code == 405
    test.refresh_from_db()
    assert test.baseline_id is None

    response = browser(owner).post(path, follow=True)
    test.refresh_from_db()
    assert test.baseline_id == second.pk and "is now the baseline of checkout" in response.content.decode()
    assert 'id="baseline-badge"' in response.content.decode()
    refused = browser(owner).post(f"/runs/{queued.pk}/baseline", follow=True).content.decode()
    test.refresh_from_db()
    assert test.baseline_id == second.pk and "Only a finished run can be a baseline; this one is queued." in refused
    assert 'id="baseline-form"' not in page_of(browser(owner), f"/runs/{queued.pk}/")
    browser(users["staff"]).post(f"/runs/{first.pk}/baseline")  # staff see every run
    test.refresh_from_db()
    assert test.baseline_id == first.pk


def test_a_baseline_the_user_cannot_see_is_not_shown(users: dict[str, Any]) -> None:
    theirs = measured_run(users["stranger"], labels={"variant": "secret-variant"})
    set_baseline(theirs)
    mine = compared(measured_run(users["owner"], (30, 60), seed=2))
    assert mine.comparison == {}  # the backend does not compare with a run its submitter cannot see
    client = browser(users["owner"])
    page = page_of(client, f"/runs/{mine.pk}/")
    assert "secret-variant" not in page and str(theirs.pk) not in page
    test_page = page_of(client, f"/tests/{mine.test_id}/")
    assert "a run you cannot see" in test_page and str(theirs.pk) not in test_page
    assert "a run you cannot see" in page_of(client, "/tests/")


# --- the run list -----------------------------------------------------------------------------


def test_the_run_list_shows_and_filters_by_test_and_label(users: dict[str, Any]) -> None:
    owner = users["owner"]
    cached = measured_run(owner, test="checkout", labels={"variant": "cached"}, target="http://127.0.0.1:9/cached")
    measured_run(owner, test="checkout", labels={"variant": "plain"}, target="http://127.0.0.1:9/plain")
    measured_run(owner, test="search", labels={"variant": "cached"}, target="http://127.0.0.1:9/search")
    measured_run(users["stranger"], test="checkout", labels={"variant": "cached"}, target="http://127.0.0.1:9/theirs")
    client = browser(owner)
    page = page_of(client, "/runs/")
    assert f'<a href="/tests/{cached.test_id}/">checkout</a>' in page and ">variant=cached</a>" in page
    assert '<option value="checkout">' in page and '<option value="variant:cached">' in page
    cases = {"test=checkout": {"/cached", "/plain"}, "label=variant:cached": {"/cached", "/search"},
             "test=checkout&label=variant:cached": {"/cached"}, "q=search": {"/search"}}  # fmt: skip
    for query, targets in cases.items():
        listed = set(re.findall(r'href="/runs/[0-9a-f-]+/">http://127\.0\.0\.1:9(/\w+)</a>', page_of(client, f"/runs/?{query}")))
        assert listed == targets, query
    bad = page_of(client, "/runs/?label=variant")
    assert "Write it as KEY:VALUE, like variant:cached." in bad


# --- the tests pages ------------------------------------------------------------------------


def test_the_tests_list_counts_only_the_users_runs(users: dict[str, Any]) -> None:
    mine = measured_run(users["owner"], test="checkout")
    measured_run(users["owner"], test="checkout", seed=2)
    for seed in range(3):
        measured_run(users["stranger"], test="checkout", seed=seed)
    measured_run(users["stranger"], test="their-own")
    assert browser().get("/tests/").status_code == 302
    page = page_of(browser(users["owner"]), "/tests/")
    assert f'<a href="/tests/{mine.test_id}/">checkout</a>' in page and "their-own" not in page
    assert re.search(r'checkout</a></td>\s*<td>shop</td>\s*<td class="num">2</td>', page)
    assert '<a href="/tests/">Tests</a>' in page or 'href="/tests/" aria-current="page">Tests</a>' in page
    assert "their-own" in page_of(browser(users["staff"]), "/tests/")


def test_the_test_page_shows_runs_baseline_trend_and_a_label_filter(users: dict[str, Any]) -> None:
    owner = users["owner"]
    runs = [
        measured_run(owner, (10, 30), seed=1, labels={"variant": "baseline", "git_sha": "aaaaaaa1111"}),
        measured_run(owner, (2, 6), seed=2, labels={"variant": "cached", "git_sha": "bbbbbbb2222"}),
        measured_run(owner, (2, 6), seed=3, labels={"variant": "cached", "git_sha": "ccccccc3333"}),
    ]
    measured_run(owner, status="running", grade="", labels={"variant": "cached"})  # unfinished: listed, not trended
    stranger_run = measured_run(users["stranger"], labels={"variant": "cached"})
    set_baseline(runs[0])
    path = f"/tests/{runs[0].test_id}/"
    assert browser().get(path).status_code == 302
    assert browser(users["owner"]).get("/tests/999999/").status_code == 404

    page = page_of(browser(owner), path)
    assert "<h1>checkout" in page and f'href="/runs/{runs[0].pk}/">the run of' in page
    assert 'Runs <span class="muted">(4)</span>' in page and str(stranger_run.pk) not in page
    assert page.count('<span class="baseline-badge">baseline</span>') == 1 and 'class="is-baseline"' in page
    trend = json_script(page, "trend-data")
    assert trend["n"] == [1, 2, 3] and trend["baseline"] == 0 and trend["urls"][0] == f"/runs/{runs[0].pk}/"
    assert trend["tags"] == ["baseline aaaaaaa", "cached bbbbbbb", "cached ccccccc"]
    assert trend["p95_ms"][0] > 25 and trend["p95_ms"][1] < 7 and "variant=cached · git_sha=bbbbbbb2222" in trend["tips"][1]
    assert "Run 1 (baseline)" in trend["tips"][0]

    filtered = page_of(browser(owner), f"{path}?label=variant:cached")
    assert 'Runs <span class="muted">(3)</span>' in filtered and json_script(filtered, "trend-data")["n"] == [1, 2]
    assert json_script(filtered, "trend-data")["baseline"] is None
    assert "Write it as KEY:VALUE" in page_of(browser(owner), f"{path}?label=cached")
    assert 'id="trend-data"' not in page_of(browser(owner), f"{path}?label=variant:none")


def test_the_test_page_is_for_users_with_runs_in_it(users: dict[str, Any]) -> None:
    theirs = measured_run(users["stranger"])
    path = f"/tests/{theirs.test_id}/"
    assert browser(users["owner"]).get(path).status_code == 404
    assert browser(users["staff"]).get(path).status_code == 200
    assert browser(users["stranger"]).get(path).status_code == 200


def test_the_experiment_compares_the_medians_of_two_variants(users: dict[str, Any]) -> None:
    owner = users["owner"]
    for seed in range(3):
        measured_run(owner, (20, 40), seed=seed, labels={"variant": "baseline"})
        measured_run(owner, (2, 6), seed=10 + seed, labels={"variant": "cached"})
    measured_run(users["stranger"], (200, 400), labels={"variant": "cached"})  # not theirs: left out
    path = f"/tests/{LoadTest.objects.get().pk}/"
    page = page_of(browser(owner), f"{path}?key=variant&base=baseline&run=cached")
    result = page.split('id="experiment-result"')[1].split("</section>")[0]
    assert "variant=cached against variant=baseline" in result and "no regression" in result
    assert "3 runs against 3" in result and result.count("n = 3") >= 2 * 6  # every metric's range, both sides
    p95 = re.search(r'<tr data-metric="p95" class="improvement">(.*?)</tr>', result, re.S)
    assert p95 is not None and "<strong>yes</strong>" in p95.group(1) and MWU_LATENCY in p95.group(1)
    assert '<option value="cached">' in page  # the values to pick from

    missing = page_of(browser(owner), f"{path}?key=variant&base=baseline&run=nothing")
    assert "has no finished run labelled variant=nothing" in missing and 'id="experiment-result"' not in missing
    invalid = page_of(browser(owner), f"{path}?key=bad+key&base=a&run=")
    assert 'id="experiment-result"' not in invalid and len(field_errors(invalid)) == 2


# --- the compare page -------------------------------------------------------------------------


def test_the_compare_page_shows_deltas_with_their_test_states_series_and_diffs(users: dict[str, Any]) -> None:
    owner = users["owner"]
    base = measured_run(owner, (10, 30), labels={"variant": "baseline"}, script="export default function () {\n  get('/a');\n}")
    run = measured_run(
        owner, (30, 60), seed=2, labels={"variant": "slow"}, script="export default function () {\n  get('/a');\n  get('<b>');\n}"
    )
    page = page_of(browser(owner), f"/compare?base={base.pk}&run={run.pk}")
    assert f'href="/runs/{base.pk}/"' in page and f'href="/runs/{run.pk}/"' in page and ">variant=slow</a>" in page

    metrics = page.split('id="compare-metrics"')[1].split("</table>")[0]
    p95 = re.search(r'<tr data-metric="p95" class="regression">(.*?)</tr>', metrics, re.S)
    assert p95 is not None and "<strong>yes</strong>" in p95.group(1) and MWU_LATENCY in p95.group(1)
    assert re.search(r'class="num change-worse">\+\d+\.\d ms<', p95.group(1)) and re.search(r">\+\d+\.\d %<", p95.group(1))
    assert "Tests used: " in page and MWU_LATENCY in page.split("Tests used: ")[1].split("</p>")[0]
    assert "p95 went from" in page and "A change is a regression when it is worse by more than 10.0 %" in page

    endpoints = page.split('id="compare-endpoints"')[1].split("</section>")[0]
    assert "GET http://127.0.0.1:9/items 200" in endpoints and "2000 → 2000" in endpoints and "regression" in endpoints
    states = page.split('id="compare-states"')[1].split("</section>")[0]
    assert "<code>p(95)&lt;40</code>" in states and '<span class="ok">passed</span> → <span class="fail">failed</span>' in states

    series = json_script(page, "compare-data")
    assert series["t"] == list(range(10)) and len(series["p95_ms"]["base"]) == len(series["p95_ms"]["run"]) == 10
    assert series["p95_ms"]["run"][0] > series["p95_ms"]["base"][0] and series["error_percent"]["run"] == [0.0] * 10
    script_diff = page.split('id="script-diff"')[1].split("</pre>")[0]
    assert '<span class="diff-add">+  get(&#x27;&lt;b&gt;&#x27;);</span>' in script_diff and "<b>" not in script_diff
    assert '<span class="diff-file">--- base/script</span>' in script_diff
    config_diff = page.split('id="config-diff"')[1].split("</pre>")[0]
    assert '<span class="diff-del">-    &quot;variant&quot;: &quot;baseline&quot;</span>' in config_diff


def test_the_compare_page_says_why_it_cannot_compare(users: dict[str, Any]) -> None:
    owner = users["owner"]
    done = measured_run(owner)
    other = measured_run(owner, seed=2)
    queued = stored_run(owner, status="queued", grade="")
    RunResult.objects.filter(run=queued).delete()
    theirs = measured_run(users["stranger"])
    client = browser(owner)
    assert browser().get(f"/compare?base={done.pk}&run={other.pk}").status_code == 302
    assert page_of(browser(users["stranger"]), f"/compare?base={done.pk}&run={theirs.pk}", 404)
    cases = [
        (f"base={done.pk}&run={theirs.pk}", 404, f"No compared run {theirs.pk} that you can see."),
        (f"base={'0' * 8}-0000-0000-0000-{'0' * 12}&run={done.pk}", 404, "No base run 00000000-"),
        (f"base={done.pk}&run={queued.pk}", 409, f"Run {queued.pk} has no results to compare (queued)."),
        (f"base=nonsense&run={done.pk}", 400, "Enter a valid UUID."),
    ]
    for query, status, message in cases:
        page = page_of(client, f"/compare?{query}", status)
        assert message in page, query
        assert 'id="compare-data"' not in page
    assert "Give two run ids" in page_of(client, "/compare")


def test_the_compare_page_offers_the_other_runs_of_the_test(users: dict[str, Any]) -> None:
    owner = users["owner"]
    run = measured_run(owner)
    others = [measured_run(owner, seed=2, labels={"variant": "v2"}), measured_run(owner, seed=3)]
    measured_run(owner, test="elsewhere")
    hidden = measured_run(users["stranger"])
    page = page_of(browser(owner), f"/compare?run={run.pk}")
    assert html.escape(f"/compare?base={others[0].pk}&run={run.pk}") in page
    assert html.escape(f"/compare?base={others[1].pk}&run={run.pk}") in page
    assert str(hidden.pk) not in page and page.count(">Compare</a>") == 2 and ">variant=v2</a>" in page
    against = page_of(browser(owner), f"/compare?base={run.pk}")
    assert html.escape(f"/compare?base={run.pk}&run={others[0].pk}") in against


def test_the_forms_split_a_run_over_k6_processes_within_the_limits(
    users: dict[str, Any], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = browser(users["owner"])
    assert 'name="segments"' in client.get("/runs/new").content.decode()
    assert 'name="segments"' in page_of(browser(users["staff"]), "/runs/upload")
    monkeypatch.setattr("runs.api.serializers.k6_workers", lambda: 2)  # two idle k6 slots (counted for real in test_segments)
    settings.MAX_SEGMENTS = 4
    for segments, message in (("5", "At most MAX_SEGMENTS=4 segments."), ("3", "3 segments need 3 free k6 workers; 2 can")):
        page = client.post("/runs/new", {**BUILDER, "segments": segments, **solved(client, "/runs/new")}).content.decode()
        assert any(message in error for error in field_errors(page)), (segments, field_errors(page))
    assert not Run.objects.exists()
    client.post("/runs/new", {**BUILDER, "segments": "2", **solved(client, "/runs/new")})
    assert Run.objects.get().segments == 2
