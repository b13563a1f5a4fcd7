"""The guide's rules that Debian's OpenSSL cannot serve any more (SSL 2/3, RC4, 3DES, export suites, the
old vulnerabilities): the rating applied to scan results of the shape sslyze returns. Every rule that a
local server can show is tested against one in test_tls_grades.py; TLS_RATING_RULES.md maps them all."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from scanners import tls

ROOT = Path(__file__).resolve().parents[2]
ECDHE = {"type": "ECDH", "size": 253, "curve": "X25519"}
GOOD = {"name": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "bits": 128, "anonymous": False, "kx": ECDHE}
CERTIFICATE = {
    "available": True, "key_type": "RSA", "key_bits": 2048, "key_rsa_equivalent_bits": 2048,
    "signature_algorithm": "sha256WithRSAEncryption", "trusted": True, "expired": False, "not_yet_valid": False,
    "self_signed": False, "hostname_matches": True, "sha1_in_chain": False,
}  # fmt: skip
SAFE = {
    "heartbleed": False, "ccs_injection": False, "robot_vulnerable": False, "compression": False,
    "secure_renegotiation": True, "client_renegotiation_dos": False, "fallback_scsv": True,
}  # fmt: skip
HSTS = {"present": True, "max_age_s": 31_536_000, "include_subdomains": False, "preload": False}


def suite(name: str, bits: int = 128, kx: dict[str, Any] | None = ECDHE) -> dict[str, Any]:
    return {"name": name, "bits": bits, "anonymous": False, "kx": kx}


def graded(
    protocols: dict[str, list[dict[str, Any]]], certificate: dict[str, Any] = CERTIFICATE, **vulns: Any
) -> tuple[str, list[str]]:
    offered: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in tls.PROTOCOLS} | protocols
    rating = tls.rate(offered, certificate, {**SAFE, **vulns}, HSTS)
    return tls.letter(rating, certificate)[0], [cap["rule"] for cap in rating.caps]


def test_a_modern_configuration_is_a_plus() -> None:
    assert graded({"TLS 1.2": [GOOD]}) == ("A+", [])


@pytest.mark.parametrize(
    "protocols, grade, rules",
    [
        ({"SSL 2.0": [suite("SSL_CK_RC4_128_WITH_MD5")], "TLS 1.2": [GOOD]}, "F", ["ssl2", "rc4"]),
        ({"SSL 3.0": [suite("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")], "TLS 1.2": [GOOD]}, "C", ["ssl3-poodle"]),
        ({"SSL 3.0": [suite("TLS_RSA_WITH_RC4_128_SHA", kx=None)], "TLS 1.2": [GOOD]}, "B", ["ssl3", "rc4"]),
        # sslyze refuses a DH group under 1024 bits and reports the suite accepted without its key.
        ({"TLS 1.2": [{**suite("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", kx=None), "dh_rejected": True}]}, "F", ["dh-insecure"]),
        ({"TLS 1.2": [GOOD, suite("TLS_RSA_EXPORT_WITH_RC4_40_MD5", 40, None)]}, "F", ["export", "weak-cipher", "rc4-modern"]),
        ({"TLS 1.0": [suite("TLS_RSA_WITH_RC4_128_SHA", kx=None)], "TLS 1.2": [GOOD]}, "B", ["tls10-11", "rc4"]),
        ({"TLS 1.2": [GOOD, suite("TLS_RSA_WITH_RC4_128_SHA", kx=None)]}, "C", ["rc4-modern"]),
        ({"TLS 1.2": [GOOD, suite("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", 168)]}, "C", ["3des-modern"]),
        ({"TLS 1.2": [GOOD, suite("TLS_RSA_WITH_DES_CBC_SHA", 56, None)]}, "F", ["weak-cipher"]),
        (
            {"TLS 1.2": [GOOD, suite("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", kx={"type": "DH", "size": 768, "curve": None})]},
            "F",
            ["dh-insecure"],
        ),
    ],
)
def test_cipher_and_protocol_rules(protocols: dict[str, list[dict[str, Any]]], grade: str, rules: list[str]) -> None:
    assert graded(protocols) == (grade, rules)


@pytest.mark.parametrize(
    "certificate, grade, rules",
    [
        ({"key_bits": 768, "key_rsa_equivalent_bits": 768}, "F", ["key-insecure"]),
        ({"signature_algorithm": "md5WithRSAEncryption"}, "F", ["md5"]),
    ],
)
def test_certificate_rules(certificate: dict[str, Any], grade: str, rules: list[str]) -> None:
    assert graded({"TLS 1.2": [GOOD]}, {**CERTIFICATE, **certificate}) == (grade, rules)


@pytest.mark.parametrize(
    "vulns, grade, rules",
    [
        ({"heartbleed": True}, "F", ["heartbleed"]),
        ({"ccs_injection": True}, "F", ["ccs"]),
        ({"robot_vulnerable": True}, "F", ["robot"]),
        ({"compression": True}, "C", ["crime"]),
        ({"secure_renegotiation": False, "client_renegotiation_dos": True}, "F", ["insecure-renegotiation"]),
        ({"secure_renegotiation": False}, "C", ["no-secure-renegotiation"]),
    ],
)
def test_vulnerability_rules(vulns: dict[str, Any], grade: str, rules: list[str]) -> None:
    assert graded({"TLS 1.2": [GOOD]}, **vulns) == (grade, rules)


def test_every_rule_is_in_the_table_with_a_test_that_exists() -> None:
    table = (ROOT / "TLS_RATING_RULES.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \|.*\| `(scanners/tests/\S+::\w+)` \|$", table, re.M))
    assert set(rows) == set(tls.RULES), "a rule without a row, or a row without a rule"
    for rule, test in rows.items():
        path, name = test.split("::")
        assert f"def {name}(" in (ROOT / path).read_text(), f"{rule}: {test} does not exist"
