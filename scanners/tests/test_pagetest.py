"""The page test and Lighthouse in real Chromium, on a page built to behave in known ways."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from scanners import lighthouse, pagetest
from scanners.tests.conftest import Answer, page_server

VIEWPORT_W, VIEWPORT_H = 1366, 768
BLOCK_PX, SHIFT_PX = 400, 200
# Layout shift = impact fraction × distance fraction: the full-width block moves down 200 px,
# so the union of its old and new places is 600 px of 768, and it moved 200 px of max(1366, 768).
EXPECTED_CLS = (BLOCK_PX + SHIFT_PX) / VIEWPORT_H * SHIFT_PX / VIEWPORT_W
LONG_TASK_MS = 300  # a busy loop timed by the wall clock, so the CPU slowdown does not stretch it
LCP_DELAY_MS = 800

PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>known page</title>
<meta name="viewport" content="width=device-width">
<link rel="stylesheet" href="/cacheable.css"><script src="/uncompressed.js"></script><script src="/busted.js"></script>
<style>body{{margin:0}} #block{{height:{BLOCK_PX}px;background:#345}}</style></head>
<body><div id="block"><h1 style="color:#fff;margin:0">Known page</h1></div>
<script>
setTimeout(() => {{ const d = document.createElement('div'); d.style.height = '{SHIFT_PX}px';
  document.body.insertBefore(d, document.getElementById('block')); }}, 300);
setTimeout(() => {{ const s = Date.now(); while (Date.now() - s < {LONG_TASK_MS}) {{}} }}, 1200);
setTimeout(() => {{ const i = new Image(); i.src = '/hero.jpg'; i.width = 1200; i.height = 600; i.alt = 'hero';
  document.body.appendChild(i); }}, {LCP_DELAY_MS});
</script></body></html>""".encode()


def _noise_jpeg() -> bytes:
    rng = random.Random(3)
    image = Image.frombytes("RGB", (1200, 600), bytes(rng.getrandbits(8) for _ in range(1200 * 600 * 3)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=60)
    return out.getvalue()


ASSETS = {
    "/": (PAGE, "text/html; charset=utf-8", "no-store"),
    "/cacheable.css": (b"/* cacheable */ body{color:#222}" + b" " * 60_000, "text/css", "max-age=31536000"),
    "/uncompressed.js": (b"var big = '" + b"x" * 200_000 + b"';", "application/javascript", "max-age=31536000"),
    "/busted.js": (b"var busted = '" + b"y" * 50_000 + b"';", "application/javascript", "no-store"),
}  # and /hero.jpg, drawn by the fixture


@pytest.fixture(scope="module")
def known_page() -> Iterator[str]:
    assets = {**ASSETS, "/hero.jpg": (_noise_jpeg(), "image/jpeg", "max-age=31536000")}

    def answer(path: str) -> Answer:
        body, content_type, cache = assets.get(path, (b"not found", "text/plain", "no-store"))
        return 200 if path in assets else 404, body, {"Content-Type": content_type, "Cache-Control": cache}

    with page_server(answer) as base:
        yield f"{base}/"


@pytest.fixture(scope="module")
def fast_3g(known_page: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    outcome = pagetest.analyze(known_page, output_dir=tmp_path_factory.mktemp("filmstrip"))
    assert outcome.status == "ok", outcome.summary
    return outcome


@pytest.fixture(scope="module")
def native(known_page: str) -> Any:
    outcome = pagetest.analyze(known_page, profile="native", cpu_slowdown=1)
    assert outcome.status == "ok", outcome.summary
    return outcome


def test_first_view_metrics_have_the_right_size_and_order(fast_3g: Any) -> None:
    first = fast_3g.details["first_view"]
    assert fast_3g.details["profile"] == {"name": "3G Fast", "down_kbps": 1600, "up_kbps": 768, "rtt_ms": 150, "cpu_slowdown": 4}
    assert first["ttfb_ms"] >= 150  # at least one emulated round trip
    assert 0 < first["fcp_ms"] <= first["lcp_ms"]
    assert first["lcp_ms"] >= LCP_DELAY_MS  # the hero image, inserted late, is the largest paint
    assert first["cls"] == pytest.approx(EXPECTED_CLS, abs=0.03)
    assert first["tbt_ms"] == pytest.approx(LONG_TASK_MS - 50, abs=80)
    assert first["fcp_ms"] - 100 <= first["speed_index_ms"] <= first["load_ms"] + 2000  # frames are ~16 ms apart
    assert first["dcl_ms"] <= first["load_ms"]
    # 3G Fast moves 200 kB/s: ~600 kB of page takes seconds, not milliseconds.
    assert first["bytes"] > 500_000 and first["load_ms"] > 1500
    assert first["requests"] >= 5 and {"html", "css", "js", "image"} <= set(first["bytes_by_type"])


def test_waterfall_rows_carry_timings_sizes_and_statuses(fast_3g: Any) -> None:
    rows = {urlsplit_path(row["url"]): row for row in fast_3g.details["first_view"]["waterfall"]}
    assert rows["/"]["type"] == "html" and rows["/"]["status"] == 200 and rows["/"]["start_ms"] == 0
    hero = rows["/hero.jpg"]
    assert hero["start_ms"] >= LCP_DELAY_MS and hero["size"] > 100_000 and hero["download_ms"] > 500, hero
    assert all(row["wait_ms"] >= 0 and row["dns_ms"] >= 0 for row in rows.values())


def urlsplit_path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path


def test_checks_find_the_uncompressed_and_uncacheable_assets(fast_3g: Any) -> None:
    checks = fast_3g.details["checks"]
    compress, cache = checks["compress_transfer"], checks["cache_static"]
    assert compress["grade"] == "F" and any(url.endswith("/uncompressed.js") for url in compress["failing"])
    assert any(url.endswith("/busted.js") for url in cache["failing"])
    assert not any(url.endswith("/cacheable.css") for url in cache["failing"])
    assert checks["cdn"]["grade"] == "F"  # loopback has no CDN
    vitals = fast_3g.details["web_vitals"]
    assert vitals["cls"]["rating"] == "needs-improvement" and fast_3g.grade in "ABCDF"


def test_repeat_view_is_lighter_than_the_first(fast_3g: Any) -> None:
    first, repeat = fast_3g.details["first_view"], fast_3g.details["repeat_view"]
    cached = {urlsplit_path(r["url"]) for r in repeat["waterfall"] if r["cached"]}
    assert {"/cacheable.css", "/hero.jpg", "/uncompressed.js"} <= cached and "/busted.js" not in cached
    assert repeat["bytes"] < first["bytes"] / 2


def test_speed_index_comes_from_frames_and_filmstrip_is_saved(fast_3g: Any) -> None:
    first = fast_3g.details["first_view"]
    assert first["filmstrip"] and all(frame["file"].endswith(".jpg") for frame in first["filmstrip"])
    times = [frame["t_ms"] for frame in first["filmstrip"]]
    assert times == sorted(times)


def test_a_slower_profile_is_slower(fast_3g: Any, native: Any) -> None:
    slow, fast = fast_3g.details["first_view"], native.details["first_view"]
    assert fast["load_ms"] < slow["load_ms"] and fast["ttfb_ms"] < slow["ttfb_ms"]
    assert fast["speed_index_ms"] < slow["speed_index_ms"]
    assert fast["cls"] == pytest.approx(EXPECTED_CLS, abs=0.03)


def test_speed_index_of_known_frames() -> None:
    white = _solid((255, 255, 255))
    dark = _solid((20, 40, 60))
    # Blank until 500 ms, then fully painted: the index is exactly 500.
    assert pagetest.speed_index([(100, white), (500, dark)]) == 500.0
    half = Image.new("RGB", (100, 100), (255, 255, 255))
    half.paste((20, 40, 60), (0, 0, 100, 50))
    # Half painted at 200 ms, complete at 600 ms: 200 + 0.5 × 400 = 400.
    assert pagetest.speed_index([(200, _jpeg(half)), (600, dark)]) == pytest.approx(400, abs=15)


def _solid(color: tuple[int, int, int]) -> bytes:
    return _jpeg(Image.new("RGB", (100, 100), color))


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def test_lighthouse_scores_and_agrees_with_the_page_test(known_page: str, native: Any) -> None:
    outcome = lighthouse.analyze(known_page, throttling="provided")
    assert outcome.status == "ok", outcome.summary
    assert set(outcome.details["scores"]) == {"performance", "accessibility", "best-practices", "seo"}
    assert all(0 <= score <= 100 for score in outcome.details["scores"].values())
    assert set(outcome.details["metrics"]) == {"fcp_ms", "lcp_ms", "cls", "tbt_ms", "tti_ms", "speed_index_ms"}
    assert set(outcome.details["desktop"]["scores"]) == set(outcome.details["scores"])
    assert outcome.details["throttling"]["method"] == "provided"  # as the report records it
    # Same page, no throttling on either side: FCP and LCP agree within 300 ms or 35 %.
    page, lh = native.details["first_view"], outcome.details["desktop"]["metrics"]
    for metric in ("fcp_ms", "lcp_ms"):
        assert abs(page[metric] - lh[metric]) <= max(300, 0.35 * page[metric]), (metric, page[metric], lh[metric])
    assert lh["lcp_ms"] >= LCP_DELAY_MS


def test_missing_chromium_is_skipped_with_how_to_fix(settings: Any, known_page: str, tmp_path: Path) -> None:
    settings.CHROMIUM_PATH = str(tmp_path / "no-such-browser")
    for analyzer in (pagetest.analyze, lighthouse.analyze):
        outcome = analyzer(known_page)
        assert outcome.status == "skipped" and "CHROMIUM_PATH" in outcome.summary
