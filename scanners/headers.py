"""Security headers, scored by the MDN HTTP Observatory's own scorer.

The platform fetches what the Observatory's retriever fetches — the http:// and https:// pages with
their redirects, the cookies the chosen session collects, a CORS preflight — every hop under the target
policy, and hands the responses to the Observatory's tests and grader (npm `@mdn/mdn-http-observatory`,
pinned in package.json, run by scanners/observatory/score.mjs). Score, grade and every test's result are
the Observatory's. Beside them, labelled `source: k6intel` and never part of that score: Permissions-
Policy, COOP and COEP, the six-header count, and an Origin-reflection probe (the Observatory 1.4.8 reads
the request's Origin from a field axios does not fill under Node, so it never finds a reflected Origin
with credentials).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from runs.engine.targets import TargetRejected
from scanners.fetch import Fetched, fetch_chain
from scanners.outcome import Outcome, failed, skipped

ROOT = Path(__file__).resolve().parents[1]
SCORER = ROOT / "scanners" / "observatory" / "score.mjs"
SCORER_TIMEOUT_S = 60
MAX_BODY_CHARS = 2_000_000  # of the page handed to the scorer (its SRI and <meta> CSP tests read it)
OBSERVATORY_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
OBSERVATORY_CORS_ORIGIN = "https://http-observatory.security.mozilla.org"  # the Observatory's default
SCORED_STATUSES = "2xx, 3xx, 401 or 403"
SIX_HEADERS = (
    "Content-Security-Policy",
    "Permissions-Policy",
    "Referrer-Policy",
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
)
PROBE_ORIGIN = "https://k6intel-origin-probe.invalid"

RECOMMENDATIONS = {
    "permissions-policy": "Send a Permissions-Policy that turns off the browser features the site does not use.",
    "cross-origin-opener-policy": "Send Cross-Origin-Opener-Policy: same-origin.",
    "cross-origin-embedder-policy": "Send Cross-Origin-Embedder-Policy: require-corp where the page allows it.",
    "cors-origin-reflection": "Do not reflect arbitrary Origins with Access-Control-Allow-Credentials: true.",
}


@dataclass(frozen=True)
class TestResult:
    name: str
    result: str
    modifier: int
    passed: bool
    recommendation: str
    scored: bool = True  # part of the Observatory's score
    source: str = "observatory"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pass"] = data.pop("passed")
        return data


class ScorerUnavailable(RuntimeError):
    """Node or the Observatory package is missing, or the scorer failed."""


# --- the analyzer -----------------------------------------------------------------


def analyze(url: str, output_dir: Path | None = None) -> Outcome:
    started = time.monotonic()
    if shutil.which("node") is None:
        return skipped("Node.js is not installed: the headers analyzer runs the MDN Observatory's scorer (make installs it).")
    try:
        sessions = asyncio.run(_fetch(url))
    except TargetRejected as exc:
        return skipped(f"Not scanned: {exc}")
    except httpx.HTTPError as exc:
        return failed(f"Could not fetch {url}: {exc!r}")
    page = sessions.page
    if page.response is None:
        return failed(f"Could not fetch {url}: no response.")
    status = page.response.status_code
    if not (200 <= status < 400 or status in (401, 403)):
        return failed(f"{page.final_url} answered HTTP {status}; the MDN Observatory scores pages that answer {SCORED_STATUSES}.")
    try:
        observatory = run_scorer(scorer_input(url, sessions))
    except ScorerUnavailable as exc:
        return failed(str(exc))
    tests = observatory_tests(observatory) + additions(page, sessions.probe)
    return _outcome(page, observatory, tests, time.monotonic() - started)


@dataclass
class Sessions:
    http: Fetched | None
    https: Fetched | None
    cors: Fetched | None
    probe: Fetched | None  # the page asked with a made-up Origin (the reflection addition)

    @property
    def page(self) -> Fetched:
        """The session the Observatory judges the page by: https when it answered, else http."""
        chosen = self.https if self.https and self.https.response is not None else self.http
        assert chosen is not None
        return chosen


async def _fetch(url: str) -> Sessions:
    """The target and its http/https twin on the default port, as the Observatory's retriever asks for them."""
    parts = urlsplit(url)
    twin_scheme, default_port = ("https", 80) if parts.scheme == "http" else ("http", 443)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or ""
    twin = parts._replace(scheme=twin_scheme, netloc=host).geturl() if parts.port in (None, default_port) else None
    accept = {"Accept": OBSERVATORY_ACCEPT}
    target: Fetched | BaseException | None
    target, other = await asyncio.gather(fetch_chain(url, accept), _optional(twin, accept), return_exceptions=True)
    if isinstance(other, BaseException):
        raise other
    if isinstance(target, BaseException):
        # As the Observatory: the other scheme answering is enough; a target the policy refuses never is.
        if isinstance(target, TargetRejected) or other is None:
            raise target
        target = None
    sessions = Sessions(target, other, None, None) if parts.scheme == "http" else Sessions(other, target, None, None)
    final = sessions.page.final_url
    preflight = {"Access-Control-Request-Method": "GET", "Origin": OBSERVATORY_CORS_ORIGIN}
    sessions.cors, sessions.probe = await asyncio.gather(
        _optional(final, preflight, "OPTIONS"), _optional(final, {**accept, "Origin": PROBE_ORIGIN})
    )
    return sessions


async def _optional(url: str | None, headers: dict[str, str], method: str = "GET") -> Fetched | None:
    if url is None:
        return None
    try:
        return await fetch_chain(url, headers, method)
    except (httpx.HTTPError, TargetRejected):
        return None  # nothing there (no https service, say): the Observatory's session finds nothing either


def scorer_input(url: str, sessions: Sessions) -> dict[str, Any]:
    """What the Observatory's retriever would have collected, for scanners/observatory/score.mjs."""
    page = sessions.page
    cors = sessions.cors
    # axios (which the Observatory uses for the preflight) rejects a final status outside 2xx: no response.
    cors_ok = cors is not None and cors.response is not None and cors.response.is_success
    return {
        "hostname": urlsplit(url).hostname,
        "http": _session(sessions.http),
        "https": _session(sessions.https),
        "cookies": [{"url": hop.url, "header": header} for hop in page.chain for header in hop.set_cookies],
        "cors": _response(cors) if cors_ok and cors is not None else None,
    }


def _session(fetched: Fetched | None) -> dict[str, Any] | None:
    if fetched is None or fetched.response is None:
        return None
    return {
        "url": fetched.chain[0].url,
        "chain": [{"url": hop.url, "status": hop.status} for hop in fetched.chain],
        "response": _response(fetched),
    }


def _response(fetched: Fetched) -> dict[str, Any]:
    response = fetched.response
    assert response is not None
    return {
        "status": response.status_code,
        "headers": [[name, value] for name, value in response.headers.multi_items()],
        "body": response.text[:MAX_BODY_CHARS],
        "verified": not fetched.invalid_cert,
    }


def run_scorer(payload: dict[str, Any]) -> dict[str, Any]:
    # Node gets none of the worker's environment: the page it parses is the target's, and the package's
    # own configuration reads variables (CONFIG_FILE, PG*, HTTPOBS_*) that must not come from the worker.
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}
    command = ["node", str(SCORER)]
    try:
        done = subprocess.run(
            command, input=orjson.dumps(payload), capture_output=True, timeout=SCORER_TIMEOUT_S, cwd=ROOT, env=env
        )
    except subprocess.TimeoutExpired:
        raise ScorerUnavailable(f"The MDN Observatory scorer did not finish within {SCORER_TIMEOUT_S} s.") from None
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        detail = next((line for line in lines if "Error" in line), lines[-1] if lines else "no message")
        raise ScorerUnavailable(f"The MDN Observatory scorer failed (run `make` to install it): {detail}")
    try:
        return dict(orjson.loads(done.stdout))
    except orjson.JSONDecodeError:
        raise ScorerUnavailable("The MDN Observatory scorer answered something that is not JSON.") from None


def observatory_tests(observatory: dict[str, Any]) -> list[TestResult]:
    return [
        TestResult(name, test["result"], int(test["scoreModifier"]), bool(test["pass"]), test.get("recommendation") or "")
        for name, test in observatory["tests"].items()
    ]


# --- the platform's additions -------------------------------------------------------------


def additions(page: Fetched, probe: Fetched | None) -> list[TestResult]:
    """Findings the Observatory does not score, shown beside its tests."""
    response = page.response
    assert response is not None
    headers = response.headers
    return [
        informational("permissions-policy", headers.get("permissions-policy"), lambda v: "=" in v),
        informational("cross-origin-opener-policy", headers.get("cross-origin-opener-policy"),
                      lambda v: v in {"same-origin", "same-origin-allow-popups", "unsafe-none", "noopener-allow-popups"}),
        informational("cross-origin-embedder-policy", headers.get("cross-origin-embedder-policy"),
                      lambda v: v in {"require-corp", "credentialless", "unsafe-none"}),
        origin_reflection(probe),
    ]  # fmt: skip


def informational(name: str, value: str | None, valid: Callable[[str], bool]) -> TestResult:
    if value is None:
        return TestResult(name, f"{name}-not-implemented", 0, False, RECOMMENDATIONS[name], False, "k6intel")
    ok = valid(value.strip().lower())
    result = f"{name}-{'implemented' if ok else 'header-invalid'}"
    return TestResult(name, result, 0, ok, "" if ok else RECOMMENDATIONS[name], False, "k6intel")


def origin_reflection(probe: Fetched | None) -> TestResult:
    """Asked with a made-up Origin: a page that echoes it and allows credentials lets any site read it as the user."""
    name = "cors-origin-reflection"
    headers = probe.response.headers if probe and probe.response is not None else httpx.Headers()
    reflected = headers.get("access-control-allow-origin", "").strip() == PROBE_ORIGIN
    credentials = headers.get("access-control-allow-credentials", "").strip().lower() == "true"
    if reflected and credentials:
        return TestResult(name, "cors-origin-reflected-with-credentials", 0, False, RECOMMENDATIONS[name], False, "k6intel")
    return TestResult(name, "cors-origin-not-reflected-with-credentials", 0, True, "", False, "k6intel")


def _outcome(page: Fetched, observatory: dict[str, Any], tests: list[TestResult], duration_s: float) -> Outcome:
    response = page.response
    assert response is not None
    scan = observatory["scan"]
    score, grade = int(scan["score"]), str(scan["grade"])
    present = [name for name in SIX_HEADERS if name.lower() in response.headers]
    failing = [t.name for t in tests if t.scored and t.modifier < 0]
    warnings = [t.name for t in tests if not t.scored and t.result == "cors-origin-reflected-with-credentials"]
    summary = (
        f"{grade} ({score}/100, MDN Observatory): {len(present)} of 6 key headers present"
        + (f"; fix {', '.join(failing)}" if failing else "")
        + (f"; also {', '.join(warnings)} (not scored by the Observatory)" if warnings else "")
    )
    details = {
        "url": page.final_url,
        "status_code": response.status_code,
        "redirect_chain": [{"url": hop.url, "status": hop.status, "location": hop.location} for hop in page.chain],
        "engine": {"name": "MDN HTTP Observatory", "package": "@mdn/mdn-http-observatory", **_engine(scan)},
        "tests": [t.as_dict() for t in tests],
        "present": len(present),
        "total": len(SIX_HEADERS),
        "headers_present": present,
        "headers_missing": [name for name in SIX_HEADERS if name not in present],
        "raw_headers": dict(response.headers),
        "duration_s": round(duration_s, 3),
    }
    return Outcome(status="ok", grade=grade, score=score, summary=summary, details=details)


@cache
def _observatory_version() -> str:
    return str(orjson.loads((ROOT / "package.json").read_bytes())["dependencies"]["@mdn/mdn-http-observatory"])


def _engine(scan: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": _observatory_version(),
        "algorithm_version": scan.get("algorithmVersion"),
        "tests_passed": scan.get("testsPassed"),
        "tests_quantity": scan.get("testsQuantity"),
    }
