"""One error shape for the whole API: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

MESSAGES = {
    "invalid": "The request is invalid; see fields for what to fix.",
    "not_found": "Not found.",
}


class ApiError(exceptions.APIException):
    """A 4xx with our own code, message and optional field details."""

    def __init__(
        self, status: int, code: str, message: str, fields: dict[str, Any] | None = None, retry_after_s: int | None = None
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status
        self.fields = fields or {}
        self.retry_after_s = retry_after_s


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
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


def json_404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Unknown URLs under /api/ answer in the API's shape too."""
    return JsonResponse(error_body("not_found", f"No API endpoint at {request.path}."), status=404)
