"""Which workspace a call acts in, and which key and `X-Team-Id` it therefore carries.

Resolution order: the tool's `workspace` argument -> the caller's active workspace (set by
switch_workspace; per connection on stdio, per authenticated principal on HTTP) ->
MSGFLASH_DEFAULT_WORKSPACE -> the only configured workspace. Keys come from settings only, never
from tool arguments or client headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import anyio
from pydantic import SecretStr

from ..untrusted import quote_untrusted
from .errors import WorkspaceError
from .settings import PERSONAL, Settings


@dataclass(frozen=True)
class Workspace:
    name: str  # "personal" or a team name
    key: SecretStr
    team_id: str | None  # None for personal

    @property
    def kind(self) -> str:
        return "personal" if self.team_id is None else "team"

    def headers(self) -> dict[str, str]:
        headers = {"x-api-key": self.key.get_secret_value()}
        if self.team_id is not None:
            headers["X-Team-Id"] = self.team_id
        return headers

    def __repr__(self) -> str:  # never the key
        return f"Workspace(name={self.name!r}, kind={self.kind!r})"


@dataclass(frozen=True)
class Credentials:
    """The keys one call may present, bound once: its resolved workspace, and the personal key that
    personal-only routes always carry (None when no personal key is configured)."""

    workspace: Workspace | None  # None only for the server's own tools (workspace switching)
    personal: Workspace | None
    label: str  # how results name the workspace ("personal (sandbox)"), "-" without one

    def require_personal(self) -> Workspace:
        if self.personal is None:
            raise WorkspaceError(NO_PERSONAL_KEY)
        return self.personal


NO_PERSONAL_KEY = (
    "this tool reads account-level data that MsgFlash only serves to the personal key, "
    "and none is configured; set MSGFLASH_API_KEY (msgf_live_...) in the server's environment"
)


class ActiveStore(Protocol):
    async def get(self, principal: str) -> str | None: ...
    async def set(self, principal: str, name: str) -> None: ...


class MemoryActiveStore:
    def __init__(self) -> None:
        self._active: dict[str, str] = {}

    async def get(self, principal: str) -> str | None:
        return self._active.get(principal)

    async def set(self, principal: str, name: str) -> None:
        self._active[principal] = name


class RedisActiveStore:
    """Shared by every replica, so a principal's active workspace follows it across processes."""

    def __init__(self, redis: Any, prefix: str = "msgflash:ws:") -> None:  # a redis.asyncio.Redis
        self._redis = redis
        self._prefix = prefix

    async def get(self, principal: str) -> str | None:
        value: object = await self._redis.get(self._prefix + principal)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def set(self, principal: str, name: str) -> None:
        await self._redis.set(self._prefix + principal, name, ex=30 * 24 * 3600)


class Workspaces:
    """The configured workspaces and the per-principal active choice."""

    def __init__(self, settings: Settings, store: ActiveStore | None = None, *, sandbox_label: bool = False) -> None:
        self._by_name: dict[str, Workspace] = {}
        if settings.api_key is not None:
            self._by_name[PERSONAL] = Workspace(PERSONAL, settings.api_key, None)
        for team in settings.teams:
            self._by_name[team.name] = Workspace(team.name, team.key, str(team.team_id))
        self._default = settings.default_workspace
        self._store = store or MemoryActiveStore()
        self._lock = anyio.Lock()
        self.sandbox = sandbox_label

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    @property
    def personal(self) -> Workspace | None:
        return self._by_name.get(PERSONAL)

    def label(self, workspace: Workspace) -> str:
        """How results name the workspace: 'personal', 'acme', with '(sandbox)' on the simulator."""
        return f"{workspace.name} (sandbox)" if self.sandbox else workspace.name

    def get(self, name: str) -> Workspace:
        try:
            return self._by_name[name]
        except KeyError:
            valid = ", ".join(self._by_name) or "none configured"
            # Quoted and cut to a little over the longest valid name: the caller's text, not ours to echo whole.
            raise WorkspaceError(f"unknown workspace {quote_untrusted(name, 48)}; valid workspaces: {valid}") from None

    def require_personal(self) -> Workspace:
        if self.personal is None:
            raise WorkspaceError(NO_PERSONAL_KEY)
        return self.personal

    def credentials(self, workspace: Workspace | None) -> Credentials:
        """What a call bound to `workspace` carries to the API client: no table, no principal."""
        return Credentials(workspace, self.personal, self.label(workspace) if workspace else "-")

    async def active_name(self, principal: str) -> str | None:
        name = await self._store.get(principal)
        if name in self._by_name:
            return name
        if self._default in self._by_name:
            return self._default
        if len(self._by_name) == 1:
            return next(iter(self._by_name))
        return None

    async def resolve(self, requested: str | None, principal: str) -> Workspace:
        if requested:
            return self.get(requested)
        name = await self.active_name(principal)
        if name is None:
            raise WorkspaceError(
                "several workspaces are configured and none is active; pass `workspace` "
                f"(one of {', '.join(self._by_name)}) or call switch_workspace first"
            )
        return self._by_name[name]

    async def switch(self, name: str, principal: str) -> Workspace:
        workspace = self.get(name)
        async with self._lock:
            await self._store.set(principal, name)
        return workspace
