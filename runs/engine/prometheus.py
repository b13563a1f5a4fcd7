"""k6's own Prometheus remote-write output, for teams that watch load tests beside their services.

Off unless PROMETHEUS_RW_URL is set, or a run names its own endpoint where PROMETHEUS_RW_PER_RUN allows it
(checked as a target is: the target policy decides where a run may send anything). k6 then also sends every
metric of the run there, each series labelled `k6intel_run=<run id>` (a test-wide k6 tag), trends as
p50/p90/p95/p99/min/max/avg gauges, every PROMETHEUS_RW_PUSH_INTERVAL_S, and marks its series stale when
the run ends. The server's endpoint is the administrator's: the kernel's egress rules for k6 let k6 reach
that one address and port (runs/engine/egress.py), while a script's own requests to it stay refused by
k6's --blacklist-ip whenever the address is a blocked one.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from runs.engine.targets import TargetRejected, check_target_url

TREND_STATS = "p(50),p(90),p(95),p(99),min,max,avg"
SEGMENT_LABEL = "k6intel_segment"
RUN_LABEL = "k6intel_run"
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def enabled() -> bool:
    return bool(settings.PROMETHEUS_RW_URL)


def endpoint_for(run_url: str = "") -> str:
    """Where a run's metrics go: its own endpoint when it named one, else the server's (empty: nowhere)."""
    return run_url or settings.PROMETHEUS_RW_URL


def run_url_problem(url: str) -> str | None:
    """Why a run may not send its metrics to `url`, or None."""
    if not settings.PROMETHEUS_RW_PER_RUN:
        return "This server does not let a run name its own metrics endpoint (PROMETHEUS_RW_PER_RUN is off)."
    parts = urlsplit(url)
    if parts.username or parts.password:
        return "Put no credentials in the metrics endpoint's URL: k6's environment is readable by the script."
    try:
        check_target_url(url)
    except TargetRejected as exc:
        return f"The metrics endpoint was refused: {exc}"
    return None


def output_arguments(run_id: str, run_url: str = "", segment: tuple[int, int] = (0, 1)) -> list[str]:
    """`k6 run`'s flags for the output, or none when it is off. The processes of a split run write series
    of their own (a `k6intel_segment` label): two writers of one series would reject each other's samples."""
    if not endpoint_for(run_url) or not run_id:
        return []
    index, count = segment
    split = ["--tag", f"{SEGMENT_LABEL}={index + 1}"] if count > 1 else []
    return ["--out", "experimental-prometheus-rw", "--tag", f"{RUN_LABEL}={run_id}", *split]


def output_environment(run_url: str = "") -> dict[str, str]:
    if not (url := endpoint_for(run_url)):
        return {}
    return {
        "K6_PROMETHEUS_RW_SERVER_URL": url,
        "K6_PROMETHEUS_RW_TREND_STATS": TREND_STATS,
        "K6_PROMETHEUS_RW_PUSH_INTERVAL": f"{settings.PROMETHEUS_RW_PUSH_INTERVAL_S}s",
        "K6_PROMETHEUS_RW_STALE_MARKERS": "true",
    }


def samples_environment(receiver_url: str) -> dict[str, str]:
    """k6's remote-write output aimed at the worker's own receiver (runs/engine/remotewrite): trends as native
    histograms, a push a second, no stale markers (the receiver knows when the run ends)."""
    return {
        "K6_PROMETHEUS_RW_SERVER_URL": receiver_url,
        "K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM": "true",
        "K6_PROMETHEUS_RW_PUSH_INTERVAL": "1s",
    }


def endpoint_addresses() -> list[tuple[Address, int]]:
    """Where the server's endpoint resolves, with its port: what k6 alone may reach past the egress rules. None
    when off or when the name does not resolve now (k6 then fails to push and says so in its log). A run's own
    endpoint gets no such exemption: it passed the target policy."""
    if not enabled():
        return []
    parts = urlsplit(settings.PROMETHEUS_RW_URL)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname or "", port, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return []
    return sorted({(ipaddress.ip_address(str(info[4][0]).split("%")[0]), port) for info in infos}, key=str)
