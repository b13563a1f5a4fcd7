"""TLS grades against real TLS servers on loopback, each expected grade worked out from the SSL Labs guide."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from scanners import tls
from scanners.tests.tls_servers import TlsConfig, TlsServer

ROOT = Path(__file__).resolve().parents[2]
# The guide's sub-scores for these servers: protocol (best+worst)/2, key exchange from the weakest
# key (RSA 2048 and X25519 ≈ RSA 3072 → 90; RSA 1024 → 80), cipher (best 256-bit → 100, worst 128 → 80)/2.
MODERN_TOTAL = 0.3 * 100 + 0.3 * 90 + 0.4 * (100 + 80) / 2  # 93 → A


def scan(server: TlsServer) -> Any:
    outcome = tls.analyze(server.url)
    assert outcome.status == "ok", outcome.summary
    return outcome


def caps(outcome: Any) -> list[tuple[str, str]]:
    return [(cap["grade"], cap["rule"]) for cap in outcome.details["caps"]]


@pytest.fixture(scope="module")
def dh_1024(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dh") / "dh1024.pem"
    subprocess.run(["openssl", "dhparam", "-dsaparam", "-out", str(path), "1024"], check=True, capture_output=True)
    return path


def test_modern_trusted_server_with_hsts_is_a_plus(tls_server: Callable[..., TlsServer]) -> None:
    outcome = scan(tls_server())
    assert outcome.details["subscores"] == {"protocol": 100.0, "key_exchange": 90, "cipher": 90.0, "total": MODERN_TOTAL}
    assert outcome.grade == "A+" and caps(outcome) == [] and outcome.details["warnings"] == []
    assert outcome.details["protocols"] == {
        "SSL 2.0": False,
        "SSL 3.0": False,
        "TLS 1.0": False,
        "TLS 1.1": False,
        "TLS 1.2": True,
        "TLS 1.3": True,
    }
    certificate = outcome.details["certificate"]
    assert certificate["trusted"] and certificate["hostname_matches"] and not certificate["expired"]
    assert (certificate["key_type"], certificate["key_bits"], certificate["signature_algorithm"]) == (
        "RSA",
        2048,
        "sha256WithRSAEncryption",
    )
    assert certificate["san"] == ["localhost", "127.0.0.1"] and 88 <= certificate["days_left"] <= 90
    assert outcome.details["hsts"]["max_age_s"] == 31_536_000
    assert not any(
        outcome.details["vulnerabilities"][v] for v in ("heartbleed", "ccs_injection", "robot_vulnerable", "compression")
    )
    assert {"modern", "intermediate", "old"} == set(outcome.details["mozilla"])
    assert outcome.details["mozilla"]["modern"]["compliant"] is False  # RSA certificate, TLS 1.2 offered
    assert any(s["kx"] and s["kx"]["curve"] == "X25519" for s in outcome.details["cipher_suites"]["TLS 1.3"])


def test_without_hsts_an_a_stays_an_a(tls_server: Callable[..., TlsServer]) -> None:
    outcome = scan(tls_server(TlsConfig(headers={})))
    assert outcome.grade == "A" and "no Strict-Transport-Security header" in outcome.details["warnings"]


def test_tls_1_0_and_1_1_cap_at_b(tls_server: Callable[..., TlsServer]) -> None:
    outcome = scan(tls_server(TlsConfig(min_version=ssl.TLSVersion.TLSv1)))
    assert outcome.details["protocols"]["TLS 1.0"] and outcome.details["protocols"]["TLS 1.1"]
    assert outcome.details["subscores"]["protocol"] == (100 + 90) / 2
    assert caps(outcome) == [("B", "tls10-11")]
    assert "TLS 1.0 and TLS 1.1 offered" in outcome.details["caps"][0]["reason"]
    assert outcome.grade == "B"


def test_tls_1_2_only_with_aead_and_forward_secrecy_is_a_plus(tls_server: Callable[..., TlsServer]) -> None:
    """The guide has no cap for a missing TLS 1.3: it is a note."""
    outcome = scan(tls_server(TlsConfig(max_version=ssl.TLSVersion.TLSv1_2)))
    assert caps(outcome) == [] and outcome.grade == "A+"
    assert outcome.details["notes"] == ["TLS 1.3 is not supported (no grade effect in the guide)"]


def test_tls_1_3_only_is_a_plus(tls_server: Callable[..., TlsServer]) -> None:
    """The 'no TLS 1.2' cap is for servers stuck on old protocols, not for one that only speaks the newest."""
    outcome = scan(tls_server(TlsConfig(min_version=ssl.TLSVersion.TLSv1_3)))
    assert [name for name, offered in outcome.details["protocols"].items() if offered] == ["TLS 1.3"]
    assert caps(outcome) == [] and outcome.grade == "A+"


def test_no_forward_secrecy_caps_at_b(tls_server: Callable[..., TlsServer]) -> None:
    config = TlsConfig(max_version=ssl.TLSVersion.TLSv1_2, ciphers="AES128-GCM-SHA256:AES256-GCM-SHA384")
    outcome = scan(tls_server(config))
    assert all(suite["kx"] is None for suite in outcome.details["cipher_suites"]["TLS 1.2"])
    assert caps(outcome) == [("B", "no-fs")] and outcome.grade == "B"


def test_no_aead_suite_caps_at_b(tls_server: Callable[..., TlsServer]) -> None:
    config = TlsConfig(max_version=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384")
    outcome = scan(tls_server(config))
    assert caps(outcome) == [("B", "no-aead")] and outcome.grade == "B"


def test_old_protocols_only_cap_at_c_but_ecdhe_is_forward_secret(tls_server: Callable[..., TlsServer]) -> None:
    config = TlsConfig(min_version=ssl.TLSVersion.TLSv1, max_version=ssl.TLSVersion.TLSv1_1, ciphers="ECDHE-RSA-AES128-SHA")
    outcome = scan(tls_server(config))
    assert caps(outcome) == [("C", "no-tls12"), ("B", "tls10-11"), ("B", "no-aead")]
    assert outcome.grade == "C"


def test_a_null_cipher_suite_is_f(tls_server: Callable[..., TlsServer]) -> None:
    config = TlsConfig(max_version=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-RSA-AES128-GCM-SHA256:NULL-SHA256")
    outcome = scan(tls_server(config))
    assert any(suite["bits"] == 0 for suite in outcome.details["cipher_suites"]["TLS 1.2"])
    assert ("F", "weak-cipher") in caps(outcome) and outcome.grade == "F"


def test_1024_bit_dh_parameters_cap_at_b(tls_server: Callable[..., TlsServer], dh_1024: Path) -> None:
    config = TlsConfig(max_version=ssl.TLSVersion.TLSv1_2, ciphers="DHE-RSA-AES128-GCM-SHA256", dh_params=dh_1024)
    outcome = scan(tls_server(config))
    assert {s["kx"]["size"] for s in outcome.details["cipher_suites"]["TLS 1.2"]} == {1024}
    assert outcome.details["subscores"]["key_exchange"] == 80
    assert caps(outcome) == [("B", "dh-weak")] and outcome.grade == "B"


def test_anonymous_suites_are_f(tls_server: Callable[..., TlsServer], dh_1024: Path) -> None:
    config = TlsConfig(
        max_version=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-RSA-AES128-GCM-SHA256:ADH-AES128-GCM-SHA256", dh_params=dh_1024
    )
    outcome = scan(tls_server(config))
    assert outcome.details["subscores"]["key_exchange"] == 0
    assert ("F", "anonymous") in caps(outcome) and outcome.grade == "F"


def test_1024_bit_key_caps_at_b(tls_server: Callable[..., TlsServer]) -> None:
    outcome = scan(tls_server(key_bits=1024))
    assert outcome.details["subscores"]["key_exchange"] == 80
    assert outcome.details["subscores"]["total"] == 0.3 * 100 + 0.3 * 80 + 0.4 * 90  # 90: an A before the cap
    assert caps(outcome) == [("B", "key-weak")]
    assert outcome.details["caps"][0]["reason"].startswith("RSA 1024 bits:")
    assert outcome.grade == "B"


@pytest.mark.parametrize(
    "certificate, reason",
    [({"self_signed": True}, "certificate self-signed"), ({"expired": True}, "certificate expired")],
)
def test_trust_problems_are_t(tls_server: Callable[..., TlsServer], certificate: dict[str, bool], reason: str) -> None:
    outcome = scan(tls_server(**certificate))
    assert outcome.grade == "T" and outcome.details["grade_if_trusted"] == "A+"
    assert caps(outcome) == [("T", "cert-trust")] and outcome.details["caps"][0]["reason"].startswith(reason)
    assert outcome.details["certificate"]["trusted"] is False


def test_name_mismatch_is_m(tls_server: Callable[..., TlsServer]) -> None:
    outcome = scan(tls_server(names=("www.example.com",)))
    assert outcome.details["certificate"]["trusted"] is True and outcome.details["certificate"]["hostname_matches"] is False
    assert outcome.grade == "M" and caps(outcome) == [("M", "cert-name")]


def test_plain_http_is_skipped_with_the_reason() -> None:
    outcome = tls.analyze("http://127.0.0.1:9/")
    assert outcome.status == "skipped" and "plain HTTP" in outcome.summary


def test_scan_command_prints_the_json(tls_server: Callable[..., TlsServer], trusted_ca: Any) -> None:
    server = tls_server()
    env = {**os.environ, "TLS_EXTRA_CA_FILE": str(trusted_ca.cert_path)}
    done = subprocess.run(
        [sys.executable, "manage.py", "scan", "tls", server.url, "--json"], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    result = orjson.loads(done.stdout)
    assert (result["status"], result["grade"]) == ("ok", "A+")
    assert {"protocols", "certificate", "subscores", "caps", "mozilla"} <= set(result)
