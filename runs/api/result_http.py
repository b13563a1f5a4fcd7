"""The result document over HTTP: a strong ETag, 304 for a client that has the document, and an ASGI
shortcut that sends an ended run's stored document without Django's request cycle."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import DisallowedHost, PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import Resolver404, resolve
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.views import APIView

from runs.api.documents import Document, stored_document
from runs.models import ApiKey
from runs.selectors import runs_visible_to

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]

RESULT_PREFIX = "/api/result/"  # a cheap first filter; the URLconf decides


def document_response(request: HttpRequest, document: Document) -> HttpResponse:
    """200 with the document, or 304 when the client's If-None-Match names it (Django's own rules)."""
    full = HttpResponse(document.body, content_type="application/json")
    full["ETag"] = quote_etag(document.etag)
    full["Cache-Control"] = "private, no-cache"  # clients may keep it, and ask with If-None-Match each time
    response = get_conditional_response(request, etag=full["ETag"], response=full) or full
    response["Content-Length"] = str(len(response.content))  # as CommonMiddleware sets it on Django's path
    return response


class StoredResultShortcut:
    """ASGI: `GET /api/result/<id>` of an ended run, answered from its stored document ahead of Django.

    Under ASGI, Django's request cycle costs a new thread, a new database connection and several hops
    between threads per request: more than twice what sending a stored document takes. The shortcut
    makes ResultView's checks with the same code (Django's host and HTTPS checks, the view's
    authentication, permission and throttle classes, the same visibility selector) in one hop to a few
    threads that keep their database connections, and adds the same response headers. Anything it
    would not answer exactly as ResultView does (no key or a bad one, a run the key may not see or
    with no current document yet, a throttled key, another method, a database error) goes on to
    Django unchanged. Each thread holds at most one database connection.
    """

    def __init__(self, app: ASGIApp, view: type[APIView], threads: int) -> None:
        self.app, self.view = app, view
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="stored-result")
        self.answer = sync_to_async(stored_result_response, thread_sensitive=False, executor=self.executor)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        run_id = _stored_result_request(scope, self.view)
        response = await self.answer(scope, run_id, self.view) if run_id is not None else None
        if response is None:
            await self.app(scope, receive, send)
            return
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": response.content})


def _stored_result_request(scope: Scope, view_class: type[APIView]) -> uuid.UUID | None:
    """The run id of a GET that the URLconf routes to the view, else None."""
    path = scope.get("path", "")
    if scope["type"] != "http" or scope.get("method") != "GET" or not path.startswith(RESULT_PREFIX):
        return None
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.kwargs["run_id"] if getattr(match.func, "view_class", None) is view_class else None


def stored_result_response(scope: Scope, run_id: uuid.UUID, view_class: type[APIView]) -> HttpResponse | None:
    """The view's 200 or 304 for an ended run's stored document, or None for Django to answer."""
    request = ASGIRequest(scope, io.BytesIO())
    try:
        if _site_would_answer(request):
            return None
        view = view_class()
        view.setup(request, run_id=run_id)  # as Django's as_view() does: allowed_methods then include HEAD
        response = _document_response(request, run_id, view)
    except (APIException, DisallowedHost, PermissionDenied):  # Django answers these in the API's error shape
        return None
    except DatabaseError:
        log.warning("stored result of run %s: database error; Django answers instead", run_id, exc_info=True)
        connection.close()  # kept connections are for healthy ones; the next request connects afresh
        return None
    except Exception:  # a fault here must cost speed, not the answer
        log.exception("stored result of run %s: the shortcut failed; Django answers instead", run_id)
        return None
    if response is None or response.status_code not in (200, 304):
        return None
    return _with_site_headers(request, response)


def _document_response(request: ASGIRequest, run_id: uuid.UUID, view: APIView) -> HttpResponse | None:
    api_request = Request(request, authenticators=[authentication() for authentication in view.authentication_classes])
    key = api_request.auth
    if not isinstance(key, ApiKey) or not all(p().has_permission(api_request, view) for p in view.permission_classes):
        return None
    document = stored_document(runs_visible_to(key), run_id)
    # Throttled last, so a request left to Django is not counted twice.
    if document is None or not all(throttle().allow_request(api_request, view) for throttle in view.throttle_classes):
        return None
    response = document_response(request, document)
    response["Allow"] = ", ".join(view.allowed_methods)
    return response


def _site_would_answer(request: HttpRequest) -> bool:
    """Django's own request checks (allowed hosts, HTTPS redirect, refused user agents) have their say first."""
    checks = [getattr(middleware, "process_request", None) for middleware in _site_middleware()]
    return any(check(request) is not None for check in checks if check is not None)


def _with_site_headers(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    for middleware in reversed(_site_middleware()):
        middleware.process_response(request, response)  # on a 200 or 304, each only sets headers on it
    return response


_middleware: tuple[Any, ...] = ()


def _site_middleware() -> tuple[Any, ...]:
    """The settings.MIDDLEWARE entries that act on a request like this one (the others act on sessions,
    CSRF, messages, logins and static files, which an API-key GET does not have)."""
    global _middleware
    if not _middleware:
        never_called: Callable[[HttpRequest], HttpResponse] = HttpResponse
        _middleware = (SecurityMiddleware(never_called), CommonMiddleware(never_called), XFrameOptionsMiddleware(never_called))
    return _middleware
