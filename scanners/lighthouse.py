"""Lighthouse (npm, pinned in package.json) with the same Chromium, mobile and desktop."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from django.conf import settings

from runs.engine.targets import TargetRejected, check_target_url
from scanners.isolated import kill_tree
from scanners.outcome import Outcome, failed, skipped
from scanners.pagetest import CHROMIUM_FLAGS, CPU_SLOWDOWN, DEFAULT_PROFILE, PROFILES, chromium_path
from scanners.policy_proxy import chromium_proxy_flags, policy_proxy

CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
METRICS = {
    "fcp_ms": "first-contentful-paint",
    "lcp_ms": "largest-contentful-paint",
    "cls": "cumulative-layout-shift",
    "tbt_ms": "total-blocking-time",
    "tti_ms": "interactive",
    "speed_index_ms": "speed-index",
}
TOP_OPPORTUNITIES = 5
RUN_TIMEOUT_S = 150


def lighthouse_bin() -> Path | None:
    local = Path(settings.BASE_DIR) / "node_modules" / ".bin" / "lighthouse"
    return local if local.exists() else None


def analyze(url: str, output_dir: Path | None = None, throttling: str = "") -> Outcome:
    """`throttling`: "simulate" (Lighthouse's Lantern estimates) or "devtools" (applied in the browser, with
    the page test's profile on mobile); default LIGHTHOUSE_THROTTLING."""
    throttling = throttling or settings.LIGHTHOUSE_THROTTLING
    if urlsplit(url).scheme not in ("http", "https"):
        return skipped("Lighthouse needs an http(s) URL.")
    try:
        check_target_url(url)
    except TargetRejected as exc:
        return skipped(f"Not tested: {exc}")
    problem = _missing_tools()
    if problem:
        return skipped(problem)
    try:
        reports = {form: run_form(url, form, throttling) for form in ("mobile", "desktop")}
    except LighthouseFailed as exc:
        return failed(str(exc))
    return outcome_of(reports)


def _missing_tools() -> str | None:
    if shutil.which("node") is None:
        return "Node.js was not found: install it (Debian: apt-get install nodejs npm), then run make."
    if lighthouse_bin() is None:
        return "Lighthouse is not installed: run `npm ci` (make does it) in the project directory."
    if chromium_path() is None:
        return "Chromium was not found: install it (Debian: apt-get install chromium) or set CHROMIUM_PATH."
    return None


class LighthouseFailed(RuntimeError):
    pass


def run_form(url: str, form_factor: str, throttling: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="k6intel-lh-") as tmp, policy_proxy() as (proxy_url, _):
        report = Path(tmp) / "report.json"
        flags = ["--headless=new", *CHROMIUM_FLAGS, *chromium_proxy_flags(proxy_url), f"--user-data-dir={tmp}/profile"]
        command = [
            str(lighthouse_bin()), url, "--quiet", "--output=json", f"--output-path={report}",
            f"--only-categories={','.join(CATEGORIES)}", f"--throttling-method={throttling}",
            f"--chrome-flags={' '.join(flags)}",
        ]  # fmt: skip
        if form_factor == "desktop":
            command.append("--preset=desktop")
        elif throttling == "devtools":
            command += page_test_throttling()
        env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": tmp, "CHROME_PATH": chromium_path() or ""}
        node = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp, start_new_session=True)
        try:
            _, stderr = node.communicate(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            kill_tree(node)  # Lighthouse and the Chromium it launched: none is left running
            raise LighthouseFailed(f"Lighthouse ({form_factor}) timed out after {RUN_TIMEOUT_S} s.") from None
        if node.returncode != 0 or not report.exists():
            raise LighthouseFailed(f"Lighthouse ({form_factor}) failed: {stderr.decode(errors='replace')[-600:]}")
        data = orjson.loads(report.read_bytes())
    if data.get("runtimeError"):
        raise LighthouseFailed(f"Lighthouse ({form_factor}): {data['runtimeError'].get('message')}")
    return data


def page_test_throttling() -> list[str]:
    """The page test's network profile and CPU slowdown as Lighthouse's DevTools throttling, so the two
    analyzers measure the page under the very same throttling."""
    profile = PROFILES[DEFAULT_PROFILE]
    # Lighthouse turns Kbps into bytes with 1024, the page test with 1000: the same link in both units.
    return [
        f"--throttling.requestLatencyMs={profile.rtt_ms}",
        f"--throttling.downloadThroughputKbps={profile.down_kbps * 1000 / 1024:g}",
        f"--throttling.uploadThroughputKbps={profile.up_kbps * 1000 / 1024:g}",
        f"--throttling.cpuSlowdownMultiplier={CPU_SLOWDOWN}",
    ]


def throttling_of(data: dict[str, Any]) -> dict[str, Any]:
    """Which throttling ran, as the report itself records it: simulated metrics are Lantern's estimates."""
    settings_used = data.get("configSettings") or {}
    method = settings_used.get("throttlingMethod", "")
    values = settings_used.get("throttling") or {}
    if method == "simulate":
        applied = {"rtt_ms": values.get("rttMs"), "down_kbps": values.get("throughputKbps")}
    elif method == "devtools":
        down = values.get("downloadThroughputKbps")
        applied = {"rtt_ms": values.get("requestLatencyMs"), "down_kbps": round(down * 1024 / 1000) if down else down}
    else:
        applied = {"rtt_ms": 0, "down_kbps": 0}
    cpu = values.get("cpuSlowdownMultiplier") if method != "provided" else 1
    throttled = method == "simulate" or bool(applied["rtt_ms"] or applied["down_kbps"] or (cpu or 1) > 1)
    if method == "simulate":
        metrics_are = "simulated estimates (Lantern), not measured"
    else:
        metrics_are = "measured in the throttled browser" if throttled else "measured without throttling"
    return {"method": method, **applied, "cpu_slowdown": cpu, "metrics_are": metrics_are}


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    audits = data["audits"]
    scores = {
        key: round(category["score"] * 100) for key, category in data["categories"].items() if category.get("score") is not None
    }
    metrics = {
        name: round(audits[audit]["numericValue"], 4 if name == "cls" else 1)
        for name, audit in METRICS.items()
        if audit in audits
    }
    opportunities = sorted(
        (
            {"id": key, "title": audit["title"], "savings_ms": round(audit["details"].get("overallSavingsMs", 0)),
             "savings_bytes": audit["details"].get("overallSavingsBytes", 0)}
            for key, audit in audits.items()
            if (audit.get("details") or {}).get("type") == "opportunity" and (audit.get("score") or 0) < 0.9
        ),
        key=lambda item: -item["savings_ms"],
    )  # fmt: skip
    return {
        "scores": scores,
        "metrics": metrics,
        "opportunities": opportunities[:TOP_OPPORTUNITIES],
        "version": data["lighthouseVersion"],
        "throttling": throttling_of(data),
    }


def outcome_of(reports: dict[str, dict[str, Any]]) -> Outcome:
    """The analyzer's result from Lighthouse's mobile and desktop reports."""
    mobile, desktop = _summary(reports["mobile"]), _summary(reports["desktop"])
    performance = mobile["scores"].get("performance", 0)
    grade = next(g for floor, g in ((90, "A"), (80, "B"), (70, "C"), (60, "D"), (0, "F")) if performance >= floor)
    scores = ", ".join(f"{name} {value}" for name, value in mobile["scores"].items())
    details = {**mobile, "form_factor": "mobile", "desktop": desktop}
    method = {"simulate": "simulated throttling", "devtools": "DevTools throttling"}.get(mobile["throttling"]["method"], "")
    summary = f"Mobile ({method}): {scores}" if method else f"Mobile: {scores}"
    return Outcome(status="ok", grade=grade, score=performance, summary=summary, details=details)
