"""`msgflash-mcp roles grant|revoke|list`: the operator's runtime role table (server/auth/role_store.py).

It writes to the Redis the replicas share (`MSGFLASH_REDIS_URL`), so a grant or a revocation applies on every
replica at its next call, without a restart. `list` shows the effective table: MSGFLASH_ROLES with the runtime
entries over it. Output goes to stdout (this is not the stdio server); problems go to stderr with exit code 2.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import anyio

from ..core.settings import Role, Settings
from .role_store import RedisRoles, holder_name

TIMEOUT = 10.0  # seconds the whole command may take on Redis


class RolesCliError(Exception):
    """A problem the operator can fix; its message says how."""


def workspace_names(settings: Settings) -> list[str]:
    """The workspaces this configuration serves (the sandbox's own when it runs on the sandbox)."""
    if settings.use_sandbox:
        from ..runtime import sandbox_settings

        settings = sandbox_settings(settings)
    return (["personal"] if settings.api_key is not None else []) + [team.name for team in settings.teams]


def run_roles(settings: Settings, action: str, workspace: str | None, holder: str | None, role: str | None) -> int:
    try:
        lines = anyio.run(_run, settings, action, workspace, holder, role)
    except RolesCliError as exc:
        sys.stderr.write(f"msgflash-mcp: {exc}\n")
        return 2
    for line in lines:
        sys.stdout.write(line + "\n")
    return 0


async def _run(settings: Settings, action: str, workspace: str | None, holder: str | None,
               role: str | None) -> list[str]:
    if settings.oauth_issuer is None:
        raise RolesCliError("roles apply to signed-in people: set MSGFLASH_OAUTH_ISSUER (resource-server mode)")
    if settings.redis_url is None:
        raise RolesCliError("runtime roles live in the Redis replicas share: set MSGFLASH_REDIS_URL "
                            "(without one, roles come only from MSGFLASH_ROLES)")
    known = workspace_names(settings)
    if workspace is not None and workspace not in known:
        raise RolesCliError(f"unknown workspace {workspace!r}; this configuration serves: {', '.join(known)}")
    try:
        name = holder_name(holder) if holder is not None else None
        granted = Role(role) if role is not None else None
    except ValueError as exc:
        raise RolesCliError(str(exc)) from None
    import redis.asyncio as aioredis

    redis = aioredis.from_url(settings.redis_url.get_secret_value())
    try:
        with anyio.fail_after(TIMEOUT):
            store = RedisRoles(redis)
            if action == "grant":
                assert workspace is not None and name is not None and granted is not None
                await store.grant(workspace, name, granted)
                return [f"granted {granted.value} in {workspace} to {name}"]
            if action == "revoke":
                assert workspace is not None and name is not None
                await store.revoke(workspace, name)
                return [f"revoked {name}'s role in {workspace} (refused at their next call on every replica)"]
            return [line for each in ([workspace] if workspace else known)
                    for line in _listing(each, settings.roles.get(each, {}), await store.entries(each))]
    except (OSError, TimeoutError) as exc:
        raise RolesCliError(f"could not reach MSGFLASH_REDIS_URL: {type(exc).__name__}") from None
    except Exception as exc:  # redis-py's own errors (ConnectionError is not an OSError there)
        if type(exc).__module__.startswith("redis"):
            raise RolesCliError(f"could not reach MSGFLASH_REDIS_URL: {type(exc).__name__}") from None
        raise
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(TIMEOUT):
            await redis.aclose()


def _listing(workspace: str, configured: Mapping[str, Role], runtime: Mapping[str, Role | None]) -> list[str]:
    """One line per holder: workspace, holder, effective role ("none": revoked), and where it comes from."""
    lines: list[str] = []
    for holder in sorted({*configured, *runtime}):
        if holder in runtime:
            now, was = runtime[holder], configured.get(holder)
            source = "runtime" + (f", MSGFLASH_ROLES says {was.value}" if was is not None else "")
            lines.append(f"{workspace}\t{holder}\t{now.value if now is not None else 'none'}\t({source})")
        else:
            lines.append(f"{workspace}\t{holder}\t{configured[holder].value}\t(MSGFLASH_ROLES)")
    return lines
