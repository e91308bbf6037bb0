"""What can go wrong talking to MsgFlash, as types that keep status, code and a safe message.

`ApiError` carries the API's own error code (the contract's stable identifiers); the two
transport-level outcomes that matter for safety are separate: `NotSent` (the request provably
never reached the API, so retrying is safe) and `OutcomeUnknown` (it may have been processed).
Messages never contain keys or headers: they are built from the API's `code`/`message` only and
then pass the exact-value scrubber in `redact.py` before reaching a model or a log.
"""

from __future__ import annotations

# What the model should do next, by API error code. One place, so every tool says the same thing.
ADVICE: dict[str, str] = {
    "UNAUTHORIZED": "the configured API key was rejected; check MSGFLASH_API_KEY / MSGFLASH_TEAMS (key and team id)",
    "FORBIDDEN": "this key cannot reach that resource",
    "SUBSCRIPTION_INACTIVE": "the account has no active subscription; the owner must renew it in the dashboard",
    "TEAM_KEY_REQUIRED": "a personal key was sent with a team id; configure the team's own key",
    "TEAM_KEY_NOT_ALLOWED": "this route needs the personal key; configure MSGFLASH_API_KEY",
    "API_RATE_LIMIT_EXCEEDED": "MsgFlash is rate limiting this key; wait a few seconds and retry",
    "MONTHLY_API_REQUEST_QUOTA_EXCEEDED": "the monthly API request quota is used up; upgrade the plan or wait for the next period (see get_usage)",
    "MONTHLY_OUTBOUND_QUOTA_EXCEEDED": "the monthly outbound message quota is used up; nothing was sent. Upgrade the plan or wait for the next period (see get_usage)",
    "VALIDATION_ERROR": "fix the arguments named in the details and call again",
    "BAD_REQUEST": "the object's current state does not allow this; read it first",
    "TEMPLATE_INVALID": "the template has an invalid placeholder; use {{contact.x}}, {{user.x}}, {{instance.x}} or {{custom.x}}",
    "TEMPLATE_VARIABLES_MISSING": "supply the missing custom.* values in `variables` (preview_template lists them)",
    "TEMPLATE_CONTEXT_UNAVAILABLE": "the contact or instance given as template context is unusable; check the ids",
    "INVALID_DESTINATION": "the recipient number is not a valid WhatsApp destination; use E.164 like +33612345678",
    "NOT_FOUND": "no such object in this workspace; list the collection to find the right id (or check the workspace)",
    "CONFLICT": "an object with the same unique value already exists; look it up instead of creating it",
    "CAMPAIGNS_NOT_AVAILABLE_ON_PLAN": "the plan has no campaigns (see list_plans)",
    "STATUSES_NOT_AVAILABLE_ON_PLAN": "the plan has no WhatsApp statuses (see list_plans)",
    "WEBHOOKS_NOT_AVAILABLE_ON_PLAN": "the plan has no webhooks (see list_plans)",
    "MAX_WEBHOOK_ENDPOINTS_REACHED": "the plan's webhook endpoint cap is reached; delete one first",
    "MAX_CONTACT_GROUPS_REACHED": "the plan's contact group cap is reached; delete a group first",
    "FEATURE_NOT_AVAILABLE_ON_PLAN": "the plan does not include this feature (see list_plans)",
    "INSTANCE_NOT_ASSIGNED": "this team member may not use that instance; pick one assigned to them",
    "PROVIDER_TIMEOUT": "WhatsApp did not answer in time; check the instance state before retrying",
    "PROVIDER_UNAVAILABLE": "the WhatsApp provider is temporarily unavailable, so nothing was done; try again in a few minutes",
    "PROVIDER_ERROR": "the WhatsApp provider refused it, so nothing was done; check the instance state (get_instance_state) before trying again",
    "INTERNAL_ERROR": "MsgFlash had an internal error",
}


class MsgFlashError(Exception):
    """Base of everything the API client raises."""

    def advice(self) -> str:
        return ""

    def for_model(self) -> str:
        """The sentence a tool error shows the model: what happened, then what to do."""
        advice = self.advice()
        return f"{self}. {advice[0].upper()}{advice[1:]}." if advice else f"{self}."


class ApiError(MsgFlashError):
    """The API answered with an error envelope (or an unexpected status)."""

    def __init__(self, status: int, code: str, message: str, details: list[object] | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        super().__init__(f"MsgFlash {status} {code}: {message}")

    def advice(self) -> str:
        return ADVICE.get(self.code, "")

    def for_model(self) -> str:
        text = super().for_model()
        if self.details:
            shown = "; ".join(str(detail) for detail in self.details[:8])
            text += f" Details: {shown[:600]}"
        return text


class RateLimited(ApiError):
    def __init__(self, status: int, code: str, message: str, retry_after: float | None) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after


class NotSent(MsgFlashError):
    """The request never reached MsgFlash (connect error, pool timeout): nothing happened."""

    def advice(self) -> str:
        return "nothing was sent; check MSGFLASH_BASE_URL and connectivity (msgflash-mcp doctor), then retry"


class OutcomeUnknown(MsgFlashError):
    """The request may have been processed (timeout after send, 5xx, dropped connection)."""

    def __init__(self, what: str, check: str) -> None:
        self.check = check
        super().__init__(f"outcome unknown: {what}")

    def advice(self) -> str:
        return f"do NOT simply retry; {self.check}"


class WorkspaceError(MsgFlashError):
    """A workspace name or credential problem the model or the user can fix."""
