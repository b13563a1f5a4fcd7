"""The one page served without an account: a run's HTML report through a share link (reports/sharing.py)."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponseBase, HttpResponseNotFound
from django.views.decorators.http import require_GET

from reports.render import report_path
from reports.sharing import LinkRefused, open_link


@require_GET
def shared_report(request: HttpRequest, token: str) -> HttpResponseBase:
    try:
        link = open_link(token)
    except LinkRefused as exc:
        return HttpResponseNotFound(str(exc), content_type="text/plain; charset=utf-8")
    response = FileResponse(report_path(link.run_id, "html").open("rb"), content_type="text/html; charset=utf-8")
    # The report runs its own chart script; sandboxed, it reaches nothing of this site. Nobody indexes or
    # caches it, and the link does not leak to the pages it links to.
    response["Content-Security-Policy"] = "sandbox allow-scripts"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    return response
