"""The objects one server shares across every connection, session and tool call.

Built once per `build_server` (so every session of one server shares the limiter, the token store
and the active-workspace map), with Redis-backed variants when MSGFLASH_REDIS_URL is set so that
replicas share them too. The `httpx2.AsyncClient` lives in the server lifespan (`Connection`).
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
import httpx2
from pydantic import SecretStr

from .api import USER_AGENT, ApiClient
from .api.on_first_request import TransportOnFirstRequest
from .api.ratelimit import (
    DEFAULT_HEADROOM,
    MemoryRateLimiter,
    NoRateLimiter,
    RateLimitedTransport,
    RateLimiter,
    RedisRateLimiter,
)
from .api.retry import RetryPolicy
from .audit import AuditLog
from .campaign_record import CampaignRecord, record_for
from .clock import SYSTEM_CLOCK, Clock
from .core.settings import Settings, TeamConfig
from .core.workspaces import ActiveStore, MemoryActiveStore, RedisActiveStore, Workspaces
from .guard import Guard, TokenStore
from .guard.policy import GuardPolicy
from .guard.write_lock import WriteLocks
from .install_key import audit_key, principal_key
from .opt_outs import OptOutStore, opt_outs_for
from .redact import Scrubber

if TYPE_CHECKING:
    from starlette.types import ASGIApp

log = logging.getLogger("msgflash_mcp")

SANDBOX_BASE_URL = "http://sandbox.invalid"
CLOSE_TIMEOUT = 5.0  # seconds closing the runtime may take at the end of its last connection  # never resolved: requests go through the in-process transport


def default_sandbox_db() -> str:
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("msgflash-mcp", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / "sandbox.sqlite3")


def sandbox_settings(settings: Settings) -> Settings:
    """The same settings with the sandbox's documented test keys as the configured workspaces."""
    from ..sandbox.keys import PERSONAL_KEY, TEAM_ID, TEAM_KEY, TEAM_NAME

    team = TeamConfig.model_validate({"name": TEAM_NAME, "team_id": TEAM_ID, "key": TEAM_KEY})
    default = settings.default_workspace if settings.default_workspace in ("personal", TEAM_NAME) else "personal"
    return settings.model_copy(update={"api_key": SecretStr(PERSONAL_KEY), "teams": [team], "default_workspace": default})


def guard_policy(settings: Settings) -> GuardPolicy:
    """What the guard enforces, from the configuration: the guard is given this, never Settings."""
    allowlist, urls = settings.recipient_allowlist, settings.url_allowlist
    return GuardPolicy(
        confirm=settings.confirm,
        dry_run=settings.dry_run,
        recipient_allowlist=tuple(allowlist) if allowlist is not None else None,
        max_recipients=settings.max_recipients,
        allow_statuses=settings.allow_statuses,
        url_allowlist=tuple(urls) if urls is not None else None,
    )


@dataclass
class Runtime:
    settings: Settings
    workspaces: Workspaces
    limiter: RateLimiter
    guard: Guard
    audit: AuditLog
    scrubber: Scrubber
    campaigns: CampaignRecord  # the campaigns created through this server (server/campaign_record.py)
    opt_outs: OptOutStore  # the numbers each workspace must not message (server/opt_outs.py)
    sandbox_app: ASGIApp | None = None
    http_transport: httpx2.AsyncBaseTransport | None = None
    redis: Any = None
    # One writer at a time per workspace, across replicas when `redis` is shared (guard/write_lock.py).
    write_locks: WriteLocks = field(default_factory=WriteLocks)
    client_log_level: str | None = None  # what a legacy client asked with logging/setLevel (server/extras.py)
    # The server's one clock (server/clock.py). Tests point it at the sandbox's time so simulated time moves
    # both sides; the limiter and guard made by `create` are given it there.
    clock: Clock = SYSTEM_CLOCK
    connections: int = field(default=0, init=False)  # open `connect`s: the last one to end closes the runtime

    async def aclose(self) -> None:
        """Close what the runtime opened: the campaign record, the opt-out store and the Redis client. (Each connection's HTTP
        client is closed when the connection ends: `connect`.)"""
        await self.campaigns.close()
        await self.opt_outs.close()
        if self.redis is not None:
            await self.redis.aclose()

    @functools.cached_property
    def principal_key(self) -> bytes:
        """The install's key naming HTTP principals (server/install_key.py); read, or made, on first need."""
        return principal_key(self.settings)

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox_app is not None

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        sandbox_app: ASGIApp | None = None,
        http_transport: httpx2.AsyncBaseTransport | None = None,
        limiter: RateLimiter | None = None,
        token_store: TokenStore | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> Runtime:
        if settings.use_sandbox:
            settings = sandbox_settings(settings)
            if sandbox_app is None and http_transport is None:
                from ..sandbox.on_first_use import SandboxOnFirstUse

                # Made on the first request, its default file found then too: listing tools never reaches it
                # (sandbox/on_first_use.py).
                db = settings.sandbox_db or default_sandbox_db
                sandbox_app = SandboxOnFirstUse(db_path=db, rate_limit=settings.sandbox_rate_limit)
        redis = None
        active: ActiveStore = MemoryActiveStore()
        rate = settings.rate_limit
        if settings.redis_url is not None:
            import redis.asyncio as aioredis

            redis = aioredis.from_url(settings.redis_url.get_secret_value())
            active = RedisActiveStore(redis)
            if limiter is None and rate:
                limiter = RedisRateLimiter(redis, rate=rate, headroom=DEFAULT_HEADROOM, sleep=clock.sleep)
            if token_store is None:
                from .guard.redis_store import RedisTokenStore

                token_store = RedisTokenStore(redis)
        if limiter is None:
            limiter = (
                MemoryRateLimiter(rate=rate, headroom=DEFAULT_HEADROOM, clock=clock.monotonic, sleep=clock.sleep)
                if rate
                else NoRateLimiter()
            )
        workspaces = Workspaces(settings, active, sandbox_label=settings.use_sandbox)
        return cls(
            settings=settings,
            workspaces=workspaces,
            limiter=limiter,
            guard=Guard(guard_policy(settings), token_store, clock=clock.timestamp),
            audit=AuditLog(settings.audit_log, audit_key(settings) if settings.audit_log else b""),
            scrubber=Scrubber(settings.secrets()),
            campaigns=record_for(settings, redis),
            opt_outs=opt_outs_for(settings, redis),
            sandbox_app=sandbox_app,
            http_transport=http_transport,
            redis=redis,
            write_locks=WriteLocks(redis),
            clock=clock,
        )

    def http_client(self) -> httpx2.AsyncClient:
        timeout = httpx2.Timeout(self.settings.timeout, connect=min(10.0, self.settings.timeout))
        headers = {"user-agent": USER_AGENT, "accept": "application/json"}
        inner = self.http_transport
        if inner is None and self.sandbox_app is not None:
            from ..sandbox.inprocess import sandbox_transport

            inner = sandbox_transport(self.sandbox_app)
        base_url = SANDBOX_BASE_URL if self.sandbox_app is not None else self.settings.base_url
        # Made by the first request: its SSL context is most of start-up's own cost (server/api/on_first_request.py).
        transport = RateLimitedTransport(inner or TransportOnFirstRequest(httpx2.AsyncHTTPTransport), self.limiter)
        return httpx2.AsyncClient(
            transport=transport, base_url=base_url, timeout=timeout, headers=headers, follow_redirects=False
        )


@dataclass
class Connection:
    """What the MCP lifespan yields: per process on stdio and HTTP, per client in memory."""

    runtime: Runtime
    api: ApiClient
    connection_id: str
    # How a person confirms on this request: "model" (a form when the client shows one, else a token the
    # model relays) or "card" (the MCP Apps review card: a token only the card holds). The card sets it on a
    # copy for the requests it steers (server/apps/card.py); the guard reads it (server/call/binding.py).
    channel: Literal["model", "card"] = "model"


@asynccontextmanager
async def connect(runtime: Runtime) -> AsyncGenerator[Connection, None]:
    """One connection's HTTP client (closed when it ends). The last connection to end closes the runtime:
    on stdio and HTTP that is the process's one lifespan; in memory, what the next client opens again."""
    runtime.connections += 1

    async def sleep(seconds: float) -> None:
        # Read at each retry, not now: tests point the runtime at another clock after it is made.
        await runtime.clock.sleep(seconds)

    try:
        async with runtime.http_client() as http:
            api = ApiClient(http, policy=RetryPolicy(), deadline=runtime.settings.call_deadline, sleep=sleep)
            yield Connection(runtime, api, "conn-" + secrets.token_hex(8))
    finally:
        runtime.connections -= 1
        if runtime.connections == 0:
            # Even when the connection ends by cancellation; bounded, so a stuck Redis cannot hold shutdown.
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT):
                await runtime.aclose()
