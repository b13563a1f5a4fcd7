"""A WebPageTest-style page test in real Chromium: throttled first and repeat view.

Network throttling (WebPageTest's connectivity profiles) and a CPU slowdown are
applied through the DevTools protocol. Timings come from the page's own
performance entries; the waterfall from DevTools network events; Speed Index
from screencast frames by visual progress (colour histograms, near-white
pixels ignored, as WebPageTest and speedline compute it).
"""

from __future__ import annotations

import base64
import io
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from PIL import Image, ImageChops

from runs.engine import formatting
from runs.engine.targets import TargetRejected, check_target_url
from scanners.outcome import Outcome, failed, skipped
from scanners.policy_proxy import chromium_proxy_flags, policy_proxy

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
VIEWPORT: ViewportSize = {"width": 1366, "height": 768}
CPU_SLOWDOWN = 4
# WebPageTest's stop rule: after onload, the test ends once 2 s pass with no network activity (and, here,
# no new screencast frame), or at the maximum test time (PAGETEST_MAX_S).
QUIET_MS = 2000
PAINT_FRAME_MS = 16  # one display frame at 60 Hz
MAX_FRAMES = 600  # screencast frames kept per view (thinned beyond), for Speed Index and the filmstrip
BACKEND_TARGET_MS = 100  # WebPageTest's First Byte Time allowance beyond the round trips
LATENCY_SLACK_MS = 20  # a wait this close to the emulated latency is the latency itself
NEAR_WHITE = 246  # speedline/WebPageTest ignore pixels brighter than this in every channel
WATERFALL_ROWS = 40
FILMSTRIP_FRAMES = 12
STATIC_TYPES = ("image", "css", "js", "font")
TEXT_TYPES = ("html", "css", "js", "json", "text", "svg")
CDN_HEADERS = ("via", "x-cache", "cf-ray", "x-amz-cf-id", "x-served-by", "x-cdn", "x-akamai-transformed", "fastly-debug-digest")
CWV = {  # metric: (good ≤, poor >)
    "lcp_ms": (2500, 4000),
    "inp_ms": (200, 500),
    "cls": (0.1, 0.25),
    "fcp_ms": (1800, 3000),
    "ttfb_ms": (800, 1800),
}


@dataclass(frozen=True)
class Profile:
    name: str
    down_kbps: int
    up_kbps: int
    rtt_ms: int


PROFILES = {
    "3gfast": Profile("3G Fast", 1600, 768, 150),
    "cable": Profile("Cable", 5000, 1000, 28),
    "4g": Profile("4G", 9000, 9000, 170),
    "lte": Profile("LTE", 12000, 12000, 70),
    "native": Profile("Native", 0, 0, 0),
}
DEFAULT_PROFILE = "3gfast"

# Injected before any page script: collects what the page itself reports.
OBSERVERS = """
window.__k6i = {lcp: 0, cls: 0, longtasks: [], inp: 0};
const watch = (type, handle, extra) => {
  try { new PerformanceObserver(list => list.getEntries().forEach(handle)).observe({type, buffered: true, ...extra}); } catch (e) {}
};
watch('largest-contentful-paint', e => { window.__k6i.lcp = e.startTime; });
watch('layout-shift', e => { if (!e.hadRecentInput) window.__k6i.cls += e.value; });
watch('longtask', e => { window.__k6i.longtasks.push([e.startTime, e.duration]); });
watch('event', e => { if (e.interactionId) window.__k6i.inp = Math.max(window.__k6i.inp, e.duration); }, {durationThreshold: 16});
"""
COLLECT = """() => {
  const nav = performance.getEntriesByType('navigation')[0] || {};
  const paint = Object.fromEntries(performance.getEntriesByType('paint').map(p => [p.name, p.startTime]));
  return {timeOrigin: performance.timeOrigin, ttfb: nav.responseStart || 0, dcl: nav.domContentLoadedEventEnd || 0,
          load: nav.loadEventEnd || 0, fp: paint['first-paint'] || 0, fcp: paint['first-contentful-paint'] || 0, ...window.__k6i};
}"""


def chromium_path() -> str | None:
    configured = settings.CHROMIUM_PATH
    if configured:
        return configured if Path(configured).exists() else None
    return next((path for name in ("chromium", "chromium-browser", "google-chrome") if (path := shutil.which(name))), None)


def analyze(
    url: str, output_dir: Path | None = None, profile: str = DEFAULT_PROFILE, cpu_slowdown: int = CPU_SLOWDOWN
) -> Outcome:
    if urlsplit(url).scheme not in ("http", "https"):
        return skipped("The page test needs an http(s) URL.")
    try:
        check_target_url(url)
    except TargetRejected as exc:
        return skipped(f"Not tested: {exc}")
    executable = chromium_path()
    if executable is None:
        return skipped("Chromium was not found: install it (Debian: apt-get install chromium) or set CHROMIUM_PATH.")
    started = time.monotonic()
    try:
        first, repeat, policy = _run_views(executable, url, PROFILES[profile], cpu_slowdown, output_dir)
    except Exception as exc:  # Playwright raises many error types; all mean the same to the user
        return failed(f"The page test could not load {url}: {exc}")
    outcome = _outcome(url, PROFILES[profile], cpu_slowdown, first, repeat, time.monotonic() - started)
    return _with_policy(outcome, policy)


def _with_policy(outcome: Outcome, policy: dict[str, Any]) -> Outcome:
    """What the target policy refused to load for the page: it was never requested from its host."""
    summary = outcome.summary
    if policy["requests_refused"]:
        summary += f" {policy['requests_refused']} request(s) the page made were refused by the target policy."
    return replace(outcome, summary=summary, details={**outcome.details, "target_policy": policy})


def _run_views(
    executable: str, url: str, profile: Profile, cpu_slowdown: int, output_dir: Path | None
) -> tuple[dict, dict, dict[str, Any]]:
    from playwright.sync_api import sync_playwright  # heavy import, only where a browser is used

    # Every request of the browser goes through the policy proxy: a forbidden subresource is refused there.
    with policy_proxy() as (proxy_url, proxy_log), sync_playwright() as playwright:
        flags = [*CHROMIUM_FLAGS, *chromium_proxy_flags(proxy_url)]
        browser = playwright.chromium.launch(executable_path=executable, args=flags, headless=True)
        try:
            context = browser.new_context(user_agent=settings.USER_AGENT, viewport=VIEWPORT)
            context.add_init_script(OBSERVERS)
            page = context.new_page()
            first = _view(page, url, profile, cpu_slowdown, output_dir, "first")
            repeat = _view(page, url, profile, cpu_slowdown, output_dir, "repeat")
        finally:
            browser.close()
    return first, repeat, proxy_log.as_dict()


@dataclass
class _Recorder:
    """DevTools events of one view: network requests and screencast frames."""

    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    frames: list[tuple[float, bytes]] = field(default_factory=list)

    last_activity: float = field(default_factory=time.monotonic)  # a request started or ended, a frame painted

    def on_request(self, event: dict[str, Any]) -> None:
        self.last_activity = time.monotonic()
        url = event["request"]["url"]
        self.requests.setdefault(event["requestId"], {"url": url, "start": event["timestamp"], "type": event.get("type", "")})

    def on_response(self, event: dict[str, Any]) -> None:
        if entry := self.requests.get(event["requestId"]):
            entry["response"] = event["response"]

    def on_served_from_cache(self, event: dict[str, Any]) -> None:
        if entry := self.requests.get(event["requestId"]):
            entry["from_cache"] = True

    def on_finished(self, event: dict[str, Any]) -> None:
        self.last_activity = time.monotonic()
        if entry := self.requests.get(event["requestId"]):
            entry["end"], entry["bytes"] = event["timestamp"], event["encodedDataLength"]

    def on_failed(self, event: dict[str, Any]) -> None:
        self.last_activity = time.monotonic()
        if entry := self.requests.get(event["requestId"]):
            entry["end"], entry["failed"] = event["timestamp"], event.get("errorText", "failed")

    def pending(self) -> int:
        return sum(1 for entry in self.requests.values() if "end" not in entry)


def _view(page: Any, url: str, profile: Profile, cpu_slowdown: int, output_dir: Path | None, name: str) -> dict[str, Any]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    # Speed Index counts visual progress from a blank page: without this, the repeat view would start
    # on the first view's finished page and be "complete" at its first frame.
    page.goto("about:blank")
    cdp = page.context.new_cdp_session(page)
    recorder = _Recorder()
    cdp.on("Network.requestWillBeSent", recorder.on_request)
    cdp.on("Network.responseReceived", recorder.on_response)
    cdp.on("Network.loadingFinished", recorder.on_finished)
    cdp.on("Network.requestServedFromCache", recorder.on_served_from_cache)
    cdp.on("Network.loadingFailed", recorder.on_failed)
    cdp.on("Page.screencastFrame", lambda frame: _keep_frame(cdp, recorder, frame))
    cdp.send("Network.enable")
    cdp.send("Page.enable")
    _throttle(cdp, profile, cpu_slowdown)
    cdp.send("Page.startScreencast", {"format": "jpeg", "quality": 70, "maxWidth": 683, "maxHeight": 384})
    deadline = time.monotonic() + settings.PAGETEST_MAX_S
    page.goto(url, wait_until="commit", timeout=settings.PAGETEST_MAX_S * 1000)
    try:  # a page still loading at the maximum test time is measured as far as it got, as WebPageTest does
        page.wait_for_load_state("load", timeout=max(1.0, deadline - time.monotonic()) * 1000)
        stopped_by = _wait_until_quiet(page, recorder, deadline)
    except PlaywrightTimeout:
        stopped_by = "max_time"
    cdp.send("Page.stopScreencast")
    timings = page.evaluate(COLLECT)  # LCP and CLS before any input: browsers stop reporting LCP at the first
    # The interaction behind INP, measured apart, after the page test proper (as WebPageTest does).
    page.mouse.click(VIEWPORT["width"] // 2, VIEWPORT["height"] - 10)
    page.wait_for_timeout(300)
    timings["inp"] = page.evaluate("() => window.__k6i.inp")
    cdp.detach()
    return {**_view_metrics(timings, recorder, output_dir, name), "ended_by": stopped_by}


def _wait_until_quiet(page: Any, recorder: _Recorder, deadline: float) -> str:
    """WebPageTest's end of a test: QUIET_MS after onload with nothing in flight, no request started or
    finished and no new frame painted; or the maximum test time."""
    while time.monotonic() < deadline:
        quiet_s = time.monotonic() - recorder.last_activity
        if not recorder.pending() and quiet_s * 1000 >= QUIET_MS:
            return "quiet"
        page.wait_for_timeout(100)
    return "max_time"


def _throttle(cdp: Any, profile: Profile, cpu_slowdown: int) -> None:
    if profile.rtt_ms or profile.down_kbps:
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": profile.rtt_ms,
                "downloadThroughput": profile.down_kbps * 1000 / 8,
                "uploadThroughput": profile.up_kbps * 1000 / 8,
            },
        )
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": cpu_slowdown})


def _keep_frame(cdp: Any, recorder: _Recorder, frame: dict[str, Any]) -> None:
    recorder.last_activity = time.monotonic()
    recorder.frames.append((frame["metadata"]["timestamp"], base64.b64decode(frame["data"])))
    if len(recorder.frames) > MAX_FRAMES:  # an animation paints for ever: keep every other frame, and the last
        recorder.frames = [*recorder.frames[:-1:2], recorder.frames[-1]]
    cdp.send("Page.screencastFrameAck", {"sessionId": frame["sessionId"]})


# --- per-view metrics ---------------------------------------------------------------


def _view_metrics(timings: dict[str, Any], recorder: _Recorder, output_dir: Path | None, name: str) -> dict[str, Any]:
    origin_s = timings["timeOrigin"] / 1000
    # Until the page's first paint the screen still shows what was there before (about:blank, or the first
    # view's finished page when the repeat view starts): such frames are not this view's, and counting
    # them made a repeat view "complete" at 0 ms. The view's own frames start at its first paint.
    # The paint's own frame is stamped within a display frame of it (either side).
    frames = own_frames(sorted(recorder.frames), origin_s, timings["fp"] or timings["fcp"])
    waterfall = _waterfall(recorder)
    fcp = timings["fcp"]
    # The document's first byte as the network saw it: page timing does not include emulated latency.
    document = next((row for row in waterfall if row["type"] == "html"), None)
    ttfb = document["start_ms"] + document["first_byte_ms"] if document else timings["ttfb"]
    return {
        "ttfb_ms": round(ttfb, 1),
        "dcl_ms": round(timings["dcl"], 1),
        "load_ms": round(timings["load"], 1),
        "fp_ms": round(timings["fp"], 1),
        "fcp_ms": round(fcp, 1),
        "lcp_ms": round(timings["lcp"] or fcp, 1),
        "cls": round(timings["cls"], 4),
        # None: the scripted click's events all ran under 16 ms, the least the browser reports.
        "inp_ms": round(timings["inp"], 1) if timings["inp"] else None,
        "tbt_ms": round(sum(max(0.0, duration - 50) for start, duration in timings["longtasks"] if start >= fcp), 1),
        "speed_index_ms": speed_index(frames),
        "visually_complete_ms": visually_complete(frames),
        "bytes": sum(row["size"] for row in waterfall),
        "requests": len(waterfall),
        "bytes_by_type": _bytes_by_type(waterfall),
        "waterfall": waterfall[:WATERFALL_ROWS],
        "filmstrip": _filmstrip(frames, output_dir, name),
        "_rows": waterfall,  # all rows, for the checks; dropped before storing
    }


def own_frames(frames: list[tuple[float, bytes]], origin_s: float, painted_ms: float) -> list[tuple[int, bytes]]:
    """The view's frames, timed in ms from navigation start: those from its first paint on (within a display
    frame: the paint's own frame is stamped close to it, either side). When the paint sent no frame of its
    own (a busy machine stamps it earlier, or the screen did not change), the last frame before stands
    for it, at the first paint."""
    if not painted_ms:
        return [(round((at - origin_s) * 1000), jpeg) for at, jpeg in frames if at >= origin_s]
    paint_s = origin_s + painted_ms / 1000
    own = [(round((at - origin_s) * 1000), jpeg) for at, jpeg in frames if at >= paint_s - PAINT_FRAME_MS / 1000]
    before = [jpeg for at, jpeg in frames if at < paint_s - PAINT_FRAME_MS / 1000]
    if before and (not own or own[0][0] > painted_ms + PAINT_FRAME_MS):
        own.insert(0, (round(painted_ms), before[-1]))
    return own


def _waterfall(recorder: _Recorder) -> list[dict[str, Any]]:
    entries = [e for e in recorder.requests.values() if "response" in e and not e["url"].startswith("data:")]
    if not entries:
        return []
    t0 = min(e["start"] for e in entries)
    return [_row(entry, t0) for entry in sorted(entries, key=lambda e: e["start"])]


def _row(entry: dict[str, Any], t0: float) -> dict[str, Any]:
    response = entry["response"]
    timing = response.get("timing") or {}

    def span(start: str, end: str) -> float:
        a, b = timing.get(start, -1), timing.get(end, -1)
        return round(b - a, 1) if a >= 0 and b >= 0 else 0.0

    headers = {key.lower(): value for key, value in (response.get("headers") or {}).items()}
    headers_end_s = timing.get("requestTime", entry["start"]) + timing.get("receiveHeadersEnd", 0) / 1000
    return {
        "url": entry["url"],
        "start_ms": round((entry["start"] - t0) * 1000, 1),
        "dns_ms": span("dnsStart", "dnsEnd"),
        "connect_ms": max(0.0, span("connectStart", "connectEnd") - span("sslStart", "sslEnd")),
        "tls_ms": span("sslStart", "sslEnd"),
        "wait_ms": span("sendEnd", "receiveHeadersEnd"),
        "first_byte_ms": round(timing.get("receiveHeadersEnd", 0.0), 1),
        "download_ms": round(max(0.0, (entry.get("end", headers_end_s) - headers_end_s) * 1000), 1),
        "size": int(entry.get("bytes", 0)),
        "status": response.get("status"),
        "type": _content_type(response.get("mimeType", ""), entry["url"]),
        "cached": bool(entry.get("from_cache") or response.get("fromDiskCache") or response.get("fromMemoryCache")),
        "reused_connection": bool(response.get("connectionReused")),
        "host": urlsplit(entry["url"]).netloc,
        "headers": {
            k: headers[k] for k in ("content-encoding", "cache-control", "expires", "server", *CDN_HEADERS) if k in headers
        },
    }


def _content_type(mime: str, url: str) -> str:
    mime = mime.lower()
    for needle, kind in (("html", "html"), ("css", "css"), ("javascript", "js"), ("json", "json"), ("svg", "svg"),
                         ("image", "image"), ("font", "font"), ("text", "text")):  # fmt: skip
        if needle in mime:
            return kind
    return "font" if url.endswith((".woff", ".woff2", ".ttf")) else "other"


def _bytes_by_type(rows: list[dict[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["type"]] = totals.get(row["type"], 0) + row["size"]
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


# --- Speed Index --------------------------------------------------------------------


def histogram(jpeg: bytes) -> list[int]:
    """RGB histogram (768 counts) of the frame's pixels that are not near-white."""
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    masks = [channel.point(lambda value: 255 if value <= NEAR_WHITE else 0) for channel in image.split()]
    not_white = ImageChops.lighter(ImageChops.lighter(masks[0], masks[1]), masks[2])
    return image.histogram(mask=not_white)


def visual_progress(current: list[int], initial: list[int], target: list[int]) -> float:
    """speedline's histogram progress, 0–1."""
    match = total = 0
    for now, start, end in zip(current, initial, target, strict=True):
        target_diff = abs(end - start)
        match += min(abs(now - start), target_diff)
        total += target_diff
    return 1.0 if total == 0 else match / total


def speed_index(frames: list[tuple[int, bytes]]) -> float | None:
    """∫ (1 − visual progress) dt from navigation start, over the captured frames (the page starts blank).
    None without frames: nothing was seen, which is not a page that was complete at once."""
    if not frames:
        return None
    histograms = [(at, histogram(jpeg)) for at, jpeg in frames]
    blank = [0] * 768  # a blank page has only near-white pixels
    final = histograms[-1][1]
    index, last_time, last_progress = 0.0, 0, 0.0
    for at, hist in histograms:
        at = max(at, last_time)
        index += (1 - last_progress) * (at - last_time)
        last_time, last_progress = at, visual_progress(hist, blank, final)
    return round(index, 1)


def visually_complete(frames: list[tuple[int, bytes]]) -> int | None:
    """When the screen first looked as it did at the end of the capture."""
    if not frames:
        return None
    final = histogram(frames[-1][1])
    return next(at for at, jpeg in frames if visual_progress(histogram(jpeg), [0] * 768, final) >= 1.0)


def _filmstrip(frames: list[tuple[int, bytes]], output_dir: Path | None, view: str) -> list[dict[str, Any]]:
    if not frames or output_dir is None:
        return []
    output_dir.mkdir(parents=True, exist_ok=True)
    step = max(1, len(frames) // FILMSTRIP_FRAMES)
    strip = []
    for at, jpeg in frames[::step][:FILMSTRIP_FRAMES]:
        thumbnail = Image.open(io.BytesIO(jpeg)).convert("RGB")
        thumbnail.thumbnail((240, 240))
        path = output_dir / f"{view}-{at:06d}ms.jpg"
        thumbnail.save(path, "JPEG", quality=70)
        strip.append({"t_ms": at, "file": path.name})
    return strip


# --- checks, ratings, score ----------------------------------------------------------


def letter(score: float) -> str:
    return next(grade for floor, grade in ((90, "A"), (80, "B"), (70, "C"), (60, "D"), (0, "F")) if score >= floor)


def checks(view: dict[str, Any], profile: Profile) -> dict[str, dict[str, Any]]:
    rows = view["_rows"]
    static = [r for r in rows if r["type"] in STATIC_TYPES and not r["cached"]]
    return {
        "first_byte_time": _first_byte_check(view, profile),
        "keep_alive": _share_check([r for r in _after_first_per_host(rows)], lambda r: r["reused_connection"]),
        "compress_transfer": _share_check(
            [r for r in rows if r["type"] in TEXT_TYPES and r["size"] > 1400 and not r["cached"]],
            lambda r: r["headers"].get("content-encoding", "") in ("gzip", "br", "deflate", "zstd"),
        ),
        "cache_static": _share_check(static, _cacheable),
        "cdn": _share_check(static, lambda r: any(h in r["headers"] for h in CDN_HEADERS)),
    }


def _first_byte_check(view: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """WebPageTest's First Byte Time: the back end may take 100 ms beyond the round trips the first byte
    needs (its target: DNS, connect and TLS time + 100 ms, on a shaped link).

    DevTools emulation delays a response to at least the profile's latency once per request instead of
    adding it to every round trip, so against a target of 3 RTT + 100 ms every page passed. What the check
    is about is the back end: the time it took beyond the connection's own DNS, connect and TLS time. A
    back end slower than the emulated latency shows as the whole wait; a faster one is hidden under it,
    and is then taken as within the allowance (it is at most the latency).
    """
    document = next((row for row in view["_rows"] if row["type"] == "html"), None)
    handshakes_ms = document["dns_ms"] + document["connect_ms"] + document["tls_ms"] if document else 0.0
    wait_ms = max(0.0, view["ttfb_ms"] - handshakes_ms)
    floor_ms = profile.rtt_ms + LATENCY_SLACK_MS
    backend_ms = wait_ms if wait_ms > floor_ms else None
    # Past the latency floor the wait is the back end's; the allowance is never below the floor, so a back
    # end just slower than the latency is not judged harder than one just faster (no cliff at the floor).
    over_ms = wait_ms - max(BACKEND_TARGET_MS, floor_ms)
    score = max(0.0, 100 - max(0.0, over_ms))  # each 10 ms over costs a point: 100 ms over is one grade
    return {
        "grade": letter(score),
        "score": round(score, 1),
        "value_ms": view["ttfb_ms"],
        "backend_ms": None if backend_ms is None else round(backend_ms, 1),  # None: under the emulated latency
        "target_backend_ms": BACKEND_TARGET_MS,
        "emulated_latency_ms": profile.rtt_ms,
    }


def _after_first_per_host(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    later = []
    for row in rows:
        if row["cached"]:
            continue
        if row["host"] in seen:
            later.append(row)
        seen.add(row["host"])
    return later


def _share_check(eligible: list[dict[str, Any]], good: Any) -> dict[str, Any]:
    if not eligible:
        return {"grade": "A", "score": 100.0, "eligible": 0, "failing": []}
    failing = [row["url"] for row in eligible if not good(row)]
    score = 100.0 * (len(eligible) - len(failing)) / len(eligible)
    return {"grade": letter(score), "score": round(score, 1), "eligible": len(eligible), "failing": failing[:10]}


def _cacheable(row: dict[str, Any]) -> bool:
    control = row["headers"].get("cache-control", "").lower()
    if "no-store" in control or "no-cache" in control:
        return False
    for part in control.split(","):
        name, _, value = part.strip().partition("=")
        if name in ("max-age", "s-maxage") and value.isdigit() and int(value) >= 7 * 86400:
            return True
    return "expires" in row["headers"] and "max-age" not in control


def web_vitals(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    ratings = {}
    for metric, (good, poor) in CWV.items():
        value = view.get(metric)
        if value is None:
            continue
        rating = "good" if value <= good else "needs-improvement" if value <= poor else "poor"
        ratings[metric] = {"value": value, "rating": rating, "good_at_most": good, "poor_above": poor}
    return ratings


def composite(view_checks: dict[str, dict[str, Any]], vitals: dict[str, dict[str, Any]]) -> float:
    """Half Core Web Vitals (good 100, needs improvement 50, poor 0), half the checks; the CDN check is
    informational (a self-hosted or internal site has no CDN by design)."""
    vital_points = [{"good": 100, "needs-improvement": 50, "poor": 0}[v["rating"]] for v in vitals.values()]
    check_points = [c["score"] for name, c in view_checks.items() if name != "cdn"]
    return round(0.5 * sum(vital_points) / len(vital_points) + 0.5 * sum(check_points) / len(check_points), 1)


def _outcome(url: str, profile: Profile, cpu: int, first: dict, repeat: dict, duration_s: float) -> Outcome:
    first_checks = checks(first, profile)
    vitals = web_vitals(first)
    score = composite(first_checks, vitals)
    for view in (first, repeat):
        view.pop("_rows")
    details = {
        "url": url,
        "profile": {
            "name": profile.name,
            "down_kbps": profile.down_kbps,
            "up_kbps": profile.up_kbps,
            "rtt_ms": profile.rtt_ms,
            "cpu_slowdown": cpu,
        },
        "first_view": first,
        "repeat_view": repeat,
        "checks": first_checks,
        "web_vitals": vitals,
        "duration_s": round(duration_s, 3),
    }
    summary = (
        f"{letter(score)} ({score}) on {profile.name}: LCP {first['lcp_ms']:.0f} ms, "
        f"Speed Index {formatting.milliseconds(first['speed_index_ms'])}, {formatting.byte_size(first['bytes'])} "
        f"in {first['requests']} requests (repeat view {formatting.byte_size(repeat['bytes'])})"
    )
    return Outcome(status="ok", grade=letter(score), score=score, summary=summary, details=details)
