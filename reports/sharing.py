"""Share links: a run's HTML report for people without an account, read-only, signed and expiring.

Off unless SHARE_LINKS is set. A link is a token signed with SECRET_KEY (django.core.signing) naming a
stored ShareLink, so a forged or altered token is refused before the database is asked, and a stored
link can expire, be revoked, and is on record with who made it. The report is served as the file the
report stage wrote, in a sandbox (its chart script runs; it reaches nothing of this site).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db.models import F
from django.utils import timezone

from reports.models import ShareLink
from reports.render import report_path
from runs.models import Run

log = logging.getLogger(__name__)

SALT = "k6intel.reports.share"


class SharingOff(PermissionError):
    """SHARE_LINKS is not set on this server."""


class LinkRefused(LookupError):
    """Forged, altered, expired, revoked, or its report is not there (the message says which, without detail)."""


def create_link(run: Run, created_by: str, hours: int) -> tuple[ShareLink, str]:
    """A new link to the run's HTML report, valid for `hours` (at most SHARE_LINK_MAX_HOURS), and its token."""
    if not settings.SHARE_LINKS:
        raise SharingOff("Share links are off on this server (SHARE_LINKS).")
    if not 1 <= hours <= settings.SHARE_LINK_MAX_HOURS:
        raise ValueError(f"A link lasts 1 to {settings.SHARE_LINK_MAX_HOURS} hours (SHARE_LINK_MAX_HOURS).")
    if not report_path(run.pk, "html").is_file():
        raise LinkRefused(f"Run {run.pk} has no HTML report yet; share it once its report stage has run.")
    link = ShareLink.objects.create(run=run, created_by=created_by[:200], expires_at=timezone.now() + timedelta(hours=hours))
    log.info("share link %s created for run %s by %s, valid until %s", link.pk, run.pk, created_by, link.expires_at.isoformat())
    return link, signing.dumps(str(link.pk), salt=SALT, compress=True)


def share_path(token: str) -> str:
    return f"/share/{token}"


def open_link(token: str) -> ShareLink:
    """The live link a token names, its view counted; LinkRefused otherwise."""
    if not settings.SHARE_LINKS:
        raise LinkRefused("Share links are off on this server.")
    try:
        link_id = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise LinkRefused("This link is not valid.") from None
    link = ShareLink.objects.filter(pk=link_id).select_related("run").first()
    if link is None or link.revoked_at is not None or link.expires_at <= timezone.now():
        raise LinkRefused("This link has expired or was revoked; ask for a new one.")
    if not report_path(link.run_id, "html").is_file():
        raise LinkRefused("This report is no longer available.")
    ShareLink.objects.filter(pk=link.pk).update(views=F("views") + 1)
    return link


def revoke_link(link: ShareLink) -> None:
    ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    log.info("share link %s of run %s revoked", link.pk, link.run_id)
