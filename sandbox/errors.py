"""ApiError and the documented error envelope."""

from __future__ import annotations

from typing import Any

HTTP_FOR_CODE: dict[str, int] = {
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "SUBSCRIPTION_INACTIVE": 403,
    "API_RATE_LIMIT_EXCEEDED": 429,
    "MONTHLY_API_REQUEST_QUOTA_EXCEEDED": 429,
    "MONTHLY_OUTBOUND_QUOTA_EXCEEDED": 429,
    "MAX_INSTANCES_REACHED": 403,
    "API_KEYS_NOT_AVAILABLE_ON_PLAN": 403,
    "MAX_API_KEYS_REACHED": 403,
    "WEBHOOKS_NOT_AVAILABLE_ON_PLAN": 403,
    "MAX_WEBHOOK_ENDPOINTS_REACHED": 403,
    "CAMPAIGNS_NOT_AVAILABLE_ON_PLAN": 403,
    "STATUSES_NOT_AVAILABLE_ON_PLAN": 403,
    "MAX_CONTACT_GROUPS_REACHED": 403,
    "FEATURE_NOT_AVAILABLE_ON_PLAN": 403,
    "VALIDATION_ERROR": 400,
    "BAD_REQUEST": 400,
    "TEMPLATE_INVALID": 400,
    "TEMPLATE_VARIABLES_MISSING": 400,
    "TEMPLATE_CONTEXT_UNAVAILABLE": 400,
    "INVALID_DESTINATION": 422,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "INTERNAL_ERROR": 500,
    "PROVIDER_TIMEOUT": 502,
    "PROVIDER_UNAVAILABLE": 502,
    "PROVIDER_ERROR": 502,
    "TEAM_KEY_REQUIRED": 403,
    "TEAM_KEY_NOT_ALLOWED": 403,
    "INSTANCE_NOT_ASSIGNED": 403,
}

DEFAULT_MESSAGES: dict[str, str] = {
    "UNAUTHORIZED": "Invalid or missing API key",
    "VALIDATION_ERROR": "Invalid request data",
    "NOT_FOUND": "Resource not found",
    "API_RATE_LIMIT_EXCEEDED": "Too many API requests",
    "INTERNAL_ERROR": "Internal server error",
}


class ApiError(Exception):
    def __init__(
        self,
        code: str,
        message: str | None = None,
        details: list[dict[str, Any]] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code
        self.status = status or HTTP_FOR_CODE.get(code, 400)
        self.message = message or DEFAULT_MESSAGES.get(code, code.replace("_", " ").capitalize())
        self.details = details or []
        self.headers = headers or {}
        super().__init__(f"{self.status} {code}: {self.message}")

    def envelope(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def not_found(what: str = "Resource") -> ApiError:
    return ApiError("NOT_FOUND", f"{what} not found")


def invalid(details: list[dict[str, Any]], message: str = "Invalid request data") -> ApiError:
    return ApiError("VALIDATION_ERROR", message, details)


def field_error(field: str, message: str) -> ApiError:
    return invalid([{"field": field, "message": message}])
