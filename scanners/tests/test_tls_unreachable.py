"""A TLS scan of a port where nothing listens fails with sslyze's reason instead of crashing the analyzer."""

from __future__ import annotations

import socket

from scanners import tls


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_is_reported_with_its_reason() -> None:
    port = closed_port()
    outcome = tls.analyze(f"https://127.0.0.1:{port}/")
    assert outcome.status == "error"
    assert outcome.summary == (
        f'Could not connect over TLS to 127.0.0.1:{port}: ServerRejectedConnection: 127.0.0.1:{port} -> "Server rejected the connection".'
    )
