"""Target policy: which addresses load and every analyzer may reach.

Metadata and link-local addresses are always blocked. Loopback and private
ranges are allowed only when settings say so. The same policy is checked at
submission (every address the host resolves to) and handed to k6 as
`--blacklist-ip` / `--block-hostnames`, which k6 applies on every connection,
so a redirect or a DNS answer that changes later cannot get around it.

An IPv6 address can carry an IPv4 one (mapped `::ffff:a.b.c.d`, compatible
`::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, Teredo `2001::/32`) and
reach it through a translator or the host's own stack: the policy decides on
every IPv4 address an IPv6 one embeds, and k6's blacklist names those forms too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import TypeVar
from urllib.parse import urlsplit

from django.conf import settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_OneFamily = TypeVar("_OneFamily", ipaddress.IPv4Network, ipaddress.IPv6Network)

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
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use translators: where the IPv4 sits varies
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
TEREDO = ipaddress.ip_network("2001::/32")
ZERO_NETWORK = ipaddress.ip_network("0.0.0.0/8")
# IPv6 prefixes that embed an IPv4 address in their last 32 bits, as k6's blacklist must spell them.
EMBEDDING_PREFIXES = (ipaddress.ip_network("::ffff:0:0/96"), IPV4_COMPATIBLE, NAT64)


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
    blacklist = ",".join(str(net) for net in connection_blocklist())
    return ["--blacklist-ip", blacklist, "--block-hostnames", ",".join(METADATA_HOSTNAMES)]


def connection_blocklist() -> list[IPNetwork]:
    """Every network a connection may not reach, IPv6 spellings of the IPv4 ones included.

    What k6's `--blacklist-ip` gets and what the kernel's egress rules for k6 match (runs/engine/egress.py).
    """
    networks = blocked_networks()
    for cidr in settings.TARGET_ALLOWLIST:
        networks = _carve_out(networks, ipaddress.ip_network(cidr, strict=False))
    networks += [embedded for net in networks if net.version == 4 for embedded in ipv6_forms(net)]
    networks += [NAT64_LOCAL, TEREDO]  # the IPv4 inside these cannot be matched by prefix: block them whole
    return networks


def ipv6_forms(network: ipaddress.IPv4Network) -> list[ipaddress.IPv6Network]:
    """The IPv6 networks that carry the addresses of an IPv4 network (mapped, compatible, NAT64, 6to4)."""
    ipv4 = int(network.network_address)
    # `::a.b.c.d` for 0.0.0.0/8 would be ::/104, which holds ::1 itself: loopback has its own rule.
    prefixes = [p for p in EMBEDDING_PREFIXES if not (p == IPV4_COMPATIBLE and network.overlaps(ZERO_NETWORK))]
    networks = [ipaddress.IPv6Network((int(prefix.network_address) | ipv4, 96 + network.prefixlen)) for prefix in prefixes]
    six_to_four = int(SIX_TO_FOUR.network_address) | (int(network.network_address) << 80)
    return [*networks, ipaddress.IPv6Network((six_to_four, 16 + network.prefixlen))]


def embedded_ipv4(address: Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address carries (none for IPv4 itself)."""
    if address.version == 4:
        return []
    assert isinstance(address, ipaddress.IPv6Address)
    found = []
    if address.ipv4_mapped:
        found.append(address.ipv4_mapped)
    if address in IPV4_COMPATIBLE and int(address) > 1 or address in NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour:
        found.append(address.sixtofour)
    if address.teredo:
        found.extend(address.teredo)
    return found


def _carve_out(networks: list[IPNetwork], allowed: IPNetwork) -> list[IPNetwork]:
    """Remove an allow-listed range from the blocked ones (never from ALWAYS_BLOCKED)."""
    always = [ipaddress.ip_network(cidr) for cidr in ALWAYS_BLOCKED]
    kept: list[IPNetwork] = []
    for net in networks:
        if net in always:
            kept.append(net)
        elif isinstance(net, ipaddress.IPv4Network) and isinstance(allowed, ipaddress.IPv4Network):
            kept.extend(_without(net, allowed))
        elif isinstance(net, ipaddress.IPv6Network) and isinstance(allowed, ipaddress.IPv6Network):
            kept.extend(_without(net, allowed))
        else:  # the other family
            kept.append(net)
    return kept


def _without(net: _OneFamily, allowed: _OneFamily) -> Iterable[_OneFamily]:
    if allowed.subnet_of(net):
        return net.address_exclude(allowed)
    return () if net.subnet_of(allowed) else (net,)


def check_target_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRejected("Use an http:// or https:// URL with a host name.")
    if parts.username or parts.password:
        raise TargetRejected("Put credentials in a header, not in the URL.")
    resolve_allowed(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def resolve_allowed(hostname: str, port: int) -> Address:
    """Resolve once and check every address: the one to connect to, or TargetRejected.

    Callers connect to the returned address rather than resolving the name again, so a DNS
    answer that changes after the check (rebinding) cannot lead anywhere new.
    """
    if _metadata_hostname(hostname):
        raise TargetRejected(f"{hostname} is a cloud-metadata host name; k6intel never sends load there.")
    addresses = sorted(_resolve(hostname, port), key=lambda address: address.version)  # IPv4 first
    for address in addresses:
        _check_address(address)
    return addresses[0]


def _metadata_hostname(hostname: str) -> bool:
    name = hostname.lower().rstrip(".")
    return any(name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])) for pattern in METADATA_HOSTNAMES)


def _resolve(hostname: str, port: int) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(hostname, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise TargetRejected(f"The host {hostname!r} does not resolve ({exc.strerror}).") from None
    # An IP socket address's host is a string (typeshed also allows other families' integers).
    return {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}


def _check_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    if reason := address_rejection(address):
        raise TargetRejected(reason)


def address_rejection(address: Address) -> str | None:
    """Why the policy refuses this address (or an IPv4 address it embeds), or None when it may be targeted."""
    if address in NAT64_LOCAL:
        return f"{address} is a local-use NAT64 address; k6intel does not send load through translators it cannot check."
    for candidate in (*embedded_ipv4(address), address):
        if reason := _single_rejection(candidate):
            embedded = f" (inside {address})" if candidate != address else ""
            return reason.replace(f"{candidate} is", f"{candidate}{embedded} is", 1)
    return None


def _single_rejection(address: Address) -> str | None:
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
