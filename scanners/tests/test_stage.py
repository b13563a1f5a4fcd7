"""The analyzer stage inside a real run: results land in the run's document; a failing analyzer stays contained."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runs.api.serializers import BuilderRunSerializer
from runs.pipeline import run_create_from_builder, run_execute
from runs.purge import run_files_dir
from runs.selectors import run_result
from scanners import pipeline
from scanners.models import AnalyzerResult

pytestmark = pytest.mark.django_db(transaction=True)


def run_against(url: str, **data: Any) -> Any:
    serializer = BuilderRunSerializer(data={"url": url, "vus": 1, "duration": "1s", **data})
    assert serializer.is_valid(), serializer.errors
    return run_execute(run_create_from_builder(serializer).pk)


def test_run_result_carries_headers_and_tls(demo_target: Callable[..., Any]) -> None:
    run = run_against(demo_target(latency_min_ms=1, latency_max_ms=2).url)
    document = run_result(run)
    assert run.status == "done" and "analyzers" in run.stage_durations_s
    analyzers = document["analyzers"]
    assert analyzers["headers"]["status"] == "ok" and analyzers["headers"]["grade"] == "F" and analyzers["headers"]["score"] == 10
    assert analyzers["tls"]["status"] == "skipped" and "plain HTTP" in analyzers["tls"]["summary"]
    assert [e.data["stage"] for e in run.events.filter(kind="stage")] == ["k6", "results", "analyzers", "analysis", "report"]


def test_a_crashing_analyzer_does_not_fail_the_run(demo_target: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(url: str) -> Any:
        raise RuntimeError("analyzer bug")

    monkeypatch.setitem(pipeline.ANALYZERS, "tls", explode)
    run = run_against(demo_target(latency_min_ms=1, latency_max_ms=2).url)
    assert run.status == "done" and run.error == ""
    tls = AnalyzerResult.objects.get(run=run, kind="tls")
    assert tls.status == "error" and "analyzer bug" in tls.error
    assert AnalyzerResult.objects.get(run=run, kind="headers").status == "ok"


def test_a_slow_analyzer_times_out_alone(demo_target: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    import time

    settings.ANALYZER_TIMEOUT_S = 1

    def slow(url: str) -> Any:
        time.sleep(3)

    monkeypatch.setitem(pipeline.ANALYZERS, "tls", slow)
    run = run_against(demo_target(latency_min_ms=1, latency_max_ms=2).url)
    assert AnalyzerResult.objects.get(run=run, kind="tls").error.endswith("timed out after 1 s (ANALYZER_TIMEOUT_S).")
    assert AnalyzerResult.objects.get(run=run, kind="headers").status == "ok"


def test_a_page_target_gets_the_browser_analyzers_too(demo_target: Callable[..., Any], settings: Any) -> None:
    settings.ANALYZERS = ["headers", "tls", "pagetest", "lighthouse"]
    run = run_against(demo_target(latency_min_ms=1, latency_max_ms=2).url + "/")
    analyzers = run_result(run)["analyzers"]
    pagetest = analyzers["pagetest"]
    assert pagetest["status"] == "ok" and pagetest["profile"]["name"] == "3G Fast"
    assert pagetest["first_view"]["speed_index_ms"] > 0 and pagetest["repeat_view"]["requests"] >= 1
    assert analyzers["lighthouse"]["status"] == "ok" and set(analyzers["lighthouse"]["scores"]) >= {"performance", "seo"}
    filmstrip = run_files_dir(run.pk) / "filmstrip"
    assert [frame["file"] for frame in pagetest["first_view"]["filmstrip"]] == sorted(
        p.name for p in filmstrip.glob("first-*.jpg")
    )


def test_an_api_target_skips_the_browser_analyzers(demo_target: Callable[..., Any], settings: Any) -> None:
    settings.ANALYZERS = ["headers", "tls", "pagetest", "lighthouse"]
    run = run_against(demo_target(latency_min_ms=1, latency_max_ms=2).url + "/api/items")
    analyzers = run_result(run)["analyzers"]
    assert analyzers["pagetest"]["status"] == analyzers["lighthouse"]["status"] == "skipped"
    assert "not an HTML page" in analyzers["pagetest"]["summary"]


def test_only_the_analyzers_a_run_chose_run(demo_target: Callable[..., Any]) -> None:
    run = run_against(demo_target(latency_min_ms=1, latency_max_ms=2).url, analyzers=["tls"])
    analyzers = run_result(run)["analyzers"]
    assert analyzers["headers"]["status"] == "skipped" and "not chosen for this run" in analyzers["headers"]["summary"]
    assert analyzers["tls"]["status"] == "skipped" and "plain HTTP" in analyzers["tls"]["summary"]  # it ran
    nothing = run_result(run_against(demo_target(latency_min_ms=1, latency_max_ms=2).url, analyzers=[]))["analyzers"]
    assert {result["status"] for result in nothing.values()} == {"skipped"} and len(nothing) == 4


def test_a_page_that_never_finishes_loading_ends_at_the_deadline_with_its_browser(settings: Any) -> None:
    import socket
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import psutil

    page = b"<!doctype html><title>stuck</title><img src='/never.png'>"

    class Stuck(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/never.png":  # headers, then nothing: the page's load event never comes
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                time.sleep(120)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Stuck)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.ANALYZERS = ["pagetest"]
    settings.ANALYZER_TIMEOUT_S = 8
    settings.RUN_POST_STAGES = ["scanners.pipeline.analyze_run"]

    def browsers() -> set[int]:
        running = psutil.process_iter(["name", "status"])
        return {p.pid for p in running if "chrom" in (p.info["name"] or "").lower() and p.info["status"] != psutil.STATUS_ZOMBIE}

    before = browsers()
    started = time.monotonic()
    run = run_against(f"http://127.0.0.1:{server.server_address[1]}/", vus=1, duration="1s")
    elapsed_s = time.monotonic() - started
    result = AnalyzerResult.objects.get(run=run, kind="pagetest")
    assert result.status == "error" and "timed out after 8 s" in result.summary
    assert elapsed_s < 8 + 25  # the 1 s load test, its start and stop, and the deadline — not Chromium's own 120 s
    # Killed with the analyzer, not left behind. Chromium's crash handler, detached from it, notices its
    # client is gone and exits by itself a moment later: it gets a few seconds.
    deadline = time.monotonic() + 5
    while (left := browsers() - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, [psutil.Process(pid).cmdline()[:3] for pid in left]
    with socket.create_connection(("127.0.0.1", server.server_address[1])):  # the target itself is still fine
        pass
    server.shutdown()
