"""A route of the MsgFlash API: method, path template, and whether it takes only the personal key.

It lives below both the tool registry and the API client, so the client knows routes without knowing
tool declarations, and a route's retry class follows from its method in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .retry import RetryClass

_PARAM_RE = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # template, e.g. "/api/v1/contacts/{id}"
    # Rejects team keys with 403 TEAM_KEY_NOT_ALLOWED (REFERENCE §3): the API client always sends the
    # personal key, whatever the active workspace. Declared where the route is named: GET(path, personal=True).
    personal_only: bool = False

    @property
    def workspace_scoped(self) -> bool:
        """Acts in the workspace its caller chose (argument, active, default): every route but the
        personal-only ones, whose key is the personal one whatever was chosen (core/credentials.py)."""
        return not self.personal_only

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(_PARAM_RE.findall(self.path))

    @property
    def retry_class(self) -> RetryClass:
        # Only GET is side-effect free; the API documents no idempotency keys, so every other
        # method may have acted once a request reached it.
        return RetryClass.SAFE if self.method == "GET" else RetryClass.UNSAFE

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def GET(path: str, *, personal: bool = False) -> Route:
    return Route("GET", path, personal)


def POST(path: str) -> Route:
    return Route("POST", path)


def PUT(path: str) -> Route:
    return Route("PUT", path)


def DELETE(path: str) -> Route:
    return Route("DELETE", path)
