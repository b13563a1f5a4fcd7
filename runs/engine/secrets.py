"""Credential headers of builder runs: kept out of the stored script, sealed at rest, handed to k6 in its box.

The script reads them at run time from `secrets.json` in its throw-away work
directory, a link to an in-memory file only k6 holds (runs/engine/k6.py), so no plain
copy rests on disk; the database holds them encrypted (Fernet, keyed from
SECRET_KEY) only until k6 has them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import orjson
from cryptography.fernet import Fernet
from django.conf import settings

# Header names that carry credentials: Authorization / Authentication, cookies, tokens, secrets, passwords,
# and the many vendor spellings of keys and auth (Ocp-Apim-Subscription-Key, X-Auth, X-Api-Key, X-Amz-Security-Token…).
SENSITIVE_HEADER = re.compile(r"auth|cookie|token|secret|passw|key|session|signature|credential|sig$", re.IGNORECASE)
# Query parameters that carry credentials (?token=, ?api_key=, ?sig=, ?password=, ?access_token=…).
SENSITIVE_QUERY = re.compile(r"token|secret|passw|key|auth|sig|session|credential", re.IGNORECASE)
SENSITIVE_ENV = re.compile(r"auth|cookie|token|secret|passw|pwd|key|session|signature|credential|private", re.IGNORECASE)
SECRETS_FILE = "secrets.json"
MASK = "••••"


def split_headers(headers: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(headers that may be stored as written, credential headers)."""
    public = {name: value for name, value in headers.items() if not SENSITIVE_HEADER.search(name)}
    secret = {name: value for name, value in headers.items() if SENSITIVE_HEADER.search(name)}
    return public, secret


def split_env(env: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(plain, secret) run variables: a name that looks like a credential is sealed and masked like one."""
    secret = {key: value for key, value in env.items() if SENSITIVE_ENV.search(key)}
    return {key: value for key, value in env.items() if key not in secret}, secret


def split_query(url: str, query: dict[str, str]) -> tuple[str, dict[str, str], dict[str, str]]:
    """(the URL without credential parameters, public query parameters, credential ones) from a URL and extra ones."""
    parts = urlsplit(url)
    pairs = [*parse_qsl(parts.query, keep_blank_values=True), *query.items()]
    public = {name: value for name, value in pairs if not SENSITIVE_QUERY.search(name)}
    secret = {name: value for name, value in pairs if SENSITIVE_QUERY.search(name)}
    return urlunsplit(parts._replace(query="")), public, secret


def mask_url(url: str) -> str:
    """The URL with the values of credential parameters masked, for anything stored or shown."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = "&".join(f"{quote(name)}={MASK if SENSITIVE_QUERY.search(name) else quote(value)}" for name, value in pairs)
    return urlunsplit(parts._replace(query=query))


def _fernet() -> Fernet:
    key = hashlib.sha256(f"k6intel run secrets:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(values: Mapping[str, object]) -> str:
    return _fernet().encrypt(orjson.dumps(values)).decode() if values else ""


def secret_values(secrets: dict[str, Any]) -> list[str]:
    """Every credential value in a sealed set (flat, or grouped as headers and query), to scrub from logs."""
    values = [v for group in secrets.values() for v in (group.values() if isinstance(group, dict) else [group])]
    return [str(value) for value in values if str(value)]


def redact(text: str, values: list[str]) -> str:
    for value in values:
        text = text.replace(value, MASK)
    return text


def unseal(token: str) -> dict[str, Any]:
    return orjson.loads(_fernet().decrypt(token.encode())) if token else {}
