"""One error shape for the whole API: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponseBase, JsonResponse
from django.utils.decorators import sync_and_async_middleware
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

API_PREFIX = "/api/"

MESSAGES = {
    "invalid": "The request is invalid; see fields for what to fix.",
    "not_found": "Not found.",
}


class ApiError(exceptions.APIException):
    """A 4xx with our own code, message and optional field details."""

    detail: exceptions.ErrorDetail  # the message, with our code (APIException's may also be a list or a dict)

    def __init__(
        self, status: int, code: str, message: str, fields: dict[str, Any] | None = None, retry_after_s: int | None = None
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status
        self.fields = fields or {}
        self.retry_after_s = retry_after_s


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, SuspiciousOperation):
        exc = _unreadable_request(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    response.data = {"error": _shape(exc, response.data)}
    if isinstance(exc, ApiError) and exc.retry_after_s:
        response["Retry-After"] = str(exc.retry_after_s)
    return response


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _shape(exc: Exception, data: Any) -> dict[str, Any]:
    if isinstance(exc, ApiError):
        return {"code": exc.detail.code, "message": str(exc.detail), "fields": exc.fields}
    if isinstance(exc, exceptions.ValidationError):
        fields = data if isinstance(data, dict) else {"non_field_errors": data}
        return {"code": "invalid", "message": MESSAGES["invalid"], "fields": fields}
    if isinstance(exc, Http404):
        return {"code": "not_found", "message": str(exc) or MESSAGES["not_found"], "fields": {}}
    code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    message = data.get("detail", str(exc)) if isinstance(data, dict) else str(exc)
    return {"code": code if isinstance(code, str) else "error", "message": str(message), "fields": {}}


def _unreadable_request(exc: SuspiciousOperation) -> ApiError:
    """Django refuses to read a body over its limits; DRF would let that fall through to an HTML 400."""
    if isinstance(exc, RequestDataTooBig):
        message = f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (MAX_REQUEST_BYTES); send a smaller one."
        return ApiError(413, "request_too_large", message)
    if isinstance(exc, TooManyFieldsSent):
        return ApiError(400, "too_many_fields", f"Send at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} form fields.")
    if isinstance(exc, TooManyFilesSent):
        return ApiError(400, "too_many_files", f"Send at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files.")
    return ApiError(400, *DJANGO_ERRORS[400])


# Errors Django answers itself, before a view or around it, with an HTML page.
DJANGO_ERRORS = {
    400: ("bad_request", "The request could not be read; check its headers and body."),
    403: ("forbidden", "This request is not allowed (a browser session's POST needs its CSRF token)."),
    404: ("not_found", "No API endpoint at {path}."),
    405: ("method_not_allowed", "{method} is not allowed here."),
    500: ("server_error", "The server failed on this request and logged why; try again, or report the time it happened."),
}


@sync_and_async_middleware
def json_errors_middleware(
    get_response: Callable[[HttpRequest], Any],
) -> Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]:
    """Outermost middleware: an error under /api/ that is not JSON yet (Django's own 400, 403, 404 and
    500 pages, a CSRF failure) is answered in the API's shape, with the same status."""
    if iscoroutinefunction(get_response):

        async def middleware_async(request: HttpRequest) -> HttpResponseBase:
            return as_json_error(request, await get_response(request))

        return markcoroutinefunction(middleware_async)

    def middleware(request: HttpRequest) -> HttpResponseBase:
        return as_json_error(request, get_response(request))

    return middleware


def as_json_error(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    if response.status_code < 400 or not request.path.startswith(API_PREFIX):
        return response
    if response.get("Content-Type", "").startswith("application/json"):
        return response
    code, message = DJANGO_ERRORS.get(response.status_code, ("error", "The request failed."))
    shaped = JsonResponse(error_body(code, message.format(path=request.path, method=request.method)), status=response.status_code)
    for header in ("Allow", "Retry-After"):
        if header in response:
            shaped[header] = response[header]
    return shaped
