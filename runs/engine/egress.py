"""The target policy held by the kernel for every connection k6 opens, not only its load.

k6 applies `--blacklist-ip` to the requests it sends, but its module loader (a
`require()` of an https:// URL) connects through Go's default client and
ignores it. `k6 inspect` has no network at all, yet a script whose init code
takes another path at run time (a clock, a random number) could still fetch a
module from a forbidden address while `k6 run` starts. Where the worker may
(root, with nftables), k6 therefore runs as a user of its own, K6_UID, and an
nftables table rejects every connection of that user to the blocked networks,
whichever part of k6 opens it. DNS to the machine's own resolvers stays open:
the resolver k6 needs often sits at a private address.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings

from runs.engine import prometheus
from runs.engine.prometheus import Address
from runs.engine.targets import IPNetwork, connection_blocklist

log = logging.getLogger(__name__)

TABLE = "k6intel_egress"
RESOLV_CONF = Path("/etc/resolv.conf")
NFT_TIMEOUT_S = 10


def k6_uid() -> int | None:
    """The user k6 runs as, with the kernel's rules for it in place; None where they cannot be set.

    The rules are written again before every run (one atomic nftables transaction), so they
    always match the settings of the worker that starts it.
    """
    if not settings.K6_EGRESS_FIREWALL or os.geteuid() != 0:
        return None
    nft = shutil.which("nft") or ("/usr/sbin/nft" if Path("/usr/sbin/nft").exists() else None)
    if nft is None:
        log.warning("nft is not installed: k6 runs without the kernel's egress rules")
        return None
    exempt: list[tuple[Address, int | str]] = [*prometheus.endpoint_addresses(), *receiver_ports()]
    rules = ruleset(settings.K6_UID, connection_blocklist(), nameservers(), exempt)
    try:
        done = subprocess.run([nft, "-f", "-"], input=rules.encode(), capture_output=True, timeout=NFT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("could not set the egress rules for k6: %s", exc)
        return None
    if done.returncode != 0:
        log.warning("could not set the egress rules for k6: %s", done.stderr.decode("utf-8", "replace").strip())
        return None
    return settings.K6_UID


def receiver_ports() -> list[tuple[ipaddress.IPv4Address, str]]:
    """The loopback ports where the worker's receivers take k6's samples (runs/engine/remotewrite): the same
    for every run, since one worker's rules serve the k6 processes of all its runs at once. None where runs
    are read from CSV: nothing of the platform's listens there then."""
    if settings.K6_SAMPLE_COLLECTION != "lean":
        return []
    first, last = settings.REMOTE_WRITE_PORTS
    return [(ipaddress.IPv4Address("127.0.0.1"), f"{first}-{last}")]


def ruleset(
    uid: int,
    blocked: Iterable[IPNetwork],
    resolvers: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address],
    exempt: Iterable[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int | str]] = (),
) -> str:
    """The nftables script: replace the table (create it first so that deleting it cannot fail). `exempt`: the
    addresses and TCP ports (or "first-last" ranges) k6 itself must reach whatever the policy (the metrics
    endpoint, the sample receivers)."""
    blocked = list(blocked)
    resolvers = list(resolvers)
    rules = []
    for address, port in exempt:
        family = "ip" if address.version == 4 else "ip6"
        rules.append(f"meta skuid {uid} {family} daddr {address} tcp dport {port} accept")
    for family, version in (("ip", 4), ("ip6", 6)):
        servers = [str(address) for address in resolvers if address.version == version]
        if servers:
            for protocol in ("udp", "tcp"):
                rules.append(f"meta skuid {uid} {family} daddr {{ {', '.join(servers)} }} {protocol} dport 53 accept")
        rules.append(f"meta skuid {uid} {family} daddr {{ {', '.join(map(str, _collapsed(blocked, version)))} }} reject")
    body = "\n".join(f"    {rule}" for rule in rules)
    return (
        f"table inet {TABLE}\n"
        f"delete table inet {TABLE}\n"
        f"table inet {TABLE} {{\n"
        "  chain output {\n"
        "    type filter hook output priority 0; policy accept;\n"
        f"{body}\n"
        "  }\n"
        "}\n"
    )


def _collapsed(blocked: list[IPNetwork], version: int) -> Iterable[IPNetwork]:
    """One family's networks, merged (collapse_addresses takes one family at a time)."""
    if version == 4:
        return ipaddress.collapse_addresses(net for net in blocked if isinstance(net, ipaddress.IPv4Network))
    return ipaddress.collapse_addresses(net for net in blocked if isinstance(net, ipaddress.IPv6Network))


def nameservers(resolv_conf: Path = RESOLV_CONF) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The resolvers named in resolv.conf: the only blocked addresses k6 may still reach, on port 53."""
    try:
        lines = resolv_conf.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            try:
                found.append(ipaddress.ip_address(words[1].split("%")[0]))
            except ValueError:
                continue
    return found
