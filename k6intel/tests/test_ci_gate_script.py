"""scripts/ci_gate.sh, the README's CI job, run as CI runs it: against a live server (Daphne, embedded mode)
with a trusted API key and real k6 against targets of known latency. It submits through the API, follows the
event stream to the end, saves the JUnit XML, and its exit status is the gate."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from lxml import etree

ROOT = Path(settings.BASE_DIR)
SCRIPT = ROOT / "scripts" / "ci_gate.sh"
SCHEMA = etree.XMLSchema(etree.parse(str(ROOT / "reports" / "tests" / "junit.xsd")))


@pytest.fixture
def server(start_daphne: Callable[..., Any], tmp_path: Path) -> tuple[str, str]:
    """The server's address and a trusted key made as the README says (`apikey create ci --trusted`)."""
    daphne = start_daphne(migrate=True, ALLOW_LOOPBACK_TARGETS="true", RESULT_DIR=str(tmp_path / "results"),
                          RUN_POST_STAGES="reports.render.render_run")  # fmt: skip
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "REDIS_URL": ""}  # the server's database
    created = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "apikey", "create", "ci", "--trusted"], env=env, check=True,
        capture_output=True, text=True,
    )  # fmt: skip
    return daphne.base_url, created.stdout.strip().splitlines()[-1]


def gate(server: tuple[str, str], tmp_path: Path, target_url: str, sha: str, **env: str) -> subprocess.CompletedProcess[str]:
    base_url, key = server
    variables = {"K6INTEL_URL": base_url, "K6INTEL_KEY": key, "TARGET_URL": target_url, "TEST_NAME": "checkout",
                 "GIT_SHA": sha, "VUS": "4", "DURATION": "3s", "JUNIT_FILE": str(tmp_path / f"{sha}.xml")}  # fmt: skip
    return subprocess.run(
        ["sh", str(SCRIPT)], env={**os.environ, **variables, **env}, capture_output=True, text=True, timeout=240
    )


def junit_cases(tmp_path: Path, sha: str) -> dict[str | None, dict[str | None, Any]]:
    root = etree.parse(str(tmp_path / f"{sha}.xml")).getroot()
    SCHEMA.assertValid(root)
    return {
        suite.get("name"): {case.get("name"): case.find("failure") for case in suite.findall("testcase")}
        for suite in root.findall("testsuite")
    }


def run_id(output: str) -> str:
    found = re.search(r"^Run ([0-9a-f-]{36}) of test checkout", output, re.M)
    assert found, output
    return found.group(1)


def test_the_gate_passes_a_baseline_and_fails_a_regression_or_a_failed_verdict(
    server: tuple[str, str], tmp_path: Path, demo_target: Callable[..., Any]
) -> None:
    fast, slow = demo_target(latency_min_ms=10, latency_max_ms=30), demo_target(latency_min_ms=30, latency_max_ms=60)

    first = gate(server, tmp_path, fast.url, "aaa1111", SET_BASELINE="1", BRANCH="main")
    assert first.returncode == 0, first.stdout + first.stderr
    assert re.search(r"^\d+(\.\d+)? s: \d+ VUs, \d+ req/s, p95 [\d.]+ ms", first.stdout, re.M)  # followed live
    assert "end: done" in first.stdout and "Verdict: Passed" in first.stdout
    assert "No comparison: test checkout has no baseline" in first.stdout
    baseline_id = run_id(first.stdout)
    assert f"Run {baseline_id} is now the baseline of test checkout." in first.stdout
    assert list(junit_cases(tmp_path, "aaa1111")) == ["Verdict", "SLA (default)", "k6 thresholds"]

    slower = gate(server, tmp_path, slow.url, "bbb2222")
    assert slower.returncode == 1, slower.stdout + slower.stderr
    assert f"Compared with the baseline {baseline_id}:" in slower.stdout and re.search(r"^  p95 went from", slower.stdout, re.M)
    comparison = junit_cases(tmp_path, "bbb2222")["Comparison with the baseline (checkout)"]
    assert comparison["p95"] is not None and "p95 regressed against the baseline" in comparison["p95"].get("message")
    base_url, key = server
    document = httpx.get(f"{base_url}/api/result/{run_id(slower.stdout)}", headers={"X-API-Key": key}).json()
    assert document["labels"] == {"git_sha": "bbb2222"} and document["test"]["baseline_id"] == baseline_id
    assert document["verdict"]["status"] == "passed"  # it fails on the regression alone

    again = gate(server, tmp_path, fast.url, "ccc3333")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"Compared with the baseline {baseline_id}: 0 regression(s)" in again.stdout
    assert not any(junit_cases(tmp_path, "ccc3333")["Comparison with the baseline (checkout)"].values())

    failed = gate(server, tmp_path, fast.url, "ddd4444", RUN_OPTIONS='{"thresholds": {"http_req_duration": ["p(95)<1"]}}')
    assert failed.returncode == 1 and "Verdict: Failed" in failed.stdout, failed.stdout + failed.stderr


def test_a_refused_submission_ends_the_job_with_the_apis_message(
    server: tuple[str, str], tmp_path: Path, demo_target: Callable[..., Any]
) -> None:
    refused = gate(server, tmp_path, demo_target().url, "eee5555", K6INTEL_KEY="k6i_not-a-key")
    assert refused.returncode == 2
    assert "k6intel: POST /api/run failed: " in refused.stderr and "This API key is not valid" in refused.stderr
