"""Security-header scores against real servers; every expected score is summed here from the Observatory's modifiers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scanners import headers
from scanners.headers import MODIFIERS
from scanners.tests.conftest import HeaderServer
from scanners.tests.tls_servers import TlsConfig, TlsServer

HTML_WITH_INSECURE_SCRIPT = b'<html><head><script src="http://cdn.example.net/lib.js"></script></head><body>hi</body></html>'


def results(outcome: Any) -> dict[str, tuple[str, int]]:
    return {t["name"]: (t["result"], t["modifier"]) for t in outcome.details["tests"] if t["scored"]}


def test_bare_http_server_is_f(header_server: Callable[..., HeaderServer]) -> None:
    outcome = headers.analyze(header_server([]).url)
    penalties = ["csp-not-implemented", "redirection-missing", "hsts-not-implemented-no-https",
                 "x-content-type-options-not-implemented", "x-frame-options-not-implemented"]  # fmt: skip
    expected = 100 + sum(MODIFIERS[name] for name in penalties)
    assert expected == 10
    assert (outcome.score, outcome.grade) == (expected, "F")
    assert (outcome.details["present"], outcome.details["total"]) == (0, 6)
    assert outcome.details["redirect_chain"][0]["status"] == 200


def test_bonuses_count_only_from_90(header_server: Callable[..., HeaderServer]) -> None:
    server = header_server([
        ("Content-Security-Policy", "default-src 'self'"),
        ("X-Frame-Options", "SAMEORIGIN"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ])  # fmt: skip
    outcome = headers.analyze(server.url)
    assert results(outcome)["referrer-policy"] == ("referrer-policy-private", 5)
    expected = 100 + MODIFIERS["redirection-missing"] + MODIFIERS["hsts-not-implemented-no-https"]  # 60: no bonus
    assert (outcome.score, outcome.grade) == (expected, "C+")
    assert outcome.details["present"] == 4


def test_everything_right_over_https_is_a_plus(tls_server: Callable[..., TlsServer]) -> None:
    config = TlsConfig(headers={
        "Strict-Transport-Security": "max-age=63072000",
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "camera=(), geolocation=()",
        "Set-Cookie": "sessionid=abc; Secure; HttpOnly; SameSite=Strict",
    })  # fmt: skip
    outcome = headers.analyze(tls_server(config).url)
    bonuses = ["csp-implemented-with-no-unsafe-default-src-none", "referrer-policy-private",
               "x-frame-options-implemented-via-csp", "cookies-secure-with-httponly-sessions-and-samesite"]  # fmt: skip
    expected = 100 + sum(MODIFIERS[name] for name in bonuses)
    assert expected == 125
    assert (outcome.score, outcome.grade) == (expected, "A+")
    assert results(outcome)["redirection"] == ("redirection-not-needed-no-http", 0)
    assert results(outcome)["strict-transport-security"] == ("hsts-implemented-max-age-at-least-six-months", 0)
    assert outcome.details["present"] == 5 and outcome.details["headers_missing"] == ["X-Frame-Options"]


def test_unsafe_page_sinks_to_zero(header_server: Callable[..., HeaderServer]) -> None:
    server = header_server(
        [
            ("Content-Security-Policy", "script-src 'self' 'unsafe-inline'"),
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "unsafe-url"),
            ("Set-Cookie", "sessionid=abc; Path=/"),
        ],
        body=HTML_WITH_INSECURE_SCRIPT,
        content_type="text/html",
    )
    outcome = headers.analyze(server.url)
    found = results(outcome)
    assert found["content-security-policy"] == ("csp-implemented-with-unsafe-inline", -20)
    assert found["cookies"] == ("cookies-session-without-secure-flag", -40)
    assert found["subresource-integrity"] == ("sri-not-implemented-and-external-scripts-not-loaded-securely", -50)
    assert found["referrer-policy"] == ("referrer-policy-unsafe", -5)
    expected = max(0, 100 + sum(modifier for _, modifier in found.values() if modifier < 0))
    assert (outcome.score, outcome.grade) == (expected, "F") and expected == 0


def test_reflected_origin_with_credentials_is_universal_access(header_server: Callable[..., HeaderServer]) -> None:
    server = header_server([("Access-Control-Allow-Origin", "{origin}"), ("Access-Control-Allow-Credentials", "true")])
    found = results(headers.analyze(server.url))
    assert found["cross-origin-resource-sharing"] == ("cross-origin-resource-sharing-implemented-with-universal-access", -50)


def test_invalid_headers_are_penalised_as_invalid(header_server: Callable[..., HeaderServer]) -> None:
    server = header_server(
        [
            ("X-Frame-Options", "ALLOWALL"),
            ("X-Content-Type-Options", "yes"),
            ("Content-Security-Policy", "script-src 'self'; script-src *"),
        ]
    )
    found = results(headers.analyze(server.url))
    assert found["x-frame-options"] == ("x-frame-options-header-invalid", -20)
    assert found["x-content-type-options"] == ("x-content-type-options-header-invalid", -5)
    assert found["content-security-policy"] == ("csp-header-invalid", -25)


def test_redirect_chain_is_recorded_and_blocked_hops_are_not_followed(
    header_server: Callable[..., HeaderServer], settings: Any
) -> None:
    settings.ALLOW_LOOPBACK_TARGETS = False
    settings.TARGET_ALLOWLIST = ["127.0.0.1/32"]
    server = header_server([("Location", "http://127.0.0.2:9/private")], status=302)
    outcome = headers.analyze(server.url)
    assert outcome.status == "skipped" and "127.0.0.2" in outcome.summary


def test_metadata_target_is_never_fetched() -> None:
    outcome = headers.analyze("http://169.254.169.254/latest/meta-data/")
    assert outcome.status == "skipped" and "metadata" in outcome.summary
