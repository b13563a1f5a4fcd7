"""The headers analyzer against the MDN HTTP Observatory end to end, on the same real servers.

The reference is the Observatory package run whole — its own retriever fetching the server, its own
tests and grader (scanners/tests/observatory_reference.mjs). The analyzer fetches under the target
policy and feeds the same scorer; both must agree on the score, the grade and every test's result.
The variants are the ones where the hand-written rules of the first version drifted from it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from scanners import headers
from scanners.tests.conftest import HeaderServer
from scanners.tests.tls_servers import TestCA, TlsConfig, TlsServer

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "scanners" / "tests" / "observatory_reference.mjs"
HTML = "text/html; charset=utf-8"
INSECURE_SCRIPT = b'<html><head><script src="http://cdn.example.net/lib.js"></script></head><body>hi</body></html>'
META_CSP = b'<html><head><meta http-equiv="Content-Security-Policy" content="default-src \'none\'"></head><body>hi</body></html>'

VARIANTS: dict[str, tuple[list[tuple[str, str]], dict[str, Any]]] = {
    "bare": ([], {}),
    "csp-without-object-src": ([("Content-Security-Policy", "script-src 'self'")], {}),
    "csp-safe-not-none": ([("Content-Security-Policy", "default-src 'self'; object-src 'none'")], {}),
    "csp-in-meta-only": ([], {"body": META_CSP, "content_type": HTML}),
    "strict-dynamic-without-nonce": ([("Content-Security-Policy", "script-src 'strict-dynamic'; object-src 'none'")], {}),
    "corp-same-origin": ([("Cross-Origin-Resource-Policy", "same-origin")], {}),
    "referrer-downgrade": ([("Referrer-Policy", "no-referrer-when-downgrade")], {}),
    "non-session-cookie": ([("Set-Cookie", "userid=42; Secure")], {}),
    "invalid-samesite-no-secure": ([("Set-Cookie", "sessionid=1; SameSite=Bogus")], {}),
    "unsafe-page": (
        [
            ("Content-Security-Policy", "script-src 'self' 'unsafe-inline'"),
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "unsafe-url"),
            ("Set-Cookie", "sessionid=abc; Path=/"),
        ],
        {"body": INSECURE_SCRIPT, "content_type": HTML},
    ),
    "invalid-values": (
        [("X-Frame-Options", "ALLOWALL"), ("X-Content-Type-Options", "yes"), ("Content-Security-Policy", "script-src *")],
        {},
    ),
    "cors-public": ([("Access-Control-Allow-Origin", "*")], {}),
}


def reference(url: str, ca: TestCA | None = None) -> dict[str, Any]:
    """The Observatory on its own: the port the analyzer fetched, and no twin on another port (as the analyzer)."""
    parts = urlsplit(url)
    ports = (parts.port, 1) if parts.scheme == "http" else (1, parts.port)
    env = {**os.environ, **({"NODE_EXTRA_CA_CERTS": str(ca.cert_path)} if ca else {})}
    command = ["node", str(REFERENCE), parts.hostname or "", *map(str, ports)]
    done = subprocess.run(command, capture_output=True, timeout=60, cwd=ROOT, env=env, check=True)
    return dict(orjson.loads(done.stdout))


def observatory_results(outcome: Any) -> dict[str, str]:
    return {t["name"]: t["result"] for t in outcome.details["tests"] if t["source"] == "observatory"}


def agree(outcome: Any, expected: dict[str, Any]) -> None:
    assert outcome.status == "ok", outcome.summary
    assert observatory_results(outcome) == {name: test["result"] for name, test in expected["tests"].items()}
    assert (outcome.score, outcome.grade) == (expected["scan"]["score"], expected["scan"]["grade"])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_plain_http_variants_score_as_the_observatory(header_server: Callable[..., HeaderServer], variant: str) -> None:
    header_list, options = VARIANTS[variant]
    server = header_server(header_list, **options)
    agree(headers.analyze(server.url), reference(server.url))


def test_https_with_everything_right_scores_as_the_observatory(tls_server: Callable[..., TlsServer], trusted_ca: TestCA) -> None:
    config = TlsConfig(headers={
        "Strict-Transport-Security": "max-age=63072000",
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), geolocation=()",
        "Set-Cookie": "sessionid=abc; Secure; HttpOnly; SameSite=Strict",
    })  # fmt: skip
    server = tls_server(config)
    outcome = headers.analyze(server.url)
    agree(outcome, reference(server.url, trusted_ca))
    assert outcome.grade == "A+" and (outcome.score or 0) > 100
    assert outcome.details["present"] == 5 and outcome.details["headers_missing"] == ["X-Frame-Options"]
    assert outcome.details["engine"]["package"] == "@mdn/mdn-http-observatory"


def test_https_with_a_short_hsts_scores_as_the_observatory(tls_server: Callable[..., TlsServer], trusted_ca: TestCA) -> None:
    server = tls_server(TlsConfig(headers={"Strict-Transport-Security": "max-age=300"}))
    outcome = headers.analyze(server.url)
    agree(outcome, reference(server.url, trusted_ca))
    assert observatory_results(outcome)["strict-transport-security"] == "hsts-implemented-max-age-less-than-six-months"


def test_a_reflected_origin_with_credentials_is_an_addition_outside_the_score(
    header_server: Callable[..., HeaderServer],
) -> None:
    server = header_server([("Access-Control-Allow-Origin", "{origin}"), ("Access-Control-Allow-Credentials", "true")])
    outcome = headers.analyze(server.url)
    agree(outcome, reference(server.url))  # the Observatory 1.4.8 cannot see the reflection under Node
    (probe,) = [t for t in outcome.details["tests"] if t["name"] == "cors-origin-reflection"]
    assert probe["result"] == "cors-origin-reflected-with-credentials" and not probe["pass"]
    assert probe["scored"] is False and probe["source"] == "k6intel"
    assert "cors-origin-reflection (not scored by the Observatory)" in outcome.summary


def test_a_page_answering_404_is_not_scored(header_server: Callable[..., HeaderServer]) -> None:
    outcome = headers.analyze(header_server([], status=404).url)
    assert outcome.status == "error" and "answered HTTP 404" in outcome.summary


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
