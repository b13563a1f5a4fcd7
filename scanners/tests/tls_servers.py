"""Test TLS servers on loopback with chosen protocols, ciphers and certificates, and the test CA behind them."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.UTC)


@dataclass
class Issued:
    cert_path: Path
    key_path: Path


class TestCA:
    """A private CA made for the tests; TLS_EXTRA_CA_FILE points at its certificate."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "k6intel test CA")])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.cert_path = directory / "ca.pem"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, label: str, *, key_bits: int = 2048, names: tuple[str, ...] = ("localhost", "127.0.0.1"),
              expired: bool = False, self_signed: bool = False) -> Issued:  # fmt: skip
        key = rsa.generate_private_key(public_exponent=65537, key_size=key_bits)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        not_after = NOW - dt.timedelta(days=2) if expired else NOW + dt.timedelta(days=90)
        san = [x509.IPAddress(ipaddress.ip_address(n)) if n[0].isdigit() else x509.DNSName(n) for n in names]
        issuer_name, signer = (subject, key) if self_signed else (self.cert.subject, self.key)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=30))
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
        if not self_signed:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        cert = builder.sign(signer, hashes.SHA256())
        issued = Issued(self.directory / f"{label}.pem", self.directory / f"{label}.key")
        issued.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        issued.key_path.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        return issued


@dataclass
class TlsConfig:
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    max_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3
    ciphers: str | None = None  # OpenSSL cipher string for TLS ≤ 1.2
    dh_params: Path | None = None  # PEM Diffie-Hellman parameters for DHE (and anonymous DH) suites
    headers: dict[str, str] = field(default_factory=lambda: {"Strict-Transport-Security": "max-age=31536000"})


class TlsServer:
    def __init__(self, issued: Issued, config: TlsConfig) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # Level 0 lets the test servers offer what real misconfigured servers offer (old TLS, small keys).
        context.set_ciphers((config.ciphers or "DEFAULT") + ":@SECLEVEL=0")
        context.minimum_version, context.maximum_version = config.min_version, config.max_version
        context.options |= ssl.OP_NO_RENEGOTIATION
        context.load_cert_chain(issued.cert_path, issued.key_path)
        if config.dh_params:
            context.load_dh_params(str(config.dh_params))
        headers = config.headers

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[ssl.SSLSocket, tuple[str, int]]:
                sock, address = self.socket.accept()
                return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # scanners send handshakes meant to fail

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
