"""Scenarios, custom metrics and nested groups of a real k6 run, checked against a raw `k6 run` of the same script.

The script has three scenarios with different executors, thresholds on each scenario's submetrics, a Trend,
Rate, Counter and Gauge of its own (their values chosen so that every run of the script gives the same ones)
and the same check name in two nested groups. The witness is k6 itself: `k6 run --summary-export` of the
same script, run by the test, and the platform run's own summary for the numbers that vary between runs.
"""

from __future__ import annotations

import csv
import html
import io
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from pypdf import PdfReader

from reports.render import report_path
from runs.demo_target import DemoTarget, TargetProfile
from runs.engine.formatting import milliseconds, percent
from runs.engine.k6 import TREND_STATS
from runs.engine.results import read_summary, summary_checks, summary_metrics, summary_thresholds
from runs.models import Run
from runs.pipeline import run_create_from_script, run_execute
from runs.selectors import run_result

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = """
import http from 'k6/http';
import exec from 'k6/execution';
import { check, group } from 'k6';
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';

const cartTime = new Trend('cart_time');
const paidRate = new Rate('paid_rate');
const orders = new Counter('orders');
const queueDepth = new Gauge('queue_depth');

export const options = {
  scenarios: {
    browse: { executor: 'constant-vus', vus: 3, duration: '2s', exec: 'browse' },
    checkout: { executor: 'shared-iterations', vus: 2, iterations: 20, exec: 'checkout', maxDuration: '10s' },
    admin: { executor: 'per-vu-iterations', vus: 2, iterations: 5, exec: 'admin', maxDuration: '10s' },
  },
  thresholds: {
    'http_reqs{scenario:browse}': ['count>0'],
    'iterations{scenario:browse}': ['count>0'],
    'iteration_duration{scenario:browse}': ['avg<5000'],
    'http_req_duration{scenario:browse}': ['p(95)<5000'],
    'http_req_failed{scenario:checkout}': ['rate<0.5'],
    'http_reqs{scenario:checkout}': ['count>100'],
    'http_reqs{scenario:admin}': ['count==10'],
    cart_time: ['p(95)<10', 'avg<15'],
    'cart_time{step:pay}': ['max<100'],
    paid_rate: ['rate>0.9'],
    orders: ['count==20'],
    queue_depth: ['value<100'],
    checks: ['rate>0.5'],
  },
};

export function browse() {
  group('catalog', () => {
    check(http.get('TARGET/items'), { 'status is 200': (r) => r.status === 200 });
    group('details', () => {
      check(http.get('TARGET/items/1'), { 'status is 200': (r) => r.status === 200 });
    });
  });
}

export function checkout() {
  const n = exec.scenario.iterationInTest;  // 0..19, each once, whichever VU runs it
  group('checkout', () => {
    const response = http.post('TARGET/cart', '{}');
    check(response, { 'status is 200': (r) => r.status === 200 });
    cartTime.add(n, { step: n % 2 ? 'pay' : 'ship' });
    paidRate.add(n % 4 !== 0);
    orders.add(1);
  });
}

export function admin() {
  check(http.get('TARGET/admin'), { 'admin ok': (r) => r.status === 200 });
  queueDepth.add(exec.scenario.iterationInTest);  // 0..9
}

export function teardown() {
  http.get('TARGET/teardown');
  queueDepth.add(42);  // the last value, whatever order the VUs ran in
}
"""


@pytest.fixture(scope="module")
def target() -> Iterator[DemoTarget]:
    server = DemoTarget(TargetProfile(latency_min_ms=5, latency_max_ms=20, error_rate=0.1)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def raw(target: DemoTarget, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return raw_k6_summary(SCRIPT.replace("TARGET", target.url), tmp_path_factory.mktemp("raw"))


def raw_k6_summary(script: str, tmp_path: Path) -> dict[str, Any]:
    """The witness: plain `k6 run` of the same script, outside the platform."""
    (tmp_path / "script.js").write_text(script)
    command = [settings.K6_BIN, "run", "--quiet", "--no-usage-report", "--summary-trend-stats", TREND_STATS]
    done = subprocess.run(
        [*command, "--summary-export", str(tmp_path / "summary.json"), str(tmp_path / "script.js")],
        capture_output=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "K6_NO_USAGE_REPORT": "true"},
    )
    assert done.returncode == 99, done.stderr.decode()  # thresholds were crossed, as the script means them to be
    summary = read_summary(tmp_path / "summary.json")
    assert summary is not None
    return summary


def script_run(target: DemoTarget, **fields: Any) -> Run:
    """The script uploaded as a user would: checked (k6 inspect reads its options), stored, run."""
    run = run_create_from_script("tests", SCRIPT.replace("TARGET", target.url).encode(), "scenarios.js", **fields)
    run = run_execute(run.pk)
    assert run.status == "done" and run.k6_exit_code == 99, run.error
    return run


@pytest.fixture
def doc(target: DemoTarget, settings: Any) -> dict[str, Any]:
    settings.RUN_POST_STAGES = []
    return run_result(script_run(target))


def _by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in rows}


def test_each_scenarios_requests_errors_iterations_and_thresholds_match_k6(doc: dict[str, Any], raw: dict[str, Any]) -> None:
    own = doc["metrics"]  # the platform run's own k6 summary
    witness = summary_metrics(raw)
    scenarios = _by_name(doc["scenarios"])
    executors = {name: scenario["executor"] for name, scenario in scenarios.items()}
    assert executors == {  # as the script's options declare them
        "admin": "per-vu-iterations", "browse": "constant-vus", "checkout": "shared-iterations", "(setup and teardown)": None,
    }  # fmt: skip
    # A fixed number of iterations: the same as raw k6, request for request.
    for name, requests in (("checkout", 20), ("admin", 10)):
        assert scenarios[name]["requests"] == witness[f"http_reqs{{scenario:{name}}}"]["count"] == requests
        assert scenarios[name]["iterations"] == requests
    assert scenarios["checkout"]["failed"] == own["http_req_failed{scenario:checkout}"]["passes"]
    assert scenarios["(setup and teardown)"]["requests"] == 1
    # Constant VUs: k6's own count for this run exactly; raw k6's within what two runs of 2 s differ by.
    browse = scenarios["browse"]
    assert browse["requests"] == own["http_reqs{scenario:browse}"]["count"]
    assert 2 * browse["iterations"] == 2 * own["iterations{scenario:browse}"]["count"] == browse["requests"]
    assert browse["requests"] == pytest.approx(witness["http_reqs{scenario:browse}"]["count"], rel=0.3)
    assert browse["p95_ms"] == pytest.approx(own["http_req_duration{scenario:browse}"]["p95"], rel=0.02)
    assert sum(s["requests"] for s in doc["scenarios"]) == own["http_reqs"]["count"]
    assert sum(s["failed"] for s in doc["scenarios"]) == own["http_req_failed"]["passes"]
    # Per second: the series add up to the totals.
    for scenario in doc["scenarios"]:
        series = scenario["timeseries"]
        assert series["t"] == [point["t"] for point in doc["timeseries"]]
        assert (sum(series["requests"]), sum(series["errors"])) == (scenario["requests"], scenario["failed"])
        assert sum(series["iterations"]) == scenario["iterations"]
    # Busy VUs add up to the iteration time k6 measured; three VUs looping keep about three busy (a second's
    # estimate is off by up to half of each iteration that ended in it: k6 stamps whole seconds).
    iteration_time = own["iteration_duration{scenario:browse}"]
    assert sum(browse["timeseries"]["busy_vus"]) == pytest.approx(iteration_time["avg"] * browse["iterations"] / 1000, abs=0.1)
    assert 2.4 <= browse["busy_vus_max"] <= 3.6
    assert max(scenarios["admin"]["timeseries"]["busy_vus"]) < 1
    # Each scenario's thresholds pass or fail as in raw k6; one of them fails, so the comparison means something.
    expected = {(t["metric"], t["expression"]): t["ok"] for t in summary_thresholds(raw) if "scenario:" in t["metric"]}
    shown = {(t["metric"], t["expression"]): t["ok"] for s in doc["scenarios"] for t in s["thresholds"]}
    assert shown == expected and shown[("http_reqs{scenario:checkout}", "count>100")] is False
    assert {t["metric"] for t in scenarios["admin"]["thresholds"]} == {"http_reqs{scenario:admin}"}


def test_custom_metrics_and_nested_groups_match_k6(doc: dict[str, Any], raw: dict[str, Any]) -> None:
    custom = _by_name(doc["custom_metrics"])
    witness = summary_metrics(raw)
    thresholds = summary_thresholds(raw)
    assert {name: row["type"] for name, row in custom.items()} == {
        "cart_time": "trend", "cart_time{step:pay}": "trend", "orders": "counter", "paid_rate": "rate", "queue_depth": "gauge",
    }  # fmt: skip
    assert list(custom) == ["cart_time", "cart_time{step:pay}", "orders", "paid_rate", "queue_depth"]
    for name, row in custom.items():
        for key, value in row["values"].items():
            # A counter's rate is per second of the run, and the two runs last a little differently.
            assert value == pytest.approx(witness[name][key], rel=0.3 if key == "rate" and name == "orders" else 1e-9), (
                name,
                key,
            )
        assert row["thresholds"] == [{"expression": t["expression"], "ok": t["ok"]} for t in thresholds if t["metric"] == name]
    # Values worked out from the script, so the comparison above is not between two empty rows.
    assert custom["cart_time"]["values"]["avg"] == 9.5 and custom["cart_time{step:pay}"]["values"]["avg"] == 10
    assert custom["paid_rate"]["values"] == {"rate": 0.75, "passes": 15, "fails": 5}
    assert custom["queue_depth"]["values"] == {"value": 42, "min": 0, "max": 42}
    assert [t["ok"] for t in custom["cart_time"]["thresholds"]] == [True, False]  # avg<15, p(95)<10

    raw_checks, raw_paths = summary_checks(raw)
    tree = _by_name(doc["groups"])
    assert list(tree) == ["catalog", "checkout"]
    catalog, checkout = tree["catalog"], tree["checkout"]
    details = catalog["groups"][0]
    assert (details["name"], details["path"]) == ("details", "::catalog::details")
    assert sorted(group["path"] for group in (catalog, checkout, details)) == raw_paths
    # Two checks named alike stay apart: one per group, each with its own counts.
    assert [c["name"] for c in catalog["checks"]] == [c["name"] for c in details["checks"]] == ["status is 200"]
    own_checks = {(c["group"], c["name"]): c for c in doc["checks"]}
    for group in (catalog, details, checkout):
        own = own_checks[(group["path"], "status is 200")]
        assert group["checks"] == [{key: own[key] for key in ("name", "passes", "fails", "rate")}]
    browse_iterations = _by_name(doc["scenarios"])["browse"]["iterations"]
    assert catalog["passes"] + catalog["fails"] == 2 * (details["passes"] + details["fails"]) == 2 * browse_iterations
    raw_checkout = next(c for c in raw_checks if c["group"] == "::checkout")
    assert checkout["passes"] + checkout["fails"] == raw_checkout["passes"] + raw_checkout["fails"] == 20
    assert ("", "admin ok") in own_checks  # outside any group: in the flat list, not in the tree


def _text(markup: str) -> str:
    markup = re.sub(r"<script\b.*?</script>", " ", markup, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _scenario_line(s: dict[str, Any]) -> str:
    numbers = f"{s['requests']:,} {s['rps']:,.1f} {percent(s['error_rate'])} {milliseconds(s['p95_ms'])} {s['iterations']:,}"
    return f"{s['name']} {s['executor'] or '–'} {numbers}"


def test_every_surface_shows_the_scenarios_custom_metrics_and_group_tree(
    target: DemoTarget, settings: Any, tmp_path: Path, keys: dict[str, Any], api: Any
) -> None:
    settings.RUN_POST_STAGES, settings.RESULT_DIR = ["reports.render.render_run"], tmp_path
    owner = get_user_model().objects.create_user("owner", password="a-long-test-password-31")
    run = script_run(target, owner=owner, api_key=keys["user"][0])
    doc = run_result(run)
    scenarios, tree = _by_name(doc["scenarios"]), _by_name(doc["groups"])
    details = tree["catalog"]["groups"][0]

    # The API: the same document, to the run's key only.
    response = api("user").get(f"/api/result/{run.pk}")
    shown = orjson.loads(response.content)
    assert (shown["scenarios"], shown["custom_metrics"], shown["groups"]) == (
        doc["scenarios"],
        doc["custom_metrics"],
        doc["groups"],
    )
    assert api("other").get(f"/api/result/{run.pk}").status_code == 404

    # The run page: a row per scenario, each custom metric's thresholds, the checks under their groups.
    client = Client()
    client.force_login(owner)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    text = _text(page)
    for scenario in doc["scenarios"]:
        assert _scenario_line(scenario) in text, scenario["name"]
    assert "http_reqs count>100 failed" in text.split("checkout shared-iterations", 1)[1].split("(setup and teardown)")[0]
    assert "cart_time Trend" in text and "avg<15 passed p(95)<10 failed" in text
    checks = f"details {details['passes']} {details['fails']} {percent(details['rate'])} status is 200 {details['passes']}"
    assert checks in text
    assert re.search(r'data-depth="1"><td[^>]*><strong>details</strong>', page)
    assert re.search(r'data-depth="2"><td[^>]*>status is 200</td>', page)  # the check inside details, not the one in catalog
    specs = re.search(r'<script id="chart-specs" type="application/json">(.*?)</script>', page, re.S)
    assert specs is not None
    busy = next(chart for chart in orjson.loads(specs.group(1))["charts"] if chart["id"] == "scenario-busy_vus")
    assert [line["label"] for line in busy["series"]] == list(scenarios)
    assert 'id="chart-scenario-busy_vus"' in page

    # The HTML and PDF reports.
    report = _text(report_path(run.pk, "html").read_text())
    pdf = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(report_path(run.pk, "pdf")).pages)
    for shown_text in (report, pdf):
        assert "Scenarios" in shown_text and "Checks, by group" in shown_text
        assert f"checkout shared-iterations 20 {scenarios['checkout']['rps']:,.1f}" in shown_text
        assert "checkout http_reqs count>100 FAILED" in shown_text
        assert "cart_time{step:pay} trend" in shown_text and "avg<15 passed, p(95)<10 FAILED" in shown_text
        assert f"details {details['passes']:,} {details['fails']:,} {percent(details['rate'])}" in shown_text
    assert "Busy VUs by scenario (from iteration time)" in pdf  # the chart of the same spec as the page

    # The CSV time series (a column per scenario and measure) and the CSV summary.
    series = list(csv.DictReader(io.StringIO(report_path(run.pk, "csv").read_text())))
    for name, scenario in scenarios.items():
        assert sum(int(row[f"scenario:{name}:requests"]) for row in series) == scenario["requests"]
        assert sum(int(row[f"scenario:{name}:iterations"]) for row in series) == scenario["iterations"]
    summary = {tuple(row[:3]): row[3] for row in csv.reader(io.StringIO(report_path(run.pk, "summary_csv").read_text()))}
    assert summary[("scenario", "browse", "requests")] == str(scenarios["browse"]["requests"])
    assert summary[("threshold", "cart_time", "p(95)<10")] == "failed"
    assert summary[("metric", "queue_depth", "type")] == "gauge" and summary[("metric", "queue_depth", "value")] == "42"
    assert summary[("check", "::catalog::details::status is 200", "passes")] == str(details["passes"])
    assert summary[("check", "::catalog::status is 200", "passes")] == str(tree["catalog"]["checks"][0]["passes"])
    assert summary[("group", "::catalog::details", "fails")] == str(details["fails"])
    assert api("user").get(doc["links"]["summary_csv"])["Content-Type"].startswith("text/csv")
    assert api("other").get(doc["links"]["summary_csv"]).status_code == 404
