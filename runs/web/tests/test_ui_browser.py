"""The browser UI in real Chromium against a real server process (embedded mode, as `make run` starts it).

Screenshots of the main pages are saved under artifacts/screenshots/ for people to look at.
"""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright
from pypdf import PdfReader

from runs.conftest import worker_database_url
from runs.models import Run
from scanners.pagetest import CHROMIUM_FLAGS, chromium_path

SCREENSHOTS = settings.BASE_DIR / "artifacts" / "screenshots"
PASSWORD = "a-long-test-password-31"
REJECTED_SCRIPT = """import http from "k6/http";
import lib from "https://cdn.example.com/lib.js";

export default function () {
  const secrets = open("/etc/passwd");
  http.get("http://169.254.169.254/latest/meta-data/");
}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gate(tmp_path: Path) -> Path:
    """While this file is missing, the server's runs wait before their analyzers (runs.tests.stages.wait_for_gate)."""
    path = tmp_path / "gate-open"
    path.touch()
    return path


@pytest.fixture
def ui_server(transactional_db: None, tmp_path: Path, gate: Path) -> Iterator[str]:
    """`manage.py runserver` in its own process, on the test database, with no Redis: the embedded mode."""
    port = _free_port()
    env = {
        "GATE_FILE": str(gate),
        "RUN_POST_STAGES": ",".join(["runs.tests.stages.wait_for_gate", *settings.RUN_POST_STAGES]),
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": "",
        "DEBUG": "true",
        "CAPTCHA_TEST_MODE": "true",
        "ANALYZERS": "headers",
        "GEMINI_API_KEYS": "",
        "RESULT_DIR": str(tmp_path / "results"),
    }
    log_path = tmp_path / "server.log"
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    server = subprocess.Popen(
        command, cwd=settings.BASE_DIR, env=env, start_new_session=True, stdout=log_path.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        _wait_listening(port, server, log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def _wait_listening(port: int, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the server exited {server.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the server did not start:\n{log_path.read_text()[-3000:]}")


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Page]:
    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are plain
    # synchronous code between browser steps, which Django's async guard cannot tell apart.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    executable = chromium_path()
    if executable is None:
        pytest.fail("Chromium is missing: make installs it (apt-get install chromium) or set CHROMIUM_PATH.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page.set_default_timeout(30_000)
        script_errors: list[str] = []
        page.on("pageerror", lambda error: script_errors.append(str(error)))

        def keep_console_error(message: ConsoleMessage) -> None:
            if message.type == "error":
                script_errors.append(message.text)

        page.on("console", keep_console_error)
        yield page
        browser.close()
    assert not script_errors, f"the pages logged errors: {script_errors}"


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def _log_in(page: Page, server: str, username: str) -> None:
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_a_user_builds_a_test_watches_it_live_and_downloads_the_report(
    ui_server: str, browser_page: Page, demo_target: Callable[..., Any], tmp_path: Path
) -> None:
    user = get_user_model().objects.create_user("perf", password=PASSWORD)
    target = demo_target(latency_min_ms=10, latency_max_ms=30)
    page = browser_page

    # Anonymous visitors are sent to the login page, and back where they wanted to go afterwards.
    page.goto(f"{ui_server}/runs/new")
    assert "/accounts/login/" in page.url and "next=/runs/new" in page.url
    _shot(page, "login")
    page.get_by_label("Username", exact=True).fill("perf")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="New load test")).to_be_visible()

    page.get_by_label("Target URL", exact=True).fill(target.url)
    page.get_by_label("VUs", exact=True).fill("3")
    page.get_by_label("Duration", exact=True).fill("8s")
    page.get_by_label("Headers", exact=True).fill("Accept: application/json")
    page.get_by_role("button", name="Preview script").click()
    expect(page.locator("#script-preview")).to_contain_text(target.url)
    assert page.get_by_label("Target URL", exact=True).input_value() == target.url  # nothing lost on the round trip
    _shot(page, "new-test")

    page.get_by_label("Solve to start", exact=True).fill("PASSED")
    page.get_by_role("button", name="Start test").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}/$"))
    run_id = page.url.rstrip("/").rsplit("/", 1)[1]

    # Live metrics arrive over the websocket while k6 runs.
    expect(page.locator("#live")).to_have_attribute("data-metrics-count", re.compile(r"^[2-9]$|^\d{2,}$"), timeout=30_000)
    expect(page.locator("#stepper li[data-key=k6]")).to_have_attribute("data-state", "current")  # k6 still running
    expect(page.locator("#live-vus")).to_have_text(re.compile(r"^[1-3]$"))
    expect(page.locator("#live-log")).to_contain_text(re.compile(r"running \(\d+\.\ds\), [1-3]/3 VUs"))  # k6's progress
    # A reload mid-run rebuilds the live view from the replayed history.
    page.reload()
    expect(page.locator("#live")).to_have_attribute("data-metrics-count", re.compile(r"^[2-9]$|^\d{2,}$"))
    expect(page.locator("#stepper li[data-key=queued]")).to_have_attribute("data-state", "done")
    _shot(page, "run-live")

    # When the run ends the page reloads into the full result, the verdict first.
    expect(page.locator("#verdict-headline")).to_have_text("Passed", timeout=90_000)
    expect(page.locator("#grade-badge")).to_have_text("A", timeout=90_000)
    expect(page.locator("#analyzers")).to_contain_text("Security headers")
    page.get_by_text("k6 log").click()
    expect(page.get_by_text(re.compile(r"http_reqs\.+: \d+"))).to_be_visible()
    expect(page.locator("#stepper li[data-key=done]")).to_have_attribute("data-state", "done")
    _shot(page, "run-result")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="PDF report").click()
    pdf_path = tmp_path / "report.pdf"
    download_info.value.save_as(pdf_path)
    pdf_text = "".join(page_.extract_text() for page_ in PdfReader(io.BytesIO(pdf_path.read_bytes())).pages)
    assert "SLA scorecard" in pdf_text and "Load test report" in pdf_text

    page.set_viewport_size({"width": 390, "height": 844})  # phone width
    page.goto(f"{ui_server}/")
    expect(page.get_by_role("link", name=target.url)).to_be_visible()
    _shot(page, "dashboard-phone")

    run = Run.objects.get(pk=run_id)
    assert run.owner == user and run.status == "done" and run.grade == "A"


def test_a_rejected_script_shows_its_findings_with_line_numbers(ui_server: str, browser_page: Page, tmp_path: Path) -> None:
    get_user_model().objects.create_user("scripter", password=PASSWORD)
    script = tmp_path / "hostile.js"
    script.write_text(REJECTED_SCRIPT)
    page = browser_page
    page.goto(f"{ui_server}/")
    assert "/accounts/login/" in page.url
    _log_in(page, ui_server, "scripter")

    page.get_by_role("link", name="Upload script").click()
    page.get_by_label("Project name", exact=True).fill("uploads")
    page.get_by_label("k6 script or bundle", exact=True).set_input_files(script)
    page.get_by_label("Solve to start", exact=True).fill("PASSED")
    page.get_by_role("button", name="Check and run").click()

    findings = page.locator("#findings")
    expect(findings).to_contain_text("The script was not run")
    expect(findings).to_contain_text("hostile.js, line 2")  # the remote import
    expect(findings).to_contain_text("hostile.js, line 5")  # the file read
    expect(findings).to_contain_text('open("/etc/passwd")')  # the offending source line is shown
    expect(page.get_by_label("Project name", exact=True)).to_have_value("uploads")
    _shot(page, "upload-rejected")
    assert not Run.objects.exists()


def _execute_as(user: Any, make: Callable[[], Run]) -> Run:
    from runs.pipeline import run_execute

    run = make()
    Run.objects.filter(pk=run.pk).update(owner=user)
    return run_execute(run.pk)


def test_the_verdict_banner_says_passed_failed_or_not_graded_first(
    ui_server: str, browser_page: Page, demo_target: Callable[..., Any], make_run: Callable[..., Run], settings: Any
) -> None:
    from runs.api.serializers import BuilderRunSerializer
    from runs.pipeline import run_create_from_builder

    settings.RUN_POST_STAGES = []
    user = get_user_model().objects.create_user("verdicts", password=PASSWORD)
    target = demo_target(latency_min_ms=1, latency_max_ms=3)

    def builder(**data: Any) -> Callable[[], Run]:
        serializer = BuilderRunSerializer(data={"url": target.url, "vus": 2, "duration": "2s", **data})
        assert serializer.is_valid(), serializer.errors
        return lambda: run_create_from_builder(serializer)

    failed = _execute_as(user, builder(thresholds={"http_req_duration": ["p(95)<0.01"]}))
    broken = _execute_as(
        user, lambda: make_run("export function setup() { throw new Error('no token'); }\nexport default function () {}")
    )
    page = browser_page
    page.goto(f"{ui_server}/")
    _log_in(page, ui_server, "verdicts")

    page.goto(f"{ui_server}/runs/{failed.pk}/")
    banner = page.locator("#verdict-banner")
    expect(page.locator("#verdict-headline")).to_have_text("Failed")
    expect(banner).to_contain_text("1 of 1 k6 threshold failed: http_req_duration p(95)<0.01 was")
    expect(page.locator("#grade-badge")).to_have_text("C")  # one failed threshold caps like one missed criterion
    expect(page.locator("#scorecard tr[data-kind=threshold]")).to_contain_text("no")
    _shot(page, "run-failed-verdict")

    page.goto(f"{ui_server}/runs/{broken.pk}/")
    expect(page.locator("#verdict-headline")).to_have_text("Not graded")
    expect(page.locator("#verdict-banner")).to_contain_text("no token")
    assert page.locator("#grade-badge").count() == 0
    expect(page.locator("main")).not_to_contain_text("Excellent")
    assert page.locator("#downloads").count() == 0  # no report links that would 404
    _shot(page, "run-not-graded")

    page.goto(f"{ui_server}/runs/")
    expect(page.locator("table")).to_contain_text("failed")
    expect(page.locator("table")).to_contain_text("not graded")


def test_k6_results_show_while_the_analyzers_still_run(
    ui_server: str, browser_page: Page, demo_target: Callable[..., Any], gate: Path
) -> None:
    get_user_model().objects.create_user("patient", password=PASSWORD)
    target = demo_target(latency_min_ms=1, latency_max_ms=3)
    gate.unlink()  # runs now wait before their analyzers until the gate opens again
    page = browser_page
    page.goto(f"{ui_server}/")
    _log_in(page, ui_server, "patient")
    page.goto(f"{ui_server}/runs/new")
    page.get_by_label("Target URL", exact=True).fill(target.url)
    page.get_by_label("VUs", exact=True).fill("2")
    page.get_by_label("Duration", exact=True).fill("2s")
    page.get_by_label("Solve to start", exact=True).fill("PASSED")
    page.get_by_role("button", name="Start test").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}/$"))

    # k6 is done and its results are stored: the page shows them with the verdict while the analyzers wait.
    expect(page.locator("#verdict-banner")).to_be_visible(timeout=60_000)
    banner = page.locator("#verdict-banner").inner_text()
    run_id = page.url.rstrip("/").rsplit("/", 1)[1]
    assert page.locator("#verdict-headline").inner_text() == "Passed", (banner, Run.objects.get(pk=run_id).error)
    expect(page.locator("#key-metrics")).to_be_visible()
    expect(page.locator("#panel-headers .analyzer-pending")).to_contain_text("Running")
    expect(page.locator("#analyzing-note")).to_be_visible()
    expect(page.locator("#run-status")).to_have_text("analyzing")  # replayed history must not wind it back
    assert page.locator("#cancel-form").count() == 0  # k6 has ended: nothing left to cancel
    assert Run.objects.get(pk=run_id).status == "analyzing"
    _shot(page, "run-analyzing")

    gate.touch()  # the analyzers run; the page fills in and ends on the report
    expect(page.locator("#downloads")).to_be_visible(timeout=90_000)
    expect(page.locator("#panel-headers .analyzer-pending")).to_have_count(0)
    expect(page.locator("#verdict-headline")).to_have_text("Passed")


# The compare page's line colours (static/k6intel/compare.js) and the trend's baseline marker (trend.js).
BASE_RGB, RUN_RGB, BASELINE_RGB = (0x4C, 0x78, 0xA8), (0xF5, 0x85, 0x18), (0x5B, 0x4C, 0xDB)
COLOUR_PIXELS = """([selector, rgb]) => {
  const canvas = document.querySelector(`${selector} canvas`);
  if (!canvas) return 0;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    const near = [0, 1, 2].every((c) => Math.abs(pixels[i + c] - rgb[c]) < 24);
    if (near && pixels[i + 3] > 200) count += 1;
  }
  return count;
}"""


def _drawn_in(page: Page, selector: str, rgb: tuple[int, int, int], at_least: int = 40) -> None:
    """Wait until the chart's canvas has that colour drawn on at least `at_least` pixels (a line, a marker)."""
    page.wait_for_function(f"(arg) => ({COLOUR_PIXELS})(arg) >= {at_least}", arg=[selector, list(rgb)])


def test_the_compare_page_overlays_two_runs_and_the_test_page_draws_their_trend(
    ui_server: str, browser_page: Page, demo_target: Callable[..., Any], settings: Any
) -> None:
    from runs.api.serializers import BuilderRunSerializer
    from runs.loadtests import set_baseline
    from runs.pipeline import run_create_from_builder

    settings.RUN_POST_STAGES = []
    user = get_user_model().objects.create_user("comparer", password=PASSWORD)
    fast, slow = demo_target(latency_min_ms=10, latency_max_ms=30), demo_target(latency_min_ms=30, latency_max_ms=60)

    def builder(url: str, **labels: str) -> Callable[[], Run]:
        data = {"url": url, "vus": 3, "duration": "3s", "test": "checkout", "labels": labels, "analyzers": []}
        serializer = BuilderRunSerializer(data=data)
        assert serializer.is_valid(), serializer.errors
        return lambda: run_create_from_builder(serializer, meta=serializer.to_meta())

    baseline = _execute_as(user, builder(fast.url, variant="baseline", git_sha="aaaaaaa1111"))
    set_baseline(baseline)
    slower = _execute_as(user, builder(slow.url, variant="slow", git_sha="bbbbbbb2222"))
    again = _execute_as(user, builder(fast.url, variant="baseline", git_sha="ccccccc3333"))
    assert slower.comparison["metrics"]["p95"]["regression"], slower.comparison  # the known truth
    page = browser_page
    page.goto(f"{ui_server}/")
    _log_in(page, ui_server, "comparer")

    # The slower run's page says it regressed against the baseline, and leads to the full comparison.
    page.goto(f"{ui_server}/runs/{slower.pk}/")
    expect(page.locator("#baseline-comparison")).to_contain_text("Compared with the baseline")
    expect(page.locator("#comparison-metrics tr[data-metric=p95]")).to_have_class("regression")
    expect(page.locator("#run-belonging")).to_contain_text("variant=slow")
    _shot(page, "run-compared")
    page.get_by_role("link", name="Compare with…").click()
    page.wait_for_url(re.compile(r"/compare\?base="))
    expect(page.locator("#compare-metrics tr[data-metric=p95]")).to_contain_text("yes")
    expect(page.locator("#compare-verdict")).to_contain_text("Mann-Whitney U")
    for measure in ("p95_ms", "rps", "error_percent"):
        chart = f"#chart-compare-{measure}"
        expect(page.locator(f"{chart} .u-legend")).to_contain_text("base")
        expect(page.locator(f"{chart} .u-legend")).to_contain_text("run")
        if measure != "error_percent":  # no errors: both lines lie on the axis, one over the other
            _drawn_in(page, chart, BASE_RGB)
            _drawn_in(page, chart, RUN_RGB)
    expect(page.locator("#config-diff")).to_contain_text('+    "variant": "slow"')
    _shot(page, "compare")

    # The test page: three finished runs trended, the baseline marked, each point telling its labels.
    page.get_by_role("link", name="checkout").first.click()
    page.wait_for_url(re.compile(r"/tests/\d+/$"))
    latency = page.locator("#chart-trend-latency")
    expect(latency).to_have_attribute("data-points", "3")
    _drawn_in(page, "#chart-trend-latency", BASELINE_RGB)
    over = latency.locator(".u-over").bounding_box()
    assert over is not None
    tip = page.locator("#trend-tip")
    for fraction, text in ((0.02, "variant=baseline · git_sha=aaaaaaa1111"), (0.5, "variant=slow"), (0.98, "ccccccc3333")):
        page.mouse.move(over["x"] + fraction * over["width"], over["y"] + over["height"] / 2)
        expect(tip).to_be_visible()
        expect(tip).to_contain_text(text)
    page.mouse.move(over["x"] + 0.02 * over["width"], over["y"] + over["height"] / 2)
    expect(tip).to_contain_text("Run 1 (baseline)")
    _shot(page, "test-trend")
    page.mouse.move(over["x"] + 0.5 * over["width"], over["y"] + over["height"] / 2)
    page.mouse.click(over["x"] + 0.5 * over["width"], over["y"] + over["height"] / 2)
    page.wait_for_url(f"{ui_server}/runs/{slower.pk}/")

    # Another run becomes the baseline from its page.
    page.goto(f"{ui_server}/runs/{again.pk}/")
    page.get_by_role("button", name="Make baseline").click()
    expect(page.locator("#baseline-badge")).to_be_visible()
    assert Run.objects.get(pk=again.pk).test.baseline_id == again.pk  # type: ignore[union-attr]


# The run page's charts: (width, height) of a desktop and a phone; the verdict and key numbers above the fold at both.
VIEWPORTS = ((1440, 900), (390, 844))
DARK_RPS_RGB = (0x7F, 0xA7, 0xD6)  # app.css --chart-rps in the dark scheme
LIGHT_RPS_RGB = (0x4C, 0x78, 0xA8)


def _above_the_fold(page: Page, selector: str, height: int) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None and box["y"] + box["height"] <= height, (selector, box, height)


def _run_page_shots(page: Page, name: str) -> None:
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(200)  # the charts follow their boxes' new width
        _above_the_fold(page, "#verdict-banner", height)
        _above_the_fold(page, "#key-metrics", height)
        # A phone draws the overview's first two value axes and says how to read the others.
        expect(page.locator("#chart-overview")).to_have_attribute("data-axes-shown", "2" if width < 600 else "4")
        _shot(page, f"run-{name}-{width}")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_the_run_charts_share_a_crosshair_and_zoom_follow_dark_mode_and_fit_a_phone(
    ui_server: str, browser_page: Page, demo_target: Callable[..., Any], settings: Any
) -> None:
    from runs.api.serializers import BuilderRunSerializer
    from runs.pipeline import run_create_from_builder

    settings.RUN_POST_STAGES = ["reports.pipeline.analyze_run"]  # the insights mark the spike's recovery
    settings.GEMINI_API_KEYS = []
    user = get_user_model().objects.create_user("charts", password=PASSWORD)
    target = demo_target(latency_min_ms=2, latency_max_ms=6)
    saturating = demo_target(latency_min_ms=20, latency_max_ms=30, concurrency=2)

    def builder(url: str, **data: Any) -> Callable[[], Run]:
        serializer = BuilderRunSerializer(data={"url": url, "vus": 2, "duration": "3s", "analyzers": [], **data})
        assert serializer.is_valid(), serializer.errors
        return lambda: run_create_from_builder(serializer)

    passed = _execute_as(user, builder(target.url))
    failed = _execute_as(user, builder(target.url, thresholds={"http_req_duration": ["p(95)<0.01"]}))
    spike = _execute_as(user, builder(saturating.url, vus=10, duration="20s", preset="spike"))
    page = browser_page
    page.goto(f"{ui_server}/")
    _log_in(page, ui_server, "charts")

    page.goto(f"{ui_server}/runs/{spike.pk}/")
    for chart in ("overview", "latency", "errors"):
        expect(page.locator(f"#chart-{chart} canvas")).to_have_count(1)
    expect(page.locator("#chart-overview .u-legend")).to_contain_text("VUs")
    expect(page.locator("#chart-latency .u-legend")).to_contain_text("p90")
    expect(page.locator("#chart-annotations")).to_contain_text("stage 3: ramp to 10 VUs")
    _drawn_in(page, "#chart-overview", LIGHT_RPS_RGB)

    # One crosshair: hovering the overview moves the latency chart's cursor to the same second.
    page.locator("#chart-latency").scroll_into_view_if_needed()
    over = page.locator("#chart-overview .u-over").bounding_box()
    assert over is not None
    page.mouse.move(over["x"] + over["width"] / 2, over["y"] + over["height"] / 2)
    expect(page.locator("#chart-latency .u-legend tr").first).to_contain_text(" s")
    expect(page.locator("#chart-latency .u-legend tr").first).not_to_contain_text("–")

    # Drag to zoom one: every chart shows the same seconds; a double-click resets them all.
    full = page.locator("#chart-errors").get_attribute("data-x-max")
    page.mouse.move(over["x"] + over["width"] * 0.2, over["y"] + 20)
    page.mouse.down()
    page.mouse.move(over["x"] + over["width"] * 0.5, over["y"] + 20, steps=5)
    page.mouse.up()
    zoomed = page.locator("#chart-errors").get_attribute("data-x-max")
    assert zoomed is not None and full is not None and float(zoomed) < float(full)
    assert page.locator("#chart-latency").get_attribute("data-x-max") == zoomed
    page.mouse.dblclick(over["x"] + over["width"] / 2, over["y"] + over["height"] / 2)
    expect(page.locator("#chart-errors")).to_have_attribute("data-x-max", full)
    expect(page.locator("#chart-latency")).to_have_attribute("data-x-max", full)
    _run_page_shots(page, "spike")

    # Dark mode follows the system: the page's colours and the charts' lines change with it.
    page.emulate_media(color_scheme="dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 20, 27)", background
    _drawn_in(page, "#chart-overview", DARK_RPS_RGB)
    _shot(page, "run-spike-dark")
    page.emulate_media(color_scheme="light")

    page.goto(f"{ui_server}/runs/{passed.pk}/")
    expect(page.locator("#verdict-headline")).to_have_text("Passed")
    expect(page.locator("#chart-errors canvas")).to_have_count(1)
    expect(page.locator("#chart-timings .u-legend")).to_contain_text("waiting (TTFB)")
    expect(page.locator("#chart-endpoints .u-legend")).to_contain_text(f"GET {target.url}")
    _run_page_shots(page, "passed")

    page.goto(f"{ui_server}/runs/{failed.pk}/")
    expect(page.locator("#verdict-headline")).to_have_text("Failed")
    expect(page.locator("#figure-threshold-0")).to_contain_text("Failed threshold http_req_duration p(95)<0.01")
    expect(page.locator("#chart-threshold-0 canvas")).to_have_count(1)
    _run_page_shots(page, "failed-threshold")
