"""Credential headers of builder runs: kept out of the stored script, sealed at rest, handed to k6 in its box.

The script reads them at run time from `secrets.json` in its throw-away work
directory; the database holds them encrypted (Fernet, keyed from SECRET_KEY)
only until k6 has run.
"""

from __future__ import annotations

import base64
import hashlib
import re

import orjson
from cryptography.fernet import Fernet
from django.conf import settings

# Header names that carry credentials: Authorization / Authentication, cookies, tokens, secrets, passwords,
# and the many vendor spellings of keys and auth (Ocp-Apim-Subscription-Key, X-Auth, X-Api-Key, X-Amz-Security-Token…).
SENSITIVE_HEADER = re.compile(r"auth|cookie|token|secret|passw|key|session|signature|credential|sig$", re.IGNORECASE)
SECRETS_FILE = "secrets.json"


def split_headers(headers: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(headers that may be stored as written, credential headers)."""
    public = {name: value for name, value in headers.items() if not SENSITIVE_HEADER.search(name)}
    secret = {name: value for name, value in headers.items() if SENSITIVE_HEADER.search(name)}
    return public, secret


def _fernet() -> Fernet:
    key = hashlib.sha256(f"k6intel run secrets:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(values: dict[str, str]) -> str:
    return _fernet().encrypt(orjson.dumps(values)).decode() if values else ""


def unseal(token: str) -> dict[str, str]:
    return orjson.loads(_fernet().decrypt(token.encode())) if token else {}
