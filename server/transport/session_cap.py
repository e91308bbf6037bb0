"""At most `MSGFLASH_MAX_SESSIONS_PER_CLIENT` open Streamable HTTP sessions per caller.

The SDK caps sessions for the whole server (10 000) and reaps one after 30 idle minutes. Alone, that
let one token holder open 9,493 sessions in 42 s, after which every client got 503 for 30 minutes.
This middleware sits in front of the transport and refuses a caller's next opening request once it
holds its share, with a 429 that says what to do; the other callers keep theirs.

A caller is the principal of its verified token (server/call/principal.py `verified_principal`), so the
middleware sits just inside the SDK's authentication: in resource-server mode that is the person, the keyed
hash of (issuer, subject), and a refreshed token or a new client registration (a new token, the same person)
draws on the same allowance; with static tokens it is the token's keyed hash. A request that authentication
refused passes uncounted (the SDK answers 401 and opens no session), so a bogus token buys no allowance and
spends nobody's. Without authentication, a caller is its network address (nothing else tells tokenless
clients apart). Sessions are seen from the outside, through public behaviour only: a handshake-era request
without a session id that is answered with an `Mcp-Session-Id` opened one; a DELETE answered 2xx, or a 404
for that id, closed it; one without a request for the SDK's idle timeout has been reaped. 2026-07-28
requests open no session and pass.

One process counts in memory. Replicas sharing a Redis (`MSGFLASH_REDIS_URL`) count in it (`RedisSessions`), so
a person's sessions on every replica draw on one allowance: a sorted set per caller of session id -> last request
(wall-clock seconds, the one time replicas share), trimmed to the idle timeout at each opening, so the sessions
of a replica that crashed stop counting when the SDK would have reaped them. An opening request in flight holds
a ticket in the set that expires after `OPENING_GRACE`, so a replica dying mid-handshake leaks no slot for long.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import principal_components
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from mcp.server.streamable_http_manager import DEFAULT_SESSION_IDLE_TIMEOUT
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..call.principal import verified_principal

KEY_PREFIX = "msgflash:sessions:"
BOOKKEEPING_TIMEOUT = 5.0  # seconds the bookkeeping after a response may take (shielded: it runs even when cancelled)
OPENING_GRACE = 60.0  # seconds an opening request's ticket holds a slot (an initialize answers far sooner)

# Trim the idle, then take a slot if one is free: atomic, so two replicas cannot both take the last one.
_RESERVE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class RedisSessions:
    """The sessions of every caller, in the Redis replicas share (the runtime's client: server/runtime.py)."""

    def __init__(self, redis: Any, *, clock: Callable[[], float], idle_timeout: float,
                 prefix: str = KEY_PREFIX) -> None:
        """`clock`: wall-clock seconds (server/clock.py `Clock.timestamp`), the same on every replica."""
        self._redis = redis
        self._clock = clock
        self._idle = idle_timeout
        self._prefix = prefix
        self._ttl = int(idle_timeout + OPENING_GRACE) + 1  # a caller's whole set goes once it is all idle

    async def open_sessions(self, caller: str) -> int:
        horizon = self._clock() - self._idle
        return int(await self._redis.zcount(self._prefix + caller, horizon, "+inf"))

    async def take(self, caller: str, limit: int) -> str | None:
        """A ticket holding one slot of `caller`'s allowance until `opened`, or None when all `limit` are taken."""
        now = self._clock()
        ticket = "opening:" + secrets.token_hex(8)
        # The ticket's "last request" is back-dated so it falls out of the idle window OPENING_GRACE from now.
        score = now - self._idle + OPENING_GRACE
        taken = await self._redis.eval(_RESERVE, 1, self._prefix + caller, now - self._idle, limit, score, ticket,
                                       self._ttl)
        return ticket if int(taken) else None

    async def opened(self, caller: str, ticket: str, session_id: str | None) -> None:
        """The opening request was answered: its ticket becomes the session it opened, if it opened one."""
        key = self._prefix + caller
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(key, ticket)
            if session_id is not None:
                pipe.zadd(key, {session_id: self._clock()})
            pipe.expire(key, self._ttl)
            await pipe.execute()

    async def seen(self, caller: str, session_id: str) -> None:
        key = self._prefix + caller
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {session_id: self._clock()}, xx=True)  # only a session this caller opened
            pipe.expire(key, self._ttl)
            await pipe.execute()

    async def closed(self, caller: str, session_id: str) -> None:
        await self._redis.zrem(self._prefix + caller, session_id)


@dataclass
class _Client:
    sessions: dict[str, float] = field(default_factory=dict[str, float])  # session id -> last request (monotonic)
    opening: int = 0  # opening requests admitted and not answered yet


class MemorySessions:
    """The sessions of every caller, counted by this process alone (monotonic clock)."""

    def __init__(self, *, clock: Callable[[], float], idle_timeout: float) -> None:
        self._clock = clock
        self._idle = idle_timeout
        self._clients: dict[str, _Client] = {}

    def open_sessions(self, caller: str) -> int:
        entry = self._clients.get(caller)
        return len(entry.sessions) if entry else 0

    async def take(self, caller: str, limit: int) -> str | None:
        client = self._current(caller)
        if len(client.sessions) + client.opening >= limit:
            self._forget_if_empty(caller)
            return None
        client.opening += 1
        return "opening"

    async def opened(self, caller: str, ticket: str, session_id: str | None) -> None:
        client = self._clients.setdefault(caller, _Client())
        client.opening -= 1
        if session_id is not None:
            client.sessions[session_id] = self._clock()
        self._forget_if_empty(caller)

    async def seen(self, caller: str, session_id: str) -> None:
        client = self._current(caller)
        if session_id in client.sessions:  # only a session this caller opened
            client.sessions[session_id] = self._clock()
        self._forget_if_empty(caller)

    async def closed(self, caller: str, session_id: str) -> None:
        self._current(caller).sessions.pop(session_id, None)
        self._forget_if_empty(caller)

    def _current(self, caller: str) -> _Client:
        """The caller's entry, without the sessions the SDK has reaped for idleness by now."""
        client = self._clients.setdefault(caller, _Client())
        horizon = self._clock() - self._idle
        for session_id in [s for s, seen in client.sessions.items() if seen < horizon]:
            del client.sessions[session_id]
        return client

    def _forget_if_empty(self, caller: str) -> None:
        client = self._clients.get(caller)
        if client is not None and not client.sessions and not client.opening:
            del self._clients[caller]


class SessionCap:
    """ASGI middleware: per-caller session accounting in front of the SDK's session manager, inside its
    authentication (server/transport/serve.py places it)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        key: bytes,
        clock: Callable[[], float],
        idle_timeout: float = DEFAULT_SESSION_IDLE_TIMEOUT,
        redis: Any = None,
        wall_clock: Callable[[], float] | None = None,
    ) -> None:
        """`key`: the install's principal key; `clock`: monotonic seconds, the runtime's (server/clock.py
        `Clock.monotonic`), read on each request. `redis`: the runtime's client when replicas share one, with
        `wall_clock` (`Clock.timestamp`) for the times they share; None: this process counts alone."""
        self.app = app
        self._limit = limit
        self._key = key
        self._idle = idle_timeout
        self._memory = MemorySessions(clock=clock, idle_timeout=idle_timeout)
        self._sessions: MemorySessions | RedisSessions = self._memory
        if redis is not None:
            assert wall_clock is not None, "replicas count sessions on the wall clock"
            self._sessions = RedisSessions(redis, clock=wall_clock, idle_timeout=idle_timeout)

    def open_sessions(self, client: str) -> int:
        """What this process alone counts for `client` (replicas sharing a Redis count there)."""
        return self._memory.open_sessions(client)

    def _caller_of(self, scope: Scope) -> tuple[str, str] | None:
        """(principal, what it is, for the refusal), or None for a request authentication refused."""
        user = scope.get("user")
        if isinstance(user, AuthenticatedUser):
            _client, issuer, subject = principal_components(user.access_token)
            kind = "person" if issuer is not None and subject is not None else "token"
            return verified_principal(user.access_token, self._key), kind
        if "user" in scope:  # authentication is on and found no valid token: 401, no session
            return None
        address = scope.get("client")
        return "addr:" + (str(address[0]) if address else "unknown"), "address"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        version = headers.get(MCP_PROTOCOL_VERSION_HEADER.lower())
        caller = self._caller_of(scope)
        session_id = headers.get(MCP_SESSION_ID_HEADER.lower())
        if caller is None or (version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS) or (
            session_id is None and scope["method"] != "POST"
        ):
            # Refused by authentication, the 2026-07-28 era, or a request that neither opens nor uses a session.
            await self.app(scope, receive, send)
            return
        name, kind = caller
        sessions = self._sessions
        status: list[int] = []
        opened: list[str] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
                for key, value in message.get("headers", []):
                    if key.decode("latin-1").lower() == MCP_SESSION_ID_HEADER.lower():
                        opened.append(value.decode("latin-1"))
            await send(message)

        if session_id is None:  # an opening request: it holds a slot until answered
            ticket = await sessions.take(name, self._limit)
            if ticket is None:
                await _refuse(send, kind, self._limit, self._idle)
                return
            try:
                await self.app(scope, receive, watch)
            finally:
                with anyio.CancelScope(shield=True), anyio.move_on_after(BOOKKEEPING_TIMEOUT):
                    await sessions.opened(name, ticket, opened[0] if opened else None)
            return
        await sessions.seen(name, session_id)
        try:
            await self.app(scope, receive, watch)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(BOOKKEEPING_TIMEOUT):
                if status and (status[0] == 404 or (scope["method"] == "DELETE" and 200 <= status[0] < 300)):
                    await sessions.closed(name, session_id)
                else:
                    await sessions.seen(name, session_id)  # a long stream ending is activity too


def _headers(scope: Scope) -> dict[str, str]:
    return {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope.get("headers", [])}


_WHO = {
    "person": "this signed-in person, across all their tokens and clients",
    "token": "this token",
    "address": "this network address",
}


async def _refuse(send: Send, kind: str, limit: int, idle: float) -> None:
    message = (
        f"Too many open MCP sessions for {_WHO[kind]} ({limit}, MSGFLASH_MAX_SESSIONS_PER_CLIENT): close sessions "
        f"you no longer use (DELETE /mcp with their Mcp-Session-Id) or wait for idle ones to expire "
        f"({round(idle / 60)} minutes)"
    )
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": message}}).encode()
    await send({
        "type": "http.response.start",
        "status": 429,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(int(idle)).encode())],
    })
    await send({"type": "http.response.body", "body": body})
