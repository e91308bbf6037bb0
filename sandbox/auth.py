"""Key and team rules (REFERENCE §3)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ApiError
from .keys import PERSONAL_KEY, TEAM_ID, TEAM_KEY
from .seed import USER_ID

PERSONAL_ONLY = {
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/usage"),
    ("GET", "/api/v1/billing/subscription"),
    ("GET", "/api/v1/billing/usage"),
    ("GET", "/api/v1/billing/payments"),
}


@dataclass(frozen=True)
class Principal:
    kind: str  # "personal" | "team"
    ws: str
    user_id: str
    team_id: str | None


def key_kind(key: str | None) -> str:
    if not key:
        return "none"
    if key == PERSONAL_KEY:
        return "personal"
    if key == TEAM_KEY:
        return "team"
    return "invalid"


def authenticate(key: str | None, team_header: str | None) -> Principal:
    if key == PERSONAL_KEY:
        if team_header is not None:
            raise ApiError("TEAM_KEY_REQUIRED", "A team API key is required to act in a team workspace")
        return Principal("personal", USER_ID, USER_ID, None)
    if key == TEAM_KEY:
        # inferred(team-key-mismatch-code): same answer as an invalid key (documented as 401; the code is ours).
        if team_header is None or team_header.strip().lower() != TEAM_ID:
            raise ApiError("UNAUTHORIZED", "Invalid or missing API key")
        return Principal("team", TEAM_ID, USER_ID, TEAM_ID)
    raise ApiError("UNAUTHORIZED", "Invalid or missing API key")


def check_route(principal: Principal, method: str, pattern: str) -> None:
    if principal.kind == "team" and (method, pattern) in PERSONAL_ONLY:
        raise ApiError("TEAM_KEY_NOT_ALLOWED", "This route requires a personal API key")
