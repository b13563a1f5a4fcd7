"""k6's own Prometheus remote-write output, for teams that watch load tests beside their services.

Off unless PROMETHEUS_RW_URL is set. k6 then also sends every metric of every run there, each series
labelled `k6intel_run=<run id>` (a test-wide k6 tag), trends as p50/p90/p95/p99/min/max/avg gauges
every PROMETHEUS_RW_PUSH_INTERVAL_S, and marks its series stale when the run ends. The endpoint is the
administrator's: the kernel's egress rules for k6 let k6 reach that one address and port
(runs/engine/egress.py), while a script's own requests to it stay refused by k6's --blacklist-ip
whenever the address is a blocked one.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

TREND_STATS = "p(50),p(90),p(95),p(99),min,max,avg"
RUN_LABEL = "k6intel_run"
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def enabled() -> bool:
    return bool(settings.PROMETHEUS_RW_URL)


def output_arguments(run_id: str) -> list[str]:
    """`k6 run`'s flags for the output, or none when it is off."""
    if not enabled() or not run_id:
        return []
    return ["--out", "experimental-prometheus-rw", "--tag", f"{RUN_LABEL}={run_id}"]


def output_environment() -> dict[str, str]:
    if not enabled():
        return {}
    return {
        "K6_PROMETHEUS_RW_SERVER_URL": settings.PROMETHEUS_RW_URL,
        "K6_PROMETHEUS_RW_TREND_STATS": TREND_STATS,
        "K6_PROMETHEUS_RW_PUSH_INTERVAL": f"{settings.PROMETHEUS_RW_PUSH_INTERVAL_S}s",
        "K6_PROMETHEUS_RW_STALE_MARKERS": "true",
    }


def endpoint_addresses() -> list[tuple[Address, int]]:
    """Where the endpoint resolves, with its port: what k6 alone may reach past the egress rules. None when off
    or when the name does not resolve now (k6 then fails to push and says so in its log)."""
    if not enabled():
        return []
    parts = urlsplit(settings.PROMETHEUS_RW_URL)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname or "", port, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return []
    return sorted({(ipaddress.ip_address(str(info[4][0]).split("%")[0]), port) for info in infos}, key=str)
