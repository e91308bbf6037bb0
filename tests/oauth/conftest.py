"""Resource-server mode end to end with real components: the pinned `oidc-provider` (tests/oauth/provider.py),
the Streamable HTTP app under uvicorn on a real port, the sandbox behind it, and the SDK's own OAuth clients.

A missing Node or `oidc-provider` is a failure, not a skip (run `bash tests/prepare.sh`), as for tests/clients.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from msgflash_mcp.server.transport.serve import http_app

from tests.conftest import make_settings
from tests.oauth.provider import BOT_ID, BOT_SECRET, READ, OpenIdProvider, running_provider
from tests.redis_server import redis_url  # noqa: F401  (the fixture, for the replicas')
from tests.serving import serving

PRINCIPAL_KEY = "oauth-tests-principal-key-4f1c9a0b7e2d"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never fetched: the dev login stops at it
SANDBOX_WORKSPACES = ("personal", "sandbox-team")
# Roles deny by default (server/auth/roles.py): the tests of tokens, people and scopes run with alice and bob as
# admins and the bot as a viewer everywhere, so no role stands in their way. tests/oauth/test_roles.py sets its own.
EVERYONE_ADMIN: dict[str, dict[str, str]] = {
    name: {"sub:alice": "admin", "sub:bob": "admin", f"sub:{BOT_ID}": "viewer"} for name in SANDBOX_WORKSPACES
}


@dataclass
class Stack:
    provider: OpenIdProvider
    url: str  # the MCP endpoint, also the resource the provider binds tokens to
    app: Any
    audit: Path  # the JSONL audit log

    @property
    def origin(self) -> str:
        return self.url.removesuffix("/mcp")


@dataclass
class MemoryStorage:
    """The SDK's TokenStorage, in memory: a new one is a new registration (what Claude does per connection)."""

    tokens: OAuthToken | None = None
    client: OAuthClientInformationFull | None = None
    registrations: list[str] = field(default_factory=list[str])

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info
        self.registrations.append(client_info.client_id)


@pytest.fixture
def roles() -> dict[str, dict[str, str]]:
    """MSGFLASH_ROLES of the stack (a test module overrides this fixture to set its own)."""
    return EVERYONE_ADMIN


@pytest.fixture
async def stack(
    tmp_path: Path, sandbox_app: Any, monkeypatch: pytest.MonkeyPatch, roles: dict[str, dict[str, str]]
) -> AsyncIterator[Stack]:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        url = f"http://127.0.0.1:{port}/mcp"
        async with running_provider(tmp_path, url) as provider:
            monkeypatch.setenv("MSGFLASH_PRINCIPAL_KEY", PRINCIPAL_KEY)
            audit = tmp_path / "audit.jsonl"
            settings = make_settings(
                oauth_issuer=provider.issuer, public_url=f"http://127.0.0.1:{port}", audit_log=audit, roles=roles
            )
            app = http_app(settings, host="127.0.0.1", port=port, sandbox_app=sandbox_app)
            async with serving((app, sock)):
                yield Stack(provider, url, app, audit)


@pytest.fixture
def oauth_redis_url(redis_url: str) -> str:  # noqa: F811
    """A database of the session's Redis for one test of replicas, emptied first: the role grants, sessions and
    confirmations of one test must not reach the next."""
    import redis

    url = redis_url.removesuffix("/0") + "/5"
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


@pytest.fixture
async def oauth_redis(oauth_redis_url: str) -> AsyncIterator[Any]:
    """A client of that database (redis.asyncio), for tests of what replicas keep there."""
    import redis.asyncio as aioredis

    async with aioredis.from_url(oauth_redis_url) as client:  # closed when the test ends
        yield client


@pytest.fixture
def replica_settings() -> dict[str, Any]:
    """More settings of both replicas (a test module overrides this fixture to set its own)."""
    return {}


@dataclass
class Replicas:
    """Two replicas of one deployment: one Redis, one principal key, one public URL (the resource the provider
    binds tokens to). Behind a load balancer that URL is the balancer's; here, with no proxy, it is replica A's
    address, and a client reaches B directly with a token issued for that resource (`on_b`)."""

    a: Stack
    b: Stack
    redis_url: str

    @property
    def provider(self) -> OpenIdProvider:
        return self.a.provider


def _bound_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
async def replicas(
    tmp_path: Path, sandbox_app: Any, monkeypatch: pytest.MonkeyPatch, roles: dict[str, dict[str, str]],
    oauth_redis_url: str, replica_settings: dict[str, Any],
) -> AsyncIterator[Replicas]:
    """Replicas A and B under uvicorn in front of one sandbox (one MsgFlash account), the real provider."""
    with _bound_socket() as sock_a, _bound_socket() as sock_b:
        origin_a = f"http://127.0.0.1:{sock_a.getsockname()[1]}"
        async with running_provider(tmp_path, origin_a + "/mcp") as provider:
            monkeypatch.setenv("MSGFLASH_PRINCIPAL_KEY", PRINCIPAL_KEY)
            stacks: list[Stack] = []
            apps: list[tuple[Any, socket.socket]] = []
            for name, sock in (("a", sock_a), ("b", sock_b)):
                port = sock.getsockname()[1]
                audit = tmp_path / f"audit-{name}.jsonl"
                settings = make_settings(oauth_issuer=provider.issuer, public_url=origin_a, audit_log=audit,
                                         roles=roles, redis_url=oauth_redis_url, **replica_settings)
                app = http_app(settings, host="127.0.0.1", port=port, sandbox_app=sandbox_app)
                stacks.append(Stack(provider, f"http://127.0.0.1:{port}/mcp", app, audit))
                apps.append((app, sock))
            async with serving(*apps):
                yield Replicas(stacks[0], stacks[1], oauth_redis_url)


@asynccontextmanager
async def mcp_client(url: str, auth: httpx2.Auth, mode: str = "legacy") -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(auth=auth, timeout=20) as http, \
            Client(streamable_http_client(url, http_client=http), mode=mode) as client:
        yield client


def bot_auth(stack: Stack, scope: str = READ) -> ClientCredentialsOAuthProvider:
    return ClientCredentialsOAuthProvider(
        stack.url, MemoryStorage(), BOT_ID, BOT_SECRET, scope=scope, issuer=stack.provider.issuer
    )


def person_auth(stack: Stack, who: str, storage: MemoryStorage | None = None) -> OAuthClientProvider:
    """The SDK's authorization-code + PKCE client, registering itself dynamically, signed in as `who`."""
    pending: list[str] = []

    async def redirect(authorization_url: str) -> None:
        pending.append(authorization_url)

    async def callback() -> AuthorizationCodeResult:
        return await stack.provider.dev_login(pending.pop(), REDIRECT_URI, who)

    metadata = OAuthClientMetadata.model_validate({
        "redirect_uris": [REDIRECT_URI], "client_name": f"tests ({who})",
        "grant_types": ["authorization_code"], "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_post",
    })
    handlers: tuple[Callable[[str], Awaitable[None]], Callable[[], Awaitable[AuthorizationCodeResult]]] = (redirect, callback)
    return OAuthClientProvider(stack.url, metadata, storage or MemoryStorage(), *handlers)
