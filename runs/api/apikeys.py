"""API keys: creation, lookup by hash, DRF authentication, permissions and throttling."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, cast

from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError
from rest_framework import exceptions, permissions, throttling
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from runs.models import ApiKey

log = logging.getLogger(__name__)

HEADER = "X-API-Key"
KEY_PREFIX = "k6i_"
BOOTSTRAP_NAME = "bootstrap (BACKEND_API_KEY)"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a plain SHA-256 is enough to store them safely.
    return hashlib.sha256(key.encode()).hexdigest()


def apikey_create(name: str, is_admin: bool = False, is_trusted: bool = False) -> tuple[ApiKey, str]:
    """A new key; the plain key is returned once and never stored."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey.objects.create(name=name, prefix=key[:10], key_hash=hash_key(key), is_admin=is_admin, is_trusted=is_trusted)
    return record, key


def skips_captcha(key: ApiKey) -> bool:
    """Keys an admin marked trusted (CI) start runs without a captcha, and so do admin keys, as staff
    users do in the browser (an admin key is staff: KeyPrincipal.is_staff)."""
    return key.is_trusted or key.is_admin


def apikey_revoke(key_id: int) -> ApiKey:
    record = ApiKey.objects.get(pk=key_id)
    if record.revoked_at is None:
        record.revoked_at = timezone.now()
        record.save(update_fields=["revoked_at"])
    return record


def apikey_lookup(key: str) -> ApiKey | None:
    """The active key record for a presented key, or None."""
    record = ApiKey.objects.filter(key_hash=hash_key(key), revoked_at__isnull=True).first()
    if record is None and _is_bootstrap(key):
        record, _ = ApiKey.objects.get_or_create(
            key_hash=hash_key(key), defaults={"name": BOOTSTRAP_NAME, "prefix": key[:10], "is_admin": True}
        )
        if record.revoked_at is not None:
            return None
    if record is not None:
        _touch(record)
    return record


def _touch(record: ApiKey) -> None:
    """Record the use, at most once a minute: a write on every request would serialise a busy API
    on the database (SQLite allows one writer at a time)."""
    now = timezone.now()
    if record.last_used_at is None or now - record.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=record.pk).update(last_used_at=now)


def _is_bootstrap(key: str) -> bool:
    configured = settings.BACKEND_API_KEY
    if not configured:
        return False
    return hmac.compare_digest(key.encode(), configured.encode())


@dataclass(frozen=True)
class KeyPrincipal:
    """request.user for a request authenticated by an API key."""

    key: ApiKey
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def is_staff(self) -> bool:
        return self.key.is_admin


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[KeyPrincipal, ApiKey] | None:
        presented = request.headers.get(HEADER)
        if not presented:
            return None
        record = apikey_lookup(presented)
        if record is None:
            raise exceptions.AuthenticationFailed("This API key is not valid (unknown or revoked).")
        return KeyPrincipal(record), record

    def authenticate_header(self, request: Request) -> str:
        return HEADER  # makes missing/invalid keys a 401, not a 403


class HasApiKey(permissions.BasePermission):
    message = f"Send your API key in the {HEADER} header."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey)


def request_key(request: Request) -> ApiKey:
    """The key of a request that HasApiKey let through (DRF's stubs cannot know that request.auth is one)."""
    return cast(ApiKey, request.auth)


class IsAdminKey(HasApiKey):
    message = "This action needs an admin API key."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey) and request.auth.is_admin


class PerKeyThrottle(throttling.SimpleRateThrottle):
    """Requests per key per period, counted in the cache (Redis in production).

    Fails open: an API that stops answering because its rate counter is down
    hurts more than a few minutes without rate limits. After a failure the cache
    is left alone for `outage_retry_s`, so an outage costs one log line and one
    failed connection per period, not one per request.
    """

    scope = "api_key"
    outage_retry_s: ClassVar[float] = 10.0
    cache_down_until: ClassVar[float] = 0.0  # time.monotonic(); per process

    def allow_request(self, request: Request, view: Any) -> bool:
        if time.monotonic() < PerKeyThrottle.cache_down_until:
            return True
        try:
            return super().allow_request(request, view)
        except RedisError as exc:
            PerKeyThrottle.cache_down_until = time.monotonic() + self.outage_retry_s
            log.warning(
                "API requests go unthrottled for %.0f s: the throttle's cache (REDIS_URL) is unreachable: %s",
                self.outage_retry_s,
                exc,
            )
            return True

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
