"""Fetching a page for the analyzers: redirects followed by hand, every hop checked against the target policy."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from urllib.parse import urljoin

import certifi
import httpx
from django.conf import settings

from runs.engine.targets import check_target_url
from scanners.policy_proxy import policy_proxy

MAX_REDIRECTS = 10
TIMEOUT_S = 10.0


@dataclass
class Hop:
    url: str
    status: int
    location: str = ""
    set_cookies: list[str] = field(default_factory=list)  # what the hop asked the client to keep


@dataclass
class Fetched:
    chain: list[Hop] = field(default_factory=list)
    response: httpx.Response | None = None
    invalid_cert: bool = False

    @property
    def final_url(self) -> str:
        return self.chain[-1].url if self.chain else ""


def verify_context() -> ssl.SSLContext:
    """Public roots, plus TLS_EXTRA_CA_FILE (a private CA, e.g. in tests) when set."""
    context = ssl.create_default_context(cafile=certifi.where())
    if settings.TLS_EXTRA_CA_FILE:
        context.load_verify_locations(settings.TLS_EXTRA_CA_FILE)
    return context


async def fetch_chain(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> Fetched:
    """`method` url following redirects; raises TargetRejected for a hop outside the policy."""
    try:
        return await _follow(url, headers or {}, verify_context(), method)
    except httpx.ConnectError as exc:
        if not isinstance(exc.__cause__, ssl.SSLError) and "CERTIFICATE" not in str(exc).upper():
            raise
    fetched = await _follow(url, headers or {}, False, method)
    fetched.invalid_cert = True
    return fetched


async def _follow(url: str, headers: dict[str, str], verify: ssl.SSLContext | bool, method: str = "GET") -> Fetched:
    fetched = Fetched()
    request_headers = {"User-Agent": settings.USER_AGENT, **headers}
    # Through the policy proxy: it connects to the very address it checked, so DNS cannot change it after the check.
    with policy_proxy() as (proxy_url, _):
        async with httpx.AsyncClient(
            verify=verify, timeout=TIMEOUT_S, follow_redirects=False, trust_env=False, proxy=proxy_url
        ) as client:
            await _hops(client, url, request_headers, fetched, method)
    return fetched


async def _hops(
    client: httpx.AsyncClient, url: str, request_headers: dict[str, str], fetched: Fetched, method: str = "GET"
) -> None:
    for _ in range(MAX_REDIRECTS + 1):
        check_target_url(url)  # a clear TargetRejected for the hop; the proxy refuses it too
        response = await client.request(method, url, headers=request_headers)
        location = response.headers.get("location", "")
        fetched.chain.append(Hop(url, response.status_code, location, response.headers.get_list("set-cookie")))
        fetched.response = response
        if not (response.is_redirect and location):
            break
        url = urljoin(url, location)
