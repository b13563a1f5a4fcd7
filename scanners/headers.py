"""Security headers, scored the way Mozilla's HTTP Observatory scores them.

Start at 100, add each test's (negative) modifier; only when the result is
still ≥ 90 are the bonuses (positive modifiers) added. The names and numbers
of the modifiers are the Observatory's published ones. Permissions-Policy,
COOP and COEP are reported but, as in the Observatory, not scored.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from runs.engine.targets import TargetRejected
from scanners.fetch import Fetched, fetch_chain
from scanners.outcome import Outcome, failed, skipped

SIX_MONTHS_S = 15_552_000
SIX_HEADERS = (
    "Content-Security-Policy",
    "Permissions-Policy",
    "Referrer-Policy",
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
)
GRADE_BANDS = (
    (100, "A+"), (90, "A"), (85, "A-"), (80, "B+"), (70, "B"), (65, "B-"),
    (60, "C+"), (50, "C"), (45, "C-"), (40, "D+"), (30, "D"), (25, "D-"), (0, "F"),
)  # fmt: skip
SESSION_COOKIE = re.compile(r"sess|login|auth|token|sid|csrf|user", re.IGNORECASE)
PRIVATE_REFERRER = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
UNSAFE_REFERRER = {"origin", "origin-when-cross-origin", "unsafe-url"}
PROBE_ORIGIN = "https://k6intel-origin-probe.invalid"

# The Observatory's modifiers, by result.
MODIFIERS = {
    "csp-implemented-with-no-unsafe-default-src-none": 10,
    "csp-implemented-with-no-unsafe": 0,
    "csp-implemented-with-unsafe-inline-in-style-src-only": 0,
    "csp-implemented-with-insecure-scheme-in-passive-content-only": -10,
    "csp-implemented-with-unsafe-eval": -10,
    "csp-implemented-with-unsafe-inline": -20,
    "csp-implemented-with-insecure-scheme": -20,
    "csp-header-invalid": -25,
    "csp-not-implemented": -25,
    "cookies-secure-with-httponly-sessions-and-samesite": 5,
    "cookies-not-found": 0,
    "cookies-secure-with-httponly-sessions": 0,
    "cookies-without-secure-flag-but-protected-by-hsts": -5,
    "cookies-session-without-secure-flag-but-protected-by-hsts": -10,
    "cookies-without-secure-flag": -20,
    "cookies-samesite-flag-invalid": -20,
    "cookies-session-without-httponly-flag": -30,
    "cookies-session-without-secure-flag": -40,
    "cross-origin-resource-sharing-not-implemented": 0,
    "cross-origin-resource-sharing-implemented-with-public-access": 0,
    "cross-origin-resource-sharing-implemented-with-restricted-access": 0,
    "cross-origin-resource-sharing-implemented-with-universal-access": -50,
    "redirection-to-https": 0,
    "redirection-not-needed-no-http": 0,
    "redirection-off-host-from-http": -5,
    "redirection-not-to-https-on-initial-redirection": -10,
    "redirection-not-to-https": -20,
    "redirection-missing": -20,
    "redirection-invalid-cert": -20,
    "referrer-policy-private": 5,
    "referrer-policy-no-referrer-when-downgrade": 0,
    "referrer-policy-not-implemented": 0,
    "referrer-policy-unsafe": -5,
    "referrer-policy-header-invalid": -5,
    "hsts-implemented-max-age-at-least-six-months": 0,
    "hsts-implemented-max-age-less-than-six-months": -10,
    "hsts-not-implemented": -20,
    "hsts-header-invalid": -20,
    "hsts-not-implemented-no-https": -20,
    "hsts-invalid-cert": -20,
    "sri-implemented-and-all-scripts-loaded-securely": 5,
    "sri-implemented-and-external-scripts-loaded-securely": 0,
    "sri-not-implemented-response-not-html": 0,
    "sri-not-implemented-but-no-scripts-loaded": 0,
    "sri-not-implemented-but-all-scripts-loaded-from-secure-origin": 0,
    "sri-not-implemented-but-external-scripts-loaded-securely": -5,
    "sri-implemented-but-external-scripts-not-loaded-securely": -20,
    "sri-not-implemented-and-external-scripts-not-loaded-securely": -50,
    "x-content-type-options-nosniff": 0,
    "x-content-type-options-not-implemented": -5,
    "x-content-type-options-header-invalid": -5,
    "x-frame-options-implemented-via-csp": 5,
    "x-frame-options-sameorigin-or-deny": 0,
    "x-frame-options-allow-from-origin": 0,
    "x-frame-options-not-implemented": -20,
    "x-frame-options-header-invalid": -20,
}

RECOMMENDATIONS = {
    "content-security-policy": "Add a Content-Security-Policy, ideally starting from default-src 'none', without 'unsafe-inline' or 'unsafe-eval' in script-src.",
    "cookies": "Mark every cookie Secure, session cookies also HttpOnly, and give all a SameSite attribute.",
    "cross-origin-resource-sharing": "Do not reflect arbitrary Origins with Access-Control-Allow-Credentials.",
    "redirection": "Redirect http:// to https:// on the same host, as the first redirect.",
    "referrer-policy": "Send Referrer-Policy: strict-origin-when-cross-origin (or stricter).",
    "strict-transport-security": "Serve over HTTPS with Strict-Transport-Security: max-age=63072000 (at least six months).",
    "subresource-integrity": "Load third-party scripts over HTTPS with an integrity= hash.",
    "x-content-type-options": "Send X-Content-Type-Options: nosniff.",
    "x-frame-options": "Send X-Frame-Options: DENY, or CSP frame-ancestors 'none'.",
    "permissions-policy": "Send a Permissions-Policy that turns off the browser features the site does not use.",
    "cross-origin-opener-policy": "Send Cross-Origin-Opener-Policy: same-origin.",
    "cross-origin-embedder-policy": "Send Cross-Origin-Embedder-Policy: require-corp where the page allows it.",
    "cross-origin-resource-policy": "Send Cross-Origin-Resource-Policy: same-origin (or same-site).",
}


@dataclass(frozen=True)
class TestResult:
    name: str
    result: str
    modifier: int
    passed: bool
    recommendation: str
    scored: bool = True

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pass"] = data.pop("passed")
        return data


def scored(name: str, result: str) -> TestResult:
    modifier = MODIFIERS[result]
    return TestResult(name, result, modifier, modifier >= 0, "" if modifier > 0 else RECOMMENDATIONS[name])


def informational(name: str, value: str | None, valid: Callable[[str], bool]) -> TestResult:
    if value is None:
        return TestResult(name, f"{name}-not-implemented", 0, False, RECOMMENDATIONS[name], scored=False)
    ok = valid(value.strip().lower())
    return TestResult(
        name, f"{name}-{'implemented' if ok else 'header-invalid'}", 0, ok, "" if ok else RECOMMENDATIONS[name], False
    )


# --- scoring ----------------------------------------------------------------------


def observatory_score(tests: list[TestResult]) -> int:
    score = 100 + sum(t.modifier for t in tests if t.scored and t.modifier < 0)
    if score >= 90:
        score += sum(t.modifier for t in tests if t.scored and t.modifier > 0)
    return max(score, 0)


def observatory_grade(score: int) -> str:
    return next(grade for floor, grade in GRADE_BANDS if score >= floor)


# --- the analyzer -----------------------------------------------------------------


def analyze(url: str, output_dir: Path | None = None) -> Outcome:
    started = time.monotonic()
    try:
        fetched, http_probe = asyncio.run(_fetch_both(url))
    except TargetRejected as exc:
        return skipped(f"Not scanned: {exc}")
    except httpx.HTTPError as exc:
        return failed(f"Could not fetch {url}: {exc!r}")
    tests = run_tests(url, fetched, http_probe)
    return _outcome(fetched, tests, time.monotonic() - started)


async def _fetch_both(url: str) -> tuple[Fetched, Fetched | None]:
    probe_url = _http_probe_url(url)
    main = fetch_chain(url, {"Origin": PROBE_ORIGIN})
    if probe_url is None:
        return await main, None
    fetched, probe = await asyncio.gather(main, _try_fetch(probe_url))
    return fetched, probe


async def _try_fetch(url: str) -> Fetched | None:
    try:
        return await fetch_chain(url)
    except (httpx.HTTPError, TargetRejected):
        return None  # no plain-HTTP service: nothing to redirect


def _http_probe_url(url: str) -> str | None:
    """For an https URL on the default port, the http:// twin the Observatory checks for a redirect."""
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.port not in (None, 443):
        return None
    return parts._replace(scheme="http", netloc=parts.hostname or "").geturl()


def run_tests(url: str, fetched: Fetched, http_probe: Fetched | None) -> list[TestResult]:
    response = fetched.response
    assert response is not None
    headers = response.headers
    https = urlsplit(fetched.final_url).scheme == "https"
    hsts = hsts_test(headers.get("strict-transport-security"), https, fetched.invalid_cert)
    csp = csp_directives(headers.get("content-security-policy"))
    return [
        csp_test(headers.get("content-security-policy"), csp),
        cookies_test(headers.get_list("set-cookie"), hsts.modifier == 0 and https),
        cors_test(headers),
        redirection_test(url, fetched, http_probe),
        referrer_test(headers.get("referrer-policy")),
        hsts,
        sri_test(response, fetched.final_url),
        xcto_test(headers.get("x-content-type-options")),
        xfo_test(headers.get("x-frame-options"), csp),
        informational("permissions-policy", headers.get("permissions-policy"), lambda v: "=" in v),
        informational("cross-origin-opener-policy", headers.get("cross-origin-opener-policy"),
                      lambda v: v in {"same-origin", "same-origin-allow-popups", "unsafe-none", "noopener-allow-popups"}),
        informational("cross-origin-embedder-policy", headers.get("cross-origin-embedder-policy"),
                      lambda v: v in {"require-corp", "credentialless", "unsafe-none"}),
        informational("cross-origin-resource-policy", headers.get("cross-origin-resource-policy"),
                      lambda v: v in {"same-origin", "same-site", "cross-origin"}),
    ]  # fmt: skip


def _outcome(fetched: Fetched, tests: list[TestResult], duration_s: float) -> Outcome:
    response = fetched.response
    assert response is not None
    score = observatory_score(tests)
    grade = observatory_grade(score)
    present = [name for name in SIX_HEADERS if name.lower() in response.headers]
    failing = [t.name for t in tests if t.scored and t.modifier < 0]
    summary = f"{grade} ({score}/100): {len(present)} of 6 key headers present" + (
        f"; fix {', '.join(failing)}" if failing else ""
    )
    details = {
        "url": fetched.final_url,
        "status_code": response.status_code,
        "redirect_chain": [asdict(hop) for hop in fetched.chain],
        "tests": [t.as_dict() for t in tests],
        "present": len(present),
        "total": len(SIX_HEADERS),
        "headers_present": present,
        "headers_missing": [name for name in SIX_HEADERS if name not in present],
        "raw_headers": dict(response.headers),
        "duration_s": round(duration_s, 3),
    }
    return Outcome(status="ok", grade=grade, score=score, summary=summary, details=details)


# --- the tests ----------------------------------------------------------------------


def csp_directives(header: str | None) -> dict[str, list[str]] | None:
    """Directive → sources; None when absent, {} when it cannot be parsed."""
    if header is None:
        return None
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        tokens = part.strip().split()
        if not tokens:
            continue
        name = tokens[0].lower()
        if not re.fullmatch(r"[a-z-]+", name) or name in directives:
            return {}
        directives[name] = [token.lower() for token in tokens[1:]]
    return directives


def csp_test(header: str | None, directives: dict[str, list[str]] | None) -> TestResult:
    name = "content-security-policy"
    if header is None:
        return scored(name, "csp-not-implemented")
    if not directives:
        return scored(name, "csp-header-invalid")
    default = directives.get("default-src")
    script = directives.get("script-src", default)
    has_nonce_or_hash = script is not None and any(s.startswith(("'nonce-", "'sha")) or s == "'strict-dynamic'" for s in script)
    if script is None or (
        ("'unsafe-inline'" in script and not has_nonce_or_hash) or {"*", "http:", "https:", "data:"} & set(script)
    ):
        return scored(name, "csp-implemented-with-unsafe-inline")
    active = script + directives.get("object-src", default or [])
    if any(source.startswith("http:") for source in active):
        return scored(name, "csp-implemented-with-insecure-scheme")
    if "'unsafe-eval'" in script:
        return scored(name, "csp-implemented-with-unsafe-eval")
    passive = [s for key in ("img-src", "media-src", "font-src", "style-src") for s in directives.get(key, default or [])]
    if any(source.startswith("http:") for source in passive):
        return scored(name, "csp-implemented-with-insecure-scheme-in-passive-content-only")
    if "'unsafe-inline'" in directives.get("style-src", default or []):
        return scored(name, "csp-implemented-with-unsafe-inline-in-style-src-only")
    if default == ["'none'"]:
        return scored(name, "csp-implemented-with-no-unsafe-default-src-none")
    return scored(name, "csp-implemented-with-no-unsafe")


def cookies_test(set_cookies: list[str], protected_by_hsts: bool) -> TestResult:
    name = "cookies"
    parsed = [_cookie_flags(header) for header in set_cookies]
    cookies = [cookie for cookie in parsed if cookie]
    if not cookies:
        return scored(name, "cookies-not-found")
    sessions = [c for c in cookies if SESSION_COOKIE.search(c["name"])]
    if any(c["samesite"] not in ("", "strict", "lax", "none") for c in cookies):
        return scored(name, "cookies-samesite-flag-invalid")
    if any(not c["secure"] for c in sessions):
        return scored(
            name,
            "cookies-session-without-secure-flag-but-protected-by-hsts"
            if protected_by_hsts
            else "cookies-session-without-secure-flag",
        )
    if any(not c["httponly"] for c in sessions):
        return scored(name, "cookies-session-without-httponly-flag")
    if any(not c["secure"] for c in cookies):
        return scored(
            name, "cookies-without-secure-flag-but-protected-by-hsts" if protected_by_hsts else "cookies-without-secure-flag"
        )
    if all(c["samesite"] for c in cookies):
        return scored(name, "cookies-secure-with-httponly-sessions-and-samesite")
    return scored(name, "cookies-secure-with-httponly-sessions")


def _cookie_flags(header: str) -> dict[str, Any] | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # http.cookies raises CookieError and others on odd input
        return None
    for morsel in jar.values():
        return {
            "name": morsel.key,
            "secure": bool(morsel["secure"]),
            "httponly": bool(morsel["httponly"]),
            "samesite": str(morsel["samesite"]).lower(),
        }
    return None


def cors_test(headers: httpx.Headers) -> TestResult:
    name = "cross-origin-resource-sharing"
    origin = headers.get("access-control-allow-origin")
    if origin is None:
        return scored(name, "cross-origin-resource-sharing-not-implemented")
    credentials = headers.get("access-control-allow-credentials", "").lower() == "true"
    if origin.strip() == PROBE_ORIGIN and credentials:
        return scored(name, "cross-origin-resource-sharing-implemented-with-universal-access")
    if origin.strip() == "*":
        return scored(name, "cross-origin-resource-sharing-implemented-with-public-access")
    return scored(name, "cross-origin-resource-sharing-implemented-with-restricted-access")


def redirection_test(url: str, fetched: Fetched, http_probe: Fetched | None) -> TestResult:
    name = "redirection"
    chain = fetched.chain if urlsplit(url).scheme == "http" else (http_probe.chain if http_probe else None)
    if not chain:
        return scored(name, "redirection-not-needed-no-http")
    final = urlsplit(chain[-1].url)
    if final.scheme != "https":
        return scored(name, "redirection-missing" if len(chain) == 1 else "redirection-not-to-https")
    if fetched.invalid_cert:
        return scored(name, "redirection-invalid-cert")
    first_hop = urlsplit(chain[1].url)
    if first_hop.scheme != "https":
        return scored(name, "redirection-not-to-https-on-initial-redirection")
    if first_hop.hostname != urlsplit(chain[0].url).hostname:
        return scored(name, "redirection-off-host-from-http")
    return scored(name, "redirection-to-https")


def referrer_test(header: str | None) -> TestResult:
    name = "referrer-policy"
    if header is None:
        return scored(name, "referrer-policy-not-implemented")
    known = PRIVATE_REFERRER | UNSAFE_REFERRER | {"no-referrer-when-downgrade"}
    values = [v.strip().lower() for v in header.split(",") if v.strip().lower() in known]
    if not values:
        return scored(name, "referrer-policy-header-invalid")
    effective = values[-1]  # browsers use the last value they understand
    if effective in PRIVATE_REFERRER:
        return scored(name, "referrer-policy-private")
    if effective in UNSAFE_REFERRER:
        return scored(name, "referrer-policy-unsafe")
    return scored(name, "referrer-policy-no-referrer-when-downgrade")


def hsts_test(header: str | None, https: bool, invalid_cert: bool) -> TestResult:
    name = "strict-transport-security"
    if not https:
        return scored(name, "hsts-not-implemented-no-https")
    if invalid_cert:
        return scored(name, "hsts-invalid-cert")
    if header is None:
        return scored(name, "hsts-not-implemented")
    match = re.search(r"max-age\s*=\s*\"?(\d+)\"?", header, re.IGNORECASE)
    if not match:
        return scored(name, "hsts-header-invalid")
    if int(match.group(1)) >= SIX_MONTHS_S:
        return scored(name, "hsts-implemented-max-age-at-least-six-months")
    return scored(name, "hsts-implemented-max-age-less-than-six-months")


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "script" and values.get("src"):
            self.scripts.append(values)


def sri_test(response: httpx.Response, page_url: str) -> TestResult:
    name = "subresource-integrity"
    if "html" not in response.headers.get("content-type", ""):
        return scored(name, "sri-not-implemented-response-not-html")
    parser = _Scripts()
    parser.feed(response.text[:2_000_000])
    page = urlsplit(page_url)
    external = [s for s in parser.scripts if urlsplit(s["src"]).netloc not in ("", page.netloc)]
    if not parser.scripts:
        return scored(name, "sri-not-implemented-but-no-scripts-loaded")
    if not external:
        return scored(name, "sri-not-implemented-but-all-scripts-loaded-from-secure-origin")
    secure = all(s["src"].startswith("https:") or (s["src"].startswith("//") and page.scheme == "https") for s in external)
    with_integrity = all(s.get("integrity") for s in external)
    if with_integrity:
        return scored(
            name,
            "sri-implemented-and-all-scripts-loaded-securely"
            if secure
            else "sri-implemented-but-external-scripts-not-loaded-securely",
        )
    return scored(
        name,
        "sri-not-implemented-but-external-scripts-loaded-securely"
        if secure
        else "sri-not-implemented-and-external-scripts-not-loaded-securely",
    )


def xcto_test(header: str | None) -> TestResult:
    name = "x-content-type-options"
    if header is None:
        return scored(name, "x-content-type-options-not-implemented")
    return scored(
        name, "x-content-type-options-nosniff" if header.strip().lower() == "nosniff" else "x-content-type-options-header-invalid"
    )


def xfo_test(header: str | None, csp: dict[str, list[str]] | None) -> TestResult:
    name = "x-frame-options"
    if csp and "frame-ancestors" in csp:
        return scored(name, "x-frame-options-implemented-via-csp")
    if header is None:
        return scored(name, "x-frame-options-not-implemented")
    value = header.strip().lower()
    if value in ("deny", "sameorigin"):
        return scored(name, "x-frame-options-sameorigin-or-deny")
    if value.startswith("allow-from "):
        return scored(name, "x-frame-options-allow-from-origin")
    return scored(name, "x-frame-options-header-invalid")
