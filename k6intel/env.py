"""Typed readers for environment settings.

Each helper raises ImproperlyConfigured with the variable's name and what a
valid value looks like, so a typo in `.env` stops the process at start-up
instead of silently falling back to a default.
"""

from __future__ import annotations

import os
import re
from typing import NoReturn
from urllib.parse import SplitResult, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_FULL = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h))+")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
DATABASE_URL_EXAMPLE = "mysql://user:password@db.example.com:3306/k6intel (or sqlite:///var/k6intel.sqlite3)"
REDIS_URL_EXAMPLE = "redis://redis.example.com:6379/0 (or rediss:// for TLS)"


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str | None = None) -> str:
    value = _raw(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"{name} must be set (see .env.example).")
        return default
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of: {', '.join(choices)}.")
    return value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use true/false, 1/0, yes/no or on/off.")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    _check_range(name, number, minimum, maximum)
    return number


def env_float(name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number.") from None
    _check_range(name, number, minimum, maximum)
    return number


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_database_url(name: str, default: str) -> str:
    """A database URL Django can use: sqlite:///path (embedded) or mysql://user:password@host:port/name."""
    value = env_str(name, default)
    parts = _split_url(name, value, DATABASE_URL_EXAMPLE)
    if parts.scheme not in {"sqlite", "mysql"}:
        _bad_url(name, value, f"the scheme {parts.scheme!r} is not sqlite or mysql", DATABASE_URL_EXAMPLE)
    if parts.scheme == "sqlite" and parts.path in {"", "/"}:
        _bad_url(name, value, "it names no database file", DATABASE_URL_EXAMPLE)
    if parts.scheme == "mysql" and not parts.hostname:
        _bad_url(name, value, "it names no host", DATABASE_URL_EXAMPLE)
    if parts.scheme == "mysql" and parts.path.strip("/") == "":
        _bad_url(name, value, "it names no database", DATABASE_URL_EXAMPLE)
    return value


def env_redis_url(name: str) -> str | None:
    """A Redis URL (redis:// or rediss://, host required, optional /db number), or None when unset."""
    value = env_str(name, "")
    if not value:
        return None
    parts = _split_url(name, value, REDIS_URL_EXAMPLE)
    if parts.scheme not in {"redis", "rediss"}:
        _bad_url(name, value, f"the scheme {parts.scheme!r} is not redis or rediss", REDIS_URL_EXAMPLE)
    if not parts.hostname:
        _bad_url(name, value, "it names no host", REDIS_URL_EXAMPLE)
    if not re.fullmatch(r"/?(\d+)?", parts.path):
        _bad_url(name, value, f"the path {parts.path!r} is not a database number", REDIS_URL_EXAMPLE)
    return value


def env_duration_s(name: str, default: str) -> int:
    """A k6-style duration ("90s", "30m", "1h30m") in whole seconds."""
    value = _raw(name) or default
    seconds = parse_duration_s(value)
    if seconds is None or seconds < 1:
        raise ImproperlyConfigured(f"{name}={value!r} is not a duration; use forms like 90s, 30m or 1h30m.")
    return round(seconds)


def parse_duration_s(text: str) -> float | None:
    """Parse a k6 duration string into seconds; None when it is not one."""
    text = text.strip()
    if not _DURATION_FULL.fullmatch(text):
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text))


def _split_url(name: str, value: str, example: str) -> SplitResult:
    if "://" not in value:
        _bad_url(name, value, "'://' is missing after the scheme", example)
    parts = urlsplit(value)
    try:
        _ = parts.port  # urllib parses the port only when asked, and raises on junk
    except ValueError:
        _bad_url(name, value, "the port is not a number from 0 to 65535", example)
    return parts


def _bad_url(name: str, value: str, problem: str, example: str) -> NoReturn:
    raise ImproperlyConfigured(f"{name}={without_password(value)!r} is not valid: {problem}. Use a URL like {example}.")


def without_password(value: str) -> str:
    # The message ends up in logs: a password in the URL must not.
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", value)


def _check_range(name: str, number: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}.")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number} is above the maximum {maximum}.")
