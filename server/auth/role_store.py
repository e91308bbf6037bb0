"""Roles granted or revoked at runtime, in the Redis the replicas share (`MSGFLASH_REDIS_URL`).

`MSGFLASH_ROLES` seeds the table; an entry here overrides the configured one for the same holder in the same
workspace, so an operator grants or revokes without a restart and every replica sees it at its next call
(`msgflash-mcp roles grant|revoke|list`, server/auth/roles_cli.py). A revocation is stored as `none`, not as a
deleted entry: deleting would bring back the configured role it overrides.

One hash per workspace, `msgflash:roles:<workspace>`, field = holder (`sub:<subject>` or a lower-cased email),
value = viewer | sender | admin | none. No replica caches it: a role check is one HMGET (a local Redis answers
in well under a millisecond, beside a call that goes to the MsgFlash API), and a cache of any age would let a
revoked person act on a replica for that long. The client is the runtime's (server/runtime.py), so this module
imports no Redis itself.
"""

from __future__ import annotations

from typing import Any

from ..core.redis_reply import text
from ..core.settings import ROLE_HOLDER_RE, Role

KEY_PREFIX = "msgflash:roles:"
REVOKED = "none"


def holder_name(holder: str) -> str:
    """A holder as the table keys it (as MSGFLASH_ROLES does): `sub:<subject>` exactly, an email lower-cased."""
    if not ROLE_HOLDER_RE.fullmatch(holder):
        raise ValueError(f"{holder!r} is neither 'sub:<subject>' nor an email address")
    return holder if holder.startswith("sub:") else holder.lower()


def _entry(value: object) -> Role | None:
    """A stored value: a role, or None for a revocation (and for anything this version does not know)."""
    try:
        return Role(text(value))
    except ValueError:
        return None


class RedisRoles:
    """The runtime overrides of one Redis: read by every call of a signed-in person, written by the CLI."""

    def __init__(self, redis: Any, *, prefix: str = KEY_PREFIX) -> None:  # a redis.asyncio.Redis
        self._redis = redis
        self._prefix = prefix

    async def lookup(self, workspace: str, holders: list[str]) -> dict[str, Role | None]:
        """The overrides of `holders` in `workspace` that exist (None: revoked); holders without one are absent."""
        values: list[object] = await self._redis.hmget(self._prefix + workspace, holders)
        return {holder: _entry(value) for holder, value in zip(holders, values, strict=True) if value is not None}

    async def grant(self, workspace: str, holder: str, role: Role) -> None:
        await self._redis.hset(self._prefix + workspace, holder_name(holder), role.value)

    async def revoke(self, workspace: str, holder: str) -> None:
        await self._redis.hset(self._prefix + workspace, holder_name(holder), REVOKED)

    async def entries(self, workspace: str) -> dict[str, Role | None]:
        """Every override in `workspace`, revocations included (None)."""
        stored: dict[object, object] = await self._redis.hgetall(self._prefix + workspace)
        return {text(holder): _entry(value) for holder, value in stored.items()}
