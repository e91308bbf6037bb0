"""The configured workspaces, and which one a caller has chosen.

Resolution order: the tool's `workspace` argument -> the caller's active workspace (set by
switch_workspace; per connection on stdio, per authenticated principal on HTTP) ->
MSGFLASH_DEFAULT_WORKSPACE -> the only configured workspace. Keys come from settings only, never
from tool arguments or client headers. Which key a request then carries (a personal-only route: the
personal key, whatever was chosen) is decided by core/credentials.py.
"""

from __future__ import annotations

from typing import Any, Protocol

import anyio

from ..untrusted import quote_untrusted
from .credentials import Credentials, Workspace
from .errors import WorkspaceError
from .redis_reply import text_or_none
from .settings import PERSONAL, Settings


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
        return text_or_none(await self._redis.get(self._prefix + principal))

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

    def get(self, name: str) -> Workspace:
        try:
            return self._by_name[name]
        except KeyError:
            valid = ", ".join(self._by_name) or "none configured"
            # Quoted and cut to a little over the longest valid name: the caller's text, not ours to echo whole.
            raise WorkspaceError(f"unknown workspace {quote_untrusted(name, 48)}; valid workspaces: {valid}") from None

    def label(self, workspace: Workspace) -> str:
        return workspace.label(self.sandbox)

    def credentials(self, chosen: Workspace | None) -> Credentials:
        """What a call that chose `chosen` carries to the API client: no table, no principal."""
        return Credentials(chosen, self.personal, sandbox=self.sandbox)

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
