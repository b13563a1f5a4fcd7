"""k6's Prometheus remote-write output, checked against a real Prometheus from Debian with its remote-write
receiver on: the run's series arrive labelled with its id, their totals are the run's, the Grafana dashboard's
queries find them, and the kernel lets k6 reach the endpoint while a script's own requests to it stay refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from conftest import free_port
from runs.api.serializers import BuilderRunSerializer
from runs.engine.egress import ruleset
from runs.engine.prometheus import RUN_LABEL
from runs.models import Run
from runs.pipeline import run_create_from_builder, run_execute

pytestmark = pytest.mark.django_db(transaction=True)
DASHBOARD = Path(django_settings.BASE_DIR) / "docs" / "grafana" / "k6intel-prometheus.json"


class Prometheus:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def query(self, promql: str) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}", timeout=10) as r:
            answer = json.load(r)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def query_range(self, promql: str, seconds: int = 600) -> list[dict[str, Any]]:
        """As a dashboard asks: over the last `seconds`, a point a second (the run has ended: its series are stale now)."""
        now = time.time()
        params = urllib.parse.urlencode({"query": promql, "start": now - seconds, "end": now, "step": 1})
        with urllib.request.urlopen(f"{self.url}/api/v1/query_range?{params}", timeout=10) as r:
            answer = json.load(r)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def names(self, run_id: str) -> set[str]:
        match = urllib.parse.urlencode({"match[]": f'{{{RUN_LABEL}="{run_id}"}}'})
        with urllib.request.urlopen(f"{self.url}/api/v1/label/__name__/values?{match}", timeout=10) as r:
            return set(json.load(r)["data"])


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing: make installs it (apt-get install prometheus)")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\n")
    command = [
        binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-remote-write-receiver", "--log.level=warn",
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ready = Prometheus(port)
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{ready.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("Prometheus did not become ready")
        yield ready
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_a_runs_metrics_reach_prometheus_labelled_with_its_id(
    prometheus: Prometheus, demo_target: Callable[..., Any], settings: Any
) -> None:
    settings.RUN_POST_STAGES = []
    settings.PROMETHEUS_RW_URL = f"{prometheus.url}/api/v1/write"
    settings.PROMETHEUS_RW_PUSH_INTERVAL_S = 1
    target = demo_target(latency_min_ms=5, latency_max_ms=15, error_rate=0.2)
    data = {"url": target.url, "vus": 2, "duration": "3s", "analyzers": [], "checks": {"status": 200}}
    serializer = BuilderRunSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    run = run_execute(run_create_from_builder(serializer).pk)
    assert run.status == Run.Status.DONE, run.error
    metrics = run.result.metrics
    names = prometheus.names(str(run.pk))
    assert {"k6_http_reqs_total", "k6_vus", "k6_http_req_duration_p95", "k6_http_req_failed_rate"} <= names, names
    (total,) = prometheus.query(f'sum(last_over_time(k6_http_reqs_total{{{RUN_LABEL}="{run.pk}"}}[10m]))')
    assert float(total["value"][1]) == metrics["http_reqs"]["count"] == target.errors.count
    # The Grafana dashboard's every query finds this run's series.
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["templating"]["list"][1]["query"]["query"] == f"label_values(k6_vus, {RUN_LABEL})"
    for panel in dashboard["panels"]:
        for target_query in panel["targets"]:
            promql = target_query["expr"].replace("$run", str(run.pk))
            assert prometheus.query_range(promql), (panel["title"], promql)


def test_the_kernel_lets_k6_reach_the_endpoint_and_a_scripts_request_to_it_stays_refused(
    prometheus: Prometheus, make_run: Callable[..., Run], settings: Any
) -> None:
    settings.RUN_POST_STAGES = []
    settings.ALLOW_LOOPBACK_TARGETS = False  # Prometheus listens on loopback: a blocked address for scripts
    settings.PROMETHEUS_RW_URL = f"{prometheus.url}/api/v1/write"
    settings.PROMETHEUS_RW_PUSH_INTERVAL_S = 1
    script = (
        "import http from 'k6/http';\nimport { Counter } from 'k6/metrics';\n"
        "const reached = new Counter('reached_prometheus');\n"
        "export const options = { iterations: 3 };\n"
        f"export default function () {{ const r = http.get('{prometheus.url}/-/ready'); if (r.status === 200) reached.add(1); }}\n"
    )
    run = run_execute(make_run(script, planned_duration_s=5).pk)
    assert run.status == Run.Status.DONE, run.error
    assert run.result.metrics["http_req_failed"]["rate"] == 1.0  # every request of the script was refused
    (iterations,) = prometheus.query(f'sum(last_over_time(k6_iterations_total{{{RUN_LABEL}="{run.pk}"}}[10m]))')
    assert float(iterations["value"][1]) == 3  # k6's own output got through
    assert not prometheus.query(f'k6_reached_prometheus_total{{{RUN_LABEL}="{run.pk}"}}')  # the script's requests did not


def test_the_endpoint_is_the_one_address_and_port_exempted_before_the_blocks() -> None:
    import ipaddress

    rules = ruleset(60600, [ipaddress.ip_network("127.0.0.0/8")], [], [(ipaddress.ip_address("127.0.0.1"), 9090)])
    accept = rules.index("meta skuid 60600 ip daddr 127.0.0.1 tcp dport 9090 accept")
    assert accept < rules.index("reject")


@pytest.mark.parametrize(
    ("url", "error"),
    [("prometheus:9090/api/v1/write", "k6intel.E006"), ("http://user:pw@prometheus:9090/api/v1/write", "k6intel.E007")],
)
def test_a_wrong_or_credentialled_endpoint_url_stops_the_server_with_its_reason(settings: Any, url: str, error: str) -> None:
    from runs.checks import prometheus_url_valid

    settings.PROMETHEUS_RW_URL = url
    assert [found.id for found in prometheus_url_valid(None)] == [error]


def test_a_run_may_name_its_own_endpoint_where_the_server_allows_it(
    prometheus: Prometheus, demo_target: Callable[..., Any], settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from django.core.management import call_command

    settings.RUN_POST_STAGES = []
    settings.PROMETHEUS_RW_PUSH_INTERVAL_S = 1
    target, endpoint = demo_target(latency_min_ms=2, latency_max_ms=4), f"{prometheus.url}/api/v1/write"
    refused = BuilderRunSerializer(data={"url": target.url, "prometheus_url": endpoint})
    assert not refused.is_valid() and "PROMETHEUS_RW_PER_RUN is off" in str(refused.errors["prometheus_url"])
    settings.PROMETHEUS_RW_PER_RUN = True
    call_command("loadtest", target.url, "--vus", "1", "--duration", "2s", "--prometheus-url", endpoint, "--json", verbosity=0)
    document = json.loads(capsys.readouterr().out)
    (total,) = prometheus.query(f'sum(last_over_time(k6_http_reqs_total{{{RUN_LABEL}="{document["id"]}"}}[10m]))')
    assert float(total["value"][1]) == document["metrics"]["http_reqs"]["count"]
    settings.ALLOW_LOOPBACK_TARGETS = False  # the same endpoint is a blocked address now: refused like a target
    blocked = BuilderRunSerializer(data={"url": "https://example.com/", "prometheus_url": endpoint})
    assert not blocked.is_valid() and "The metrics endpoint was refused" in str(blocked.errors["prometheus_url"])


def test_an_endpoint_that_is_down_costs_the_run_nothing_and_says_so_in_its_log(
    demo_target: Callable[..., Any], settings: Any
) -> None:
    settings.RUN_POST_STAGES = []
    settings.PROMETHEUS_RW_URL = f"http://127.0.0.1:{free_port()}/api/v1/write"  # nothing listens there
    settings.PROMETHEUS_RW_PUSH_INTERVAL_S = 1
    target = demo_target(latency_min_ms=2, latency_max_ms=4)
    serializer = BuilderRunSerializer(data={"url": target.url, "vus": 1, "duration": "2s", "analyzers": []})
    assert serializer.is_valid(), serializer.errors
    run = run_execute(run_create_from_builder(serializer).pk)
    assert run.status == Run.Status.DONE and run.k6_exit_code == 0, run.error
    assert run.result.metrics["http_reqs"]["count"] == target.errors.count  # every number still the target's
    assert "prometheus" in run.log.lower() and "connection refused" in run.log.lower(), run.log[-2000:]
