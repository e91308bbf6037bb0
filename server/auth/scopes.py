"""The OAuth scopes this server understands, derived from the effect each tool declares (server/registry.py):
one scope per effect, `msgflash:<effect>`, so a new tool needs no scope table. One place: the challenges, the
HTTP gate (server/auth/scope_gate.py) and the call path's check (`require`) all read `needed`."""

from __future__ import annotations

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver.exceptions import ToolError

from ..core.settings import Settings
from ..registry import Effect, ToolSpec

PREFIX = "msgflash:"


def needed(effect: Effect) -> str:
    """The scope a tool of this effect needs: msgflash:read, :write, :send, :delete or :admin."""
    return PREFIX + effect.value


# What every signed-in client needs to do anything (list tools, read): named in the 401 challenge, so a
# client asks for it first and steps up to the others when an operation needs them.
BASELINE = needed(Effect.READ)
ALL = tuple(needed(effect) for effect in Effect)


class ScopeRefused(ToolError):
    """The token lacks the tool's scope (a ToolError: the model reads why; the audit records `denied: scope`)."""


def missing(spec: ToolSpec, granted: list[str]) -> str | None:
    scope = needed(spec.effect)
    return None if scope in granted else scope


def require(spec: ToolSpec, settings: Settings) -> None:
    """The call path's own check, before workspace, plan or confirmation, on both protocol eras: the HTTP gate
    answers the step-up challenge, and this refuses whatever reached a tool without its scope anyway."""
    if settings.oauth_issuer is None:
        return
    token = get_access_token()
    if token is None:  # stdio or in-memory: the local person, not a signed-in one
        return
    scope = missing(spec, token.scopes)
    if scope is not None:
        raise ScopeRefused(
            f"{spec.name} needs the OAuth scope {scope}, which this sign-in did not grant; nothing was done. "
            f"Sign in again granting {scope} (clients step up when the server answers 403 insufficient_scope)."
        )
