"""A tiny page in real Chromium: its weight is what the server sent, and both views are really measured."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.template.loader import render_to_string

from reports.html import render_html
from runs.engine import formatting
from runs.web import presentation
from scanners import pagetest

PAGE = b"<!doctype html><html lang='en'><head><title>small</title></head><body><h1 style='color:#123'>Small page</h1>"
PAGE += b"<p>" + b"x" * (488 - len(PAGE) - len(b"<p></p></body></html>")) + b"</p></body></html>"


class _CountingWriter:
    """The handler's output stream, counting the bytes that really went out (status line, headers, body)."""

    def __init__(self, raw: Any) -> None:
        self.raw, self.sent_bytes = raw, 0

    def write(self, data: bytes) -> int:
        self.sent_bytes += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


@pytest.fixture(scope="module")
def small_page() -> Iterator[tuple[str, dict[str, int]]]:
    served_bytes: dict[str, int] = {}  # path → bytes of its last response

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.counted = _CountingWriter(self.wfile)
            self.wfile = self.counted  # type: ignore[assignment]

        def do_GET(self) -> None:
            before = self.counted.sent_bytes
            body = PAGE if self.path == "/" else b"not found"
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Cache-Control", "max-age=600")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            served_bytes[self.path] = self.counted.sent_bytes - before

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", served_bytes
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def outcome(small_page: tuple[str, dict[str, int]], tmp_path_factory: pytest.TempPathFactory) -> Any:
    url, _ = small_page
    result = pagetest.analyze(url, output_dir=tmp_path_factory.mktemp("filmstrip"))
    assert result.status == "ok", result.summary
    return result


def test_a_small_page_weighs_what_the_server_sent(small_page: tuple[str, dict[str, int]], outcome: Any) -> None:
    _, served_bytes = small_page
    first = outcome.details["first_view"]
    sizes = {urlsplit(row["url"]).path: row["size"] for row in first["waterfall"]}
    assert len(PAGE) == 488 and sizes["/"] == served_bytes["/"]  # body and headers, as they crossed the wire
    assert first["bytes"] == sum(served_bytes[path] for path in sizes)
    assert f"{formatting.byte_size(first['bytes'])} in" in outcome.summary and " 0 KB" not in outcome.summary


def _report_with(pagetest_result: dict[str, Any]) -> str:
    """The HTML report of a run with no requests measured, only this page test."""
    document = {"metrics": {"http_req_failed": {"rate": 0.0}}, "analyzers": {"pagetest": pagetest_result}}
    return render_html(document, Path("/nonexistent"))


def test_page_weight_reads_in_bytes_kilobytes_or_megabytes() -> None:
    assert formatting.byte_size(488) == "488 B"
    assert formatting.byte_size(12_595) == "12.3 KB"
    assert formatting.byte_size(1_300_000) == "1.2 MB"
    assert formatting.byte_size(None) == "–"


def test_the_run_page_and_the_report_show_readable_sizes(small_page: tuple[str, dict[str, int]], outcome: Any) -> None:
    _, served_bytes = small_page
    result = outcome.as_dict()
    document_row = f"{served_bytes['/']} B"  # under 1 KB: the bug showed "0 KB"
    page = render_to_string(
        "runs/_analyzer_pagetest.html",
        {"result": result, "pagetest_rows": presentation._pagetest_rows(result), "waterfall": result["first_view"]["waterfall"]},
    )
    assert f'<td class="num">{document_row}</td>' in page
    assert f'<td>Bytes</td><td class="num">{formatting.byte_size(result["first_view"]["bytes"])}</td>' in page
    report = _report_with(result)
    assert f"<td>{formatting.byte_size(result['repeat_view']['bytes'])}</td>" in report and " 0 KB" not in report


def test_the_repeat_view_has_a_real_speed_index(outcome: Any) -> None:
    repeat = outcome.details["repeat_view"]
    # The warm page still paints after navigation starts: its index is at least its first paint, never 0.
    assert repeat["speed_index_ms"] is not None
    assert repeat["speed_index_ms"] > 0 and repeat["speed_index_ms"] >= repeat["fcp_ms"] - 100, repeat


def test_filmstrip_frames_are_timed_from_navigation_start(outcome: Any) -> None:
    for view in ("first_view", "repeat_view"):
        strip = outcome.details[view]["filmstrip"]
        assert strip and all(frame["t_ms"] >= 0 for frame in strip), (view, strip)


def test_no_frames_is_no_speed_index_rather_than_zero() -> None:
    assert pagetest.speed_index([]) is None


def test_an_unmeasured_speed_index_shows_as_a_dash(outcome: Any) -> None:
    result = outcome.as_dict()
    result["repeat_view"] = {**result["repeat_view"], "speed_index_ms": None}
    page = render_to_string(
        "runs/_analyzer_pagetest.html", {"result": result, "pagetest_rows": presentation._pagetest_rows(result)}
    )
    report = _report_with(result)
    first_index = result["first_view"]["speed_index_ms"]
    assert f'<td>Speed Index (ms)</td><td class="num">{first_index}</td><td class="num">–</td>' in page
    assert f"<td>speed_index_ms</td><td>{first_index}</td><td>–</td>" in report


def test_a_views_frames_start_at_its_first_paint() -> None:
    origin = 1_000.0
    stale, paint, later = b"previous page", b"first paint", b"later"
    # The paint's frame 4 ms before the paint timing says, a stale frame long before: only the paint's counts.
    assert pagetest.own_frames([(origin + 0.012, stale), (origin + 0.412, paint)], origin, 416) == [(412, paint)]
    # No frame of its own (the screen did not change, or a busy machine stamped it early): the last one
    # before stands for it, at the first paint; never a frame at 0 ms.
    assert pagetest.own_frames([(origin + 0.019, stale)], origin, 60) == [(60, stale)]
    assert pagetest.own_frames([(origin + 0.380, paint), (origin + 0.900, later)], origin, 416) == [(416, paint), (900, later)]
    # Nothing painted that the page reported: every frame from navigation start.
    assert pagetest.own_frames([(origin - 0.010, stale), (origin + 0.050, paint)], origin, 0) == [(50, paint)]
