"""Target policy: which addresses load (and later the analyzers) may reach.

Metadata and link-local addresses are always blocked. Loopback and private
ranges are allowed only when settings say so. The same policy is checked at
submission (every address the host resolves to) and handed to k6 as
`--blacklist-ip` / `--block-hostnames`, which k6 applies on every connection,
so a redirect or a DNS answer that changes later cannot get around it.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALWAYS_BLOCKED = (
    "169.254.0.0/16",  # link-local, incl. 169.254.169.254 cloud metadata
    "fe80::/10",
    "fd00:ec2::/32",  # AWS IPv6 metadata
    "100.100.100.200/32",  # Alibaba metadata
    "0.0.0.0/8",
    "::/128",
)
LOOPBACK = ("127.0.0.0/8", "::1/128")
PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
METADATA_HOSTNAMES = ("metadata.google.internal", "metadata", "instance-data", "*.internal")


class TargetRejected(ValueError):
    """The target is outside the policy; the message says why and what would allow it."""


def blocked_networks() -> list[IPNetwork]:
    cidrs = list(ALWAYS_BLOCKED)
    if not settings.ALLOW_LOOPBACK_TARGETS:
        cidrs += LOOPBACK
    if not settings.ALLOW_PRIVATE_TARGETS:
        cidrs += PRIVATE
    return [ipaddress.ip_network(cidr) for cidr in cidrs]


def k6_policy_args() -> list[str]:
    networks = blocked_networks()
    for cidr in settings.TARGET_ALLOWLIST:
        networks = _carve_out(networks, ipaddress.ip_network(cidr, strict=False))
    blacklist = ",".join(str(net) for net in networks)
    return ["--blacklist-ip", blacklist, "--block-hostnames", ",".join(METADATA_HOSTNAMES)]


def _carve_out(networks: list[IPNetwork], allowed: IPNetwork) -> list[IPNetwork]:
    """Remove an allow-listed range from the blocked ones (never from ALWAYS_BLOCKED)."""
    always = [ipaddress.ip_network(cidr) for cidr in ALWAYS_BLOCKED]
    kept: list[IPNetwork] = []
    for net in networks:
        if net in always or net.version != allowed.version:
            kept.append(net)
        elif allowed.subnet_of(net):
            kept.extend(net.address_exclude(allowed))
        elif not net.subnet_of(allowed):
            kept.append(net)
    return kept


def check_target_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRejected("Use an http:// or https:// URL with a host name.")
    if parts.username or parts.password:
        raise TargetRejected("Put credentials in a header, not in the URL.")
    for address in _resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)):
        _check_address(address)


def _resolve(hostname: str, port: int) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(hostname, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise TargetRejected(f"The host {hostname!r} does not resolve ({exc.strerror}).") from None
    return {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}


def _check_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    if reason := address_rejection(address):
        raise TargetRejected(reason)


def address_rejection(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why the policy refuses this address, or None when it may be targeted."""
    if _allowlisted(address):
        return None
    for network in blocked_networks():
        if address.version == network.version and address in network:
            return _reason(address)
    return None


def _allowlisted(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    for cidr in settings.TARGET_ALLOWLIST:
        network = ipaddress.ip_network(cidr, strict=False)
        if address.version == network.version and address in network and not _always_blocked(address):
            return True
    return False


def _always_blocked(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(address.version == net.version and address in net for net in map(ipaddress.ip_network, ALWAYS_BLOCKED))


def _reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if _always_blocked(address):
        return f"{address} is a link-local or cloud-metadata address; k6intel never sends load there."
    if address.is_loopback:
        return f"{address} is a loopback address; set ALLOW_LOOPBACK_TARGETS=true or add it to TARGET_ALLOWLIST."
    return f"{address} is a private address; set ALLOW_PRIVATE_TARGETS=true or add it to TARGET_ALLOWLIST."
