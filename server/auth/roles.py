"""Roles per workspace for signed-in people (resource-server mode): viewer, sender, admin; deny by default.

`MSGFLASH_ROLES` (core/settings.py) names who holds which role in each workspace, by the token's subject
(`sub:<subject>`, what a client-credentials bot is) or by its `email` claim. With `MSGFLASH_REDIS_URL`, the
operator's runtime grants and revocations (server/auth/role_store.py) override it holder by holder, and every
replica reads them at each call. No role in a workspace: no access to it, not even a read. The role a tool
needs follows the effect it declares (server/registry.py), the same declaration its OAuth scope comes from
(scopes.py), so a new tool needs no role table:
- READ needs viewer; WRITE and SEND need sender; DELETE and ADMIN (webhooks) need admin.

Static-token, tokenless HTTP, stdio and in-memory callers are not signed-in people: no roles apply to them.
The call path checks a role once the workspace is resolved, before any plan or confirmation (`require`, from
`bind_call`), so a confirmation minted while someone held a role is refused once they no longer do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver.exceptions import ToolError

from ..core.errors import WorkspaceError
from ..core.settings import Role, Settings
from ..registry import Effect, ToolSpec
from .role_store import RedisRoles

if TYPE_CHECKING:
    from ..runtime import Runtime

RANK = {Role.VIEWER: 1, Role.SENDER: 2, Role.ADMIN: 3}
_NEEDED = {
    Effect.READ: Role.VIEWER,
    Effect.WRITE: Role.SENDER,
    Effect.SEND: Role.SENDER,
    Effect.DELETE: Role.ADMIN,
    Effect.ADMIN: Role.ADMIN,
}


def needed(effect: Effect) -> Role:
    return _NEEDED[effect]


@dataclass(frozen=True)
class Person:
    """A signed-in caller as the role table names them (never logged or shown: the audit has the principal)."""

    subject: str
    email: str | None


class RoleRefused(ToolError):
    """The caller's role in the workspace does not cover the tool (a ToolError: the model reads why)."""

    def __init__(self, message: str, have: Role | None, workspace: str) -> None:
        super().__init__(message)
        self.have = have
        self.workspace = workspace


def signed_in(settings: Settings) -> Person | None:
    """The person calling, when roles apply: resource-server mode and a verified token (server/auth/verifier.py)."""
    if settings.oauth_issuer is None:
        return None
    token = get_access_token()
    if token is None or not token.subject:  # stdio or in-memory beside an HTTP server: the local person
        return None
    email = (token.claims or {}).get("email")
    return Person(token.subject, email.lower() if isinstance(email, str) and email else None)


@dataclass(frozen=True)
class RoleTable:
    """Who holds which role: the configured table (MSGFLASH_ROLES), overridden holder by holder by the shared
    one when there is a Redis. Made per call from the runtime (`table`), so a changed setting applies at once."""

    configured: Mapping[str, Mapping[str, Role]] = field(default_factory=dict[str, Mapping[str, Role]])
    shared: RedisRoles | None = None

    async def role_in(self, person: Person, workspace: str) -> Role | None:
        """The person's role in `workspace`: by subject first (exact), else by email; None: no access."""
        holders = ["sub:" + person.subject, *([person.email] if person.email else [])]
        overrides = await self.shared.lookup(workspace, holders) if self.shared is not None else {}
        configured = self.configured.get(workspace, {})
        for holder in holders:
            role = overrides[holder] if holder in overrides else configured.get(holder)  # revoked: None
            if role is not None:
                return role
        return None


def table(runtime: Runtime) -> RoleTable:
    return RoleTable(runtime.settings.roles, RedisRoles(runtime.redis) if runtime.redis is not None else None)


def allows(have: Role | None, need: Role) -> bool:
    return have is not None and RANK[have] >= RANK[need]


def refusal(what: str, need: Role, have: Role | None, workspace: str) -> str:
    yours = f"your role there is {have.value}" if have is not None else "you have no role there"
    return (f"{what} needs the {need.value} role in workspace {workspace}; {yours}. Nothing was done. "
            "Roles are set by the server's operator (MSGFLASH_ROLES).")


async def require(spec: ToolSpec, settings: Settings, roles: RoleTable, workspace: str | None) -> Role | None:
    """The caller's role in the workspace the call acts in, if it covers the tool; raises RoleRefused if not.
    None: no roles apply (not a signed-in person, or a server-only tool that acts in no workspace)."""
    person = signed_in(settings)
    if person is None or workspace is None:
        return None
    have = await roles.role_in(person, workspace)
    need = needed(spec.effect)
    if not allows(have, need):
        raise RoleRefused(refusal(spec.name, need, have, workspace), have, workspace)
    return have


async def require_viewer(settings: Settings, roles: RoleTable, workspace: str) -> None:
    """What resources and completions read in a workspace (server/call/context.py `bind_route`) needs viewer.
    A WorkspaceError: they report it as they report an unknown workspace."""
    person = signed_in(settings)
    if person is None:
        return
    have = await roles.role_in(person, workspace)
    if not allows(have, Role.VIEWER):
        raise WorkspaceError(refusal("reading", Role.VIEWER, have, workspace))
