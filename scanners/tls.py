"""SSL/TLS analysis with sslyze, rated the way the SSL Labs server rating guide rates.

Score = 30 % protocol + 30 % key exchange + 40 % cipher strength, each the
guide's sub-score; the letter comes from the score (A ≥ 80, B ≥ 65, C ≥ 50,
D ≥ 35, E ≥ 20, else F) and is then capped by every rule that applies (each
cap is listed with its reason). Trust problems give T, a name mismatch M.
A+ needs an A with no warnings and HSTS of at least 180 days.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.verification import DNSName, IPAddress
from django.conf import settings
from sslyze import (
    CertificateInfoExtraArgument,
    ScanCommand,
    ScanCommandAttemptStatusEnum,
    ScanCommandsExtraArguments,
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanResult,
    ServerScanStatusEnum,
)
from sslyze.mozilla_tls_profile.tls_config_checker import (
    MozillaTlsConfiguration,
    ServerNotCompliantWithTlsConfiguration,
    ServerScanResultIncomplete,
    TlsConfigurationEnum,
    check_server_against_tls_configuration,
)
from sslyze.plugins.robot.implementation import RobotScanResultEnum

from runs.engine.targets import TargetRejected, resolve_allowed
from scanners.outcome import Outcome, failed, skipped

# sslyze's bundled trust stores hold an old root with a negative serial number.
warnings.filterwarnings("ignore", message="Parsed a negative serial number", category=CryptographyDeprecationWarning)

HSTS_A_PLUS_S = 15_552_000  # 180 days
LETTERS = ("A+", "A", "A-", "B", "C", "D", "E", "F")
PROTOCOLS = (
    ("SSL 2.0", "ssl_2_0_cipher_suites", 0),
    ("SSL 3.0", "ssl_3_0_cipher_suites", 80),
    ("TLS 1.0", "tls_1_0_cipher_suites", 90),
    ("TLS 1.1", "tls_1_1_cipher_suites", 95),
    ("TLS 1.2", "tls_1_2_cipher_suites", 100),
    ("TLS 1.3", "tls_1_3_cipher_suites", 100),
)
SCAN_COMMANDS = {
    ScanCommand.CERTIFICATE_INFO,
    ScanCommand.SSL_2_0_CIPHER_SUITES,
    ScanCommand.SSL_3_0_CIPHER_SUITES,
    ScanCommand.TLS_1_0_CIPHER_SUITES,
    ScanCommand.TLS_1_1_CIPHER_SUITES,
    ScanCommand.TLS_1_2_CIPHER_SUITES,
    ScanCommand.TLS_1_3_CIPHER_SUITES,
    ScanCommand.TLS_COMPRESSION,
    ScanCommand.TLS_FALLBACK_SCSV,
    ScanCommand.HEARTBLEED,
    ScanCommand.OPENSSL_CCS_INJECTION,
    ScanCommand.ROBOT,
    ScanCommand.SESSION_RENEGOTIATION,
    ScanCommand.HTTP_HEADERS,
    ScanCommand.ELLIPTIC_CURVES,
    ScanCommand.TLS_EXTENDED_MASTER_SECRET,  # needed by the Mozilla profile check
}
# RSA-equivalent strength of elliptic-curve keys (NIST SP 800-57).
EC_RSA_EQUIVALENT = {253: 3072, 255: 3072, 256: 3072, 384: 7680, 448: 7680, 521: 15360}


@dataclass
class Rating:
    subscores: dict[str, float]
    caps: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # shown, never graded


def analyze(url: str, output_dir: Path | None = None) -> Outcome:
    parts = urlsplit(url)
    if parts.scheme != "https":
        return skipped("The target is plain HTTP: there is no TLS to analyze. Test an https:// URL for a TLS grade.")
    try:
        address = resolve_allowed(parts.hostname or "", parts.port or 443)
    except TargetRejected as exc:
        return skipped(f"Not scanned: {exc}")
    started = time.monotonic()
    result = _scan(parts.hostname or "", parts.port or 443, str(address))
    if result.scan_status != ServerScanStatusEnum.COMPLETED:
        trace = result.connectivity_error_trace
        reason = f"{trace.exc_type.__name__}: {trace}" if trace else "no reason given"
        return failed(f"Could not connect over TLS to {parts.hostname}:{parts.port or 443}: {reason}")
    return _outcome(result, parts.hostname or "", time.monotonic() - started)


def _scan(hostname: str, port: int, ip_address: str) -> ServerScanResult:
    """sslyze connects to the address the policy checked, not to whatever the name resolves to later."""
    extra = ScanCommandsExtraArguments()
    if settings.TLS_EXTRA_CA_FILE:
        extra = ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=Path(settings.TLS_EXTRA_CA_FILE))
        )
    request = ServerScanRequest(
        server_location=ServerNetworkLocation(hostname=hostname, port=port, ip_address=ip_address),
        network_configuration=ServerNetworkConfiguration(
            tls_server_name_indication=hostname, network_timeout=5, network_max_retries=1
        ),
        scan_commands=SCAN_COMMANDS,
        scan_commands_extra_arguments=extra,
    )
    scanner = Scanner()
    scanner.queue_scans([request])
    return next(iter(scanner.get_results()))


def _outcome(result: ServerScanResult, hostname: str, duration_s: float) -> Outcome:
    scan = result.scan_result
    assert scan is not None
    protocols = _protocols(scan)
    certificate = _certificate(scan, hostname)
    vulnerabilities = _vulnerabilities(scan)
    hsts = _hsts(scan)
    rating = rate(protocols, certificate, vulnerabilities, hsts)
    grade, grade_if_trusted = letter(rating, certificate)
    details = {
        "host": hostname,
        "port": result.server_location.port,
        "protocols": {name: bool(suites) for name, suites in protocols.items()},
        "cipher_suites": {name: suites for name, suites in protocols.items() if suites},
        "key_exchange": _key_exchange_summary(protocols),
        "certificate": certificate,
        "vulnerabilities": vulnerabilities,
        "hsts": hsts,
        "subscores": rating.subscores,
        "caps": rating.caps,
        "warnings": rating.warnings,
        "notes": rating.notes,
        "grade_if_trusted": grade_if_trusted,
        "mozilla": _mozilla(result),
        "duration_s": round(duration_s, 3),
    }
    summary = f"{grade} (score {rating.subscores['total']:.0f})" + (
        f"; capped: {'; '.join(c['reason'] for c in rating.caps)}" if rating.caps else ""
    )
    return Outcome(status="ok", grade=grade, score=rating.subscores["total"], summary=summary, details=details)


# --- collecting ---------------------------------------------------------------------


def _attempt(scan: Any, name: str) -> Any:
    attempt = getattr(scan, name)
    return attempt.result if attempt.status == ScanCommandAttemptStatusEnum.COMPLETED else None


def _protocols(scan: Any) -> dict[str, list[dict[str, Any]]]:
    protocols = {}
    for name, attribute, _ in PROTOCOLS:
        result = _attempt(scan, attribute)
        protocols[name] = [_suite(accepted) for accepted in result.accepted_cipher_suites] if result else []
    return protocols


def _suite(accepted: Any) -> dict[str, Any]:
    key = accepted.ephemeral_key
    name = accepted.cipher_suite.name
    return {
        "name": name,
        "bits": accepted.cipher_suite.key_size,
        "anonymous": accepted.cipher_suite.is_anonymous,
        "kx": None if key is None else {"type": key.type_name, "size": key.size, "curve": getattr(key, "curve_name", None)},
        # sslyze's client refuses a DH group under 1024 bits ("dh key too small") yet counts the suite as
        # accepted, without its key: such a group is the insecure one.
        "dh_rejected": key is None and "_DHE_" in name,
    }


def _certificate(scan: Any, hostname: str) -> dict[str, Any]:
    info = _attempt(scan, "certificate_info")
    if info is None or not info.certificate_deployments:
        return {"available": False}
    deployment = info.certificate_deployments[0]
    chain = deployment.received_certificate_chain
    leaf = chain[0]
    key_type, key_bits = _key(leaf.public_key())
    now = dt.datetime.now(dt.UTC)
    stores = [result.trust_store for result in deployment.path_validation_results]
    return {
        "available": True,
        "subject": leaf.subject.rfc4514_string(),
        "issuer": leaf.issuer.rfc4514_string(),
        "san": _san(leaf),
        "not_before": leaf.not_valid_before_utc.isoformat(),
        "not_after": leaf.not_valid_after_utc.isoformat(),
        "days_left": (leaf.not_valid_after_utc - now).days,
        "expired": leaf.not_valid_after_utc < now,
        "not_yet_valid": leaf.not_valid_before_utc > now,
        "self_signed": leaf.issuer == leaf.subject,
        "key_type": key_type,
        "key_bits": key_bits,
        "key_rsa_equivalent_bits": _rsa_equivalent(key_type, key_bits),
        "signature_algorithm": _signature(leaf),
        "trusted": _trusted(chain, stores),
        "trust_stores": sorted({store.name for store in stores}),
        "hostname_matches": _hostname_matches(leaf, hostname),
        "chain_length": len(chain),
        "sha1_in_chain": bool(deployment.verified_chain_has_sha1_signature),
    }


def _key(public_key: Any) -> tuple[str, int]:
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA", public_key.key_size
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "EC", public_key.key_size
    if isinstance(public_key, dsa.DSAPublicKey):
        return "DSA", public_key.key_size
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "Ed448", 448
    return type(public_key).__name__, 0


def _rsa_equivalent(key_type: str, bits: int) -> int:
    if key_type in ("EC", "Ed25519", "Ed448", "ECDH", "X25519", "X448"):
        return EC_RSA_EQUIVALENT.get(bits, bits * 12)
    return bits


def _san(certificate: x509.Certificate) -> list[str]:
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*names.get_values_for_type(x509.DNSName), *(str(ip) for ip in names.get_values_for_type(x509.IPAddress))]


def _signature(certificate: x509.Certificate) -> str:
    return certificate.signature_algorithm_oid._name  # e.g. sha256WithRSAEncryption


def _trusted(chain: list[x509.Certificate], stores: list[Any]) -> bool:
    """Chain trust on its own: validated for a name the leaf carries, so a name mismatch is judged separately."""
    pems = [c.public_bytes(serialization.Encoding.PEM).decode() for c in chain]
    subject = _own_subject(chain[0])
    if subject is None:
        return False
    return any(store.verify_certificate_chain(pems, subject).was_validation_successful for store in stores)


def _own_subject(certificate: x509.Certificate) -> DNSName | IPAddress | None:
    for name in _san(certificate):
        try:
            return IPAddress(ipaddress.ip_address(name))
        except ValueError:
            if "*" not in name:
                return DNSName(name)
    return None


def _hostname_matches(certificate: x509.Certificate, hostname: str) -> bool:
    hostname = hostname.lower().rstrip(".")
    for name in _san(certificate):
        name = name.lower()
        if name == hostname or (name.startswith("*.") and hostname.partition(".")[2] == name[2:] and "." in name[2:]):
            return True
    return False


def _vulnerabilities(scan: Any) -> dict[str, Any]:
    heartbleed = _attempt(scan, "heartbleed")
    ccs = _attempt(scan, "openssl_ccs_injection")
    robot = _attempt(scan, "robot")
    renegotiation = _attempt(scan, "session_renegotiation")
    compression = _attempt(scan, "tls_compression")
    fallback = _attempt(scan, "tls_fallback_scsv")
    return {
        "heartbleed": heartbleed.is_vulnerable_to_heartbleed if heartbleed else None,
        "ccs_injection": ccs.is_vulnerable_to_ccs_injection if ccs else None,
        "robot": robot.robot_result.name if robot else None,
        "robot_vulnerable": bool(robot)
        and robot.robot_result in (RobotScanResultEnum.VULNERABLE_WEAK_ORACLE, RobotScanResultEnum.VULNERABLE_STRONG_ORACLE),
        "secure_renegotiation": renegotiation.supports_secure_renegotiation if renegotiation else None,
        "client_renegotiation_dos": renegotiation.is_vulnerable_to_client_renegotiation_dos if renegotiation else None,
        "compression": compression.supports_compression if compression else None,
        "fallback_scsv": fallback.supports_fallback_scsv if fallback else None,
    }


def _hsts(scan: Any) -> dict[str, Any]:
    headers = _attempt(scan, "http_headers")
    header = headers.strict_transport_security_header if headers else None
    if header is None:
        return {"present": False, "max_age_s": None, "include_subdomains": False, "preload": False}
    return {
        "present": True,
        "max_age_s": header.max_age,
        "include_subdomains": header.include_subdomains,
        "preload": header.preload,
    }


def _key_exchange_summary(protocols: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    seen = {(s["kx"]["type"], s["kx"]["size"], s["kx"]["curve"]) for suites in protocols.values() for s in suites if s["kx"]}
    return [{"type": t, "size": size, "curve": curve} for t, size, curve in sorted(seen, key=str)]


def _mozilla(result: ServerScanResult) -> dict[str, Any]:
    compliance = {}
    for profile in (
        TlsConfigurationEnum.MOZILLA_MODERN,
        TlsConfigurationEnum.MOZILLA_INTERMEDIATE,
        TlsConfigurationEnum.MOZILLA_OLD,
    ):
        try:
            check_server_against_tls_configuration(result, MozillaTlsConfiguration.get(profile))
            compliance[profile.value] = {"compliant": True, "issues": []}
        except ServerNotCompliantWithTlsConfiguration as exc:
            compliance[profile.value] = {"compliant": False, "issues": [f"{key}: {value}" for key, value in exc.issues.items()]}
        except ServerScanResultIncomplete as exc:
            compliance[profile.value] = {"compliant": None, "issues": [str(exc)]}
    return compliance


# --- rating -------------------------------------------------------------------------

# The guide's rules beyond the score: each caps the grade; the year is the SSL Labs release that
# introduced it. TLS_RATING_RULES.md maps each rule to its source, its code and its test.
RULES: dict[str, tuple[str, str]] = {
    "ssl2": ("F", "SSL 2.0 is offered (SSL Labs 2013)"),
    "ssl3": ("B", "SSL 3.0 is offered (SSL Labs 2014)"),
    "ssl3-poodle": ("C", "SSL 3.0 is offered with CBC suites: POODLE (SSL Labs 2014)"),
    "no-tls12": ("C", "neither TLS 1.2 nor TLS 1.3 is supported (SSL Labs 2015)"),
    "tls10-11": ("B", "offered (SSL Labs 2020)"),
    "no-fs": ("B", "no forward secrecy: no ECDHE or DHE key exchange (SSL Labs 2018)"),
    "no-aead": ("B", "no AEAD cipher suite (GCM, ChaCha20-Poly1305, CCM) (SSL Labs 2018)"),
    "weak-cipher": ("F", "cipher suites weaker than 112 bits or without encryption are accepted (SSL Labs 2009)"),
    "export": ("F", "export cipher suites are accepted: FREAK (SSL Labs 2015)"),
    "anonymous": ("F", "anonymous (unauthenticated) cipher suites are accepted (SSL Labs 2009)"),
    "rc4": ("B", "RC4 cipher suites are accepted (SSL Labs 2015)"),
    "rc4-modern": ("C", "RC4 is used with TLS 1.1 or newer (SSL Labs 2015)"),
    "3des-modern": ("C", "3DES is used with TLS 1.1 or newer: Sweet32 (SSL Labs 2017)"),
    "key-insecure": ("F", "the certificate key is shorter than 1024 bits (SSL Labs 2014)"),
    "key-weak": ("B", "the certificate key is shorter than 2048 bits (SSL Labs 2014)"),
    "dh-insecure": ("F", "Diffie-Hellman parameters shorter than 1024 bits: Logjam (SSL Labs 2015)"),
    "dh-weak": ("B", "Diffie-Hellman parameters shorter than 2048 bits: Logjam (SSL Labs 2015)"),
    "md5": ("F", "the certificate is signed with MD5 or MD2 (SSL Labs 2014)"),
    "heartbleed": ("F", "vulnerable to Heartbleed (SSL Labs 2014)"),
    "ccs": ("F", "vulnerable to OpenSSL CCS injection (SSL Labs 2014)"),
    "robot": ("F", "vulnerable to ROBOT (SSL Labs 2018)"),
    "crime": ("C", "TLS compression is enabled: CRIME (SSL Labs 2013)"),
    "insecure-renegotiation": ("F", "insecure client-initiated renegotiation is accepted (SSL Labs 2013)"),
    "no-secure-renegotiation": ("C", "secure renegotiation (RFC 5746) is not supported (SSL Labs 2014)"),
    "cert-trust": ("T", "certificate not trusted (SSL Labs 2009)"),
    "cert-name": ("M", "certificate name does not match the host (SSL Labs 2009)"),
}
AEAD_MARKS = ("_GCM_", "CHACHA20", "_CCM")
UNDER_1024_BITS = 512  # a DH group known only to be under 1024 bits: scored as the guide's 512-bit row


def rate(
    protocols: dict[str, list[dict[str, Any]]], certificate: dict[str, Any], vulns: dict[str, Any], hsts: dict[str, Any]
) -> Rating:
    suites = [{**suite, "protocol": name} for name, offered in protocols.items() for suite in offered]
    offered = [name for name, found in protocols.items() if found]
    protocol_score = _protocol_score(offered)
    kx_score = _key_exchange_score(suites, certificate)
    cipher_score = _cipher_score(suites)
    total = round(0.3 * protocol_score + 0.3 * kx_score + 0.4 * cipher_score, 1)
    rating = Rating({"protocol": protocol_score, "key_exchange": kx_score, "cipher": cipher_score, "total": total})
    _protocol_caps(rating, offered, suites)
    _cipher_caps(rating, protocols, suites)
    _key_caps(rating, suites, certificate)
    _vulnerability_caps(rating, vulns)
    _warnings(rating, offered, certificate, vulns, hsts)
    return rating


def _protocol_score(offered: list[str]) -> float:
    scores = [score for name, _, score in PROTOCOLS if name in offered]
    return (max(scores) + min(scores)) / 2 if scores else 0.0


def _strength_score(bits: int) -> float:
    """The guide's key-exchange table, on RSA-equivalent bits."""
    for floor, score in ((4096, 100), (2048, 90), (1024, 80), (512, 40), (1, 20)):
        if bits >= floor:
            return score
    return 0.0


def _key_exchange_score(suites: list[dict[str, Any]], certificate: dict[str, Any]) -> float:
    strengths = [certificate.get("key_rsa_equivalent_bits", 0) or 0]
    for suite in suites:
        if suite["anonymous"]:
            strengths.append(0)
        elif suite.get("dh_rejected"):
            strengths.append(UNDER_1024_BITS)
        elif suite["kx"]:
            kx = suite["kx"]
            strengths.append(
                _rsa_equivalent("EC" if kx["curve"] or kx["type"] in ("ECDH", "X25519", "X448") else "DH", kx["size"])
            )
    return _strength_score(min(strengths)) if suites else 0.0


def _cipher_score(suites: list[dict[str, Any]]) -> float:
    def score(bits: int) -> float:
        return 100.0 if bits >= 256 else 80.0 if bits >= 128 else 20.0 if bits > 0 else 0.0

    scores = [score(suite["bits"]) for suite in suites]
    return (max(scores) + min(scores)) / 2 if scores else 0.0


def _apply(rating: Rating, rule: str, detail: str = "") -> None:
    grade, reason = RULES[rule]
    rating.caps.append({"grade": grade, "rule": rule, "reason": f"{detail} {reason}" if detail else reason})


def _protocol_caps(rating: Rating, offered: list[str], suites: list[dict[str, Any]]) -> None:
    if "SSL 2.0" in offered:
        _apply(rating, "ssl2")
    if "SSL 3.0" in offered:
        _apply(rating, "ssl3-poodle" if any("_CBC_" in s["name"] for s in protocols_ssl3(suites)) else "ssl3")
    if offered and "TLS 1.2" not in offered and "TLS 1.3" not in offered:
        _apply(rating, "no-tls12")  # a server stuck on old protocols; TLS 1.3 alone is the best there is
    if old := [name for name in ("TLS 1.0", "TLS 1.1") if name in offered]:
        _apply(rating, "tls10-11", " and ".join(old))
    if suites and "TLS 1.3" not in offered and not any(_forward_secret(suite) for suite in suites):
        _apply(rating, "no-fs")
    if suites and "TLS 1.3" not in offered and not any(_aead(suite) for suite in suites):
        _apply(rating, "no-aead")


def _forward_secret(suite: dict[str, Any]) -> bool:
    """An ephemeral (EC)DHE key exchange, whatever the protocol, judged by the suite's name (sslyze reports
    no key for a DH group its client refused)."""
    return not suite["anonymous"] and any(mark in suite["name"] for mark in ("_ECDHE_", "_DHE_"))


def protocols_ssl3(suites: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The suites offered with SSL 3.0 (tagged when the rating was asked for them)."""
    return [suite for suite in suites if suite.get("protocol") == "SSL 3.0"]


def _aead(suite: dict[str, Any]) -> bool:
    return any(mark in suite["name"] for mark in AEAD_MARKS) or suite["name"].startswith("TLS_AES_")


def _cipher_caps(rating: Rating, protocols: dict[str, list[dict[str, Any]]], suites: list[dict[str, Any]]) -> None:
    if any("EXPORT" in s["name"] for s in suites):
        _apply(rating, "export")
    if any(s["bits"] < 112 or "_NULL_" in s["name"] for s in suites):
        _apply(rating, "weak-cipher")
    if any(s["anonymous"] for s in suites):
        _apply(rating, "anonymous")
    modern = [s for name in ("TLS 1.1", "TLS 1.2") for s in protocols.get(name, [])]
    if any("RC4" in s["name"] for s in modern):
        _apply(rating, "rc4-modern")
    elif any("RC4" in s["name"] for s in suites):
        _apply(rating, "rc4")
    if any("3DES" in s["name"] for s in modern):
        _apply(rating, "3des-modern")


def _key_caps(rating: Rating, suites: list[dict[str, Any]], certificate: dict[str, Any]) -> None:
    key_bits = certificate.get("key_rsa_equivalent_bits", 0) or 0
    key = f"{certificate.get('key_type')} {certificate.get('key_bits')} bits:"
    if certificate.get("available") and key_bits < 1024:
        _apply(rating, "key-insecure", key)
    elif certificate.get("available") and key_bits < 2048:
        _apply(rating, "key-weak", key)
    if certificate.get("available") and certificate.get("signature_algorithm", "").lower().startswith(("md5", "md2")):
        _apply(rating, "md5")
    dh_bits = [s["kx"]["size"] for s in suites if s["kx"] and not s["kx"]["curve"] and s["kx"]["type"] == "DH"]
    dh_bits += [UNDER_1024_BITS for s in suites if s.get("dh_rejected")]
    if dh_bits and min(dh_bits) < 1024:
        size = "a DH group the scanner refused as too small" if min(dh_bits) == UNDER_1024_BITS else f"{min(dh_bits)}-bit DH"
        _apply(rating, "dh-insecure", f"{size}:")
    elif dh_bits and min(dh_bits) < 2048:
        _apply(rating, "dh-weak", f"{min(dh_bits)}-bit DH:")


def _vulnerability_caps(rating: Rating, vulns: dict[str, Any]) -> None:
    for rule, found in (
        ("heartbleed", vulns["heartbleed"]),
        ("ccs", vulns["ccs_injection"]),
        ("robot", vulns["robot_vulnerable"]),
        ("crime", vulns["compression"]),
    ):
        if found:
            _apply(rating, rule)
    if vulns["secure_renegotiation"] is False:
        _apply(rating, "insecure-renegotiation" if vulns["client_renegotiation_dos"] else "no-secure-renegotiation")


def _warnings(
    rating: Rating, offered: list[str], certificate: dict[str, Any], vulns: dict[str, Any], hsts: dict[str, Any]
) -> None:
    """What keeps an A from an A+ (the guide: an A with no warnings and a long HSTS max-age)."""
    if vulns["fallback_scsv"] is False and len(offered) > 1:
        rating.warnings.append("TLS_FALLBACK_SCSV is not supported (downgrade protection)")
    if vulns["client_renegotiation_dos"]:
        rating.warnings.append("client-initiated renegotiation is allowed (DoS risk)")
    if certificate.get("sha1_in_chain"):
        rating.warnings.append("the certificate chain uses SHA-1 signatures")
    if not hsts["present"]:
        rating.warnings.append("no Strict-Transport-Security header")
    elif (hsts["max_age_s"] or 0) < HSTS_A_PLUS_S:
        rating.warnings.append(f"HSTS max-age {hsts['max_age_s']} s is under 180 days")
    if offered and "TLS 1.3" not in offered:
        rating.notes.append("TLS 1.3 is not supported (no grade effect in the guide)")


def letter(rating: Rating, certificate: dict[str, Any]) -> tuple[str, str]:
    """(the grade shown, the grade the configuration earns if its certificate were fine)."""
    total = rating.subscores["total"]
    grade = next(g for floor, g in ((80, "A"), (65, "B"), (50, "C"), (35, "D"), (20, "E"), (0, "F")) if total >= floor)
    for cap in rating.caps:
        if LETTERS.index(cap["grade"]) > LETTERS.index(grade):
            grade = cap["grade"]
    if grade == "A" and not rating.warnings:
        grade = "A+"
    earned = grade
    if not certificate.get("available"):
        return earned, earned
    if not certificate["trusted"] or certificate["expired"] or certificate["not_yet_valid"]:
        why = "expired" if certificate["expired"] else "self-signed" if certificate["self_signed"] else "not trusted"
        rating.caps.append({"grade": "T", "rule": "cert-trust", "reason": f"certificate {why} (SSL Labs 2009)"})
        return "T", earned
    if not certificate["hostname_matches"]:
        _apply(rating, "cert-name")
        return "M", earned
    return earned, earned
