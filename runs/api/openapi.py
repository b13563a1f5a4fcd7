"""OpenAPI post-processing: every API operation documents the error shape it can answer with."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "runs.api.apikeys.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "fields": {"type": "object"}},
        }
    },
}
ERRORS = {
    "400": "Bad input; `fields` says what to fix.",
    "401": "Missing or invalid X-API-Key.",
    "403": "Not allowed with this key (or not from loopback).",
    "404": "No such run visible to this key, or the file does not exist yet.",
    "405": "Method not allowed.",
    "406": "Cannot produce the requested content type.",
    "409": "The run has already ended.",
    "415": "Unsupported request content type.",
    "429": "Too many requests for this key; see Retry-After.",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for code, description in ERRORS.items():
                operation["responses"].setdefault(code, {"description": description, "content": reference})
    return result
