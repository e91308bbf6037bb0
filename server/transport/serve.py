"""Running the server: stdio, or Streamable HTTP on loopback with Host/Origin checks and either static bearer
tokens or, in resource-server mode (server/auth/), the OAuth access tokens of signed-in people."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import sys
from typing import Any

import anyio
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from starlette.middleware import Middleware

from ..app import build_server, selected_specs
from ..call.principal import token_principal
from ..clock import Clock
from ..core.settings import ConfigError, ConfirmMode, Settings
from ..install_key import principal_key, warn_if_replicas_cannot_agree
from ..logs import third_party_level
from ..observability import tracing
from ..redact import Scrubber, install_log_scrubbing
from .session_cap import SessionCap

log = logging.getLogger("msgflash_mcp")


class StaticTokenVerifier(TokenVerifier):
    """MSGFLASH_HTTP_TOKEN as a bearer token. Several comma-separated tokens name several principals,
    each identified by a keyed hash of its token (server/call/principal.py), never by its position."""

    def __init__(self, tokens: str, key: bytes) -> None:
        self._tokens = [t.strip() for t in tokens.split(",") if t.strip()]
        self._key = key

    async def verify_token(self, token: str) -> AccessToken | None:
        # Compare against every configured token (constant time each), so timing says nothing of which.
        matched = False
        for expected in self._tokens:
            matched |= hmac.compare_digest(token.encode(), expected.encode())
        if not matched:
            return None
        principal = token_principal(token, self._key)
        return AccessToken(token=token, client_id=principal, scopes=[], subject=principal)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def transport_security(host: str, port: int, extra_hosts: list[str] | None = None) -> TransportSecuritySettings:
    """Host/Origin checks: loopback names always; the bind name; and MSGFLASH_ALLOWED_HOSTS, the public
    names a reverse proxy or load balancer forwards (`mcp.example.com` allows it on any port and its
    https/http origins). A wildcard bind (0.0.0.0) adds nothing by itself: name the hosts."""
    hosts = [f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"]
    if not is_loopback(host) and host not in ("0.0.0.0", "::"):
        hosts.append(f"{host}:{port}")
    origins = [f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://[::1]:{port}"]
    for name in extra_hosts or []:
        hosts += [name, f"{name}:*"]
        origins += [f"https://{name}", f"http://{name}"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def http_app(settings: Settings, *, host: str = "127.0.0.1", port: int = 8765, **build: Any) -> Any:
    """The Streamable HTTP ASGI app (used by `serve_mcp` and by tests in-process)."""
    # Imported here: the resource server brings PyJWT and cryptography, which a stdio start-up never needs.
    from ..auth.resource_server import gate, oauth_auth

    def clock() -> Clock:
        return server.runtime.clock  # read at each use: a test may point the runtime at another clock

    auth: dict[str, Any] = {}
    if settings.oauth_issuer is not None:
        auth = oauth_auth(settings, clock)
    elif settings.http_token is not None:
        resource = f"http://{host}:{port}/mcp"
        auth = {
            "token_verifier": StaticTokenVerifier(
                settings.http_token.get_secret_value(),
                principal_key(settings),
            ),
            # Strings, which AuthSettings keeps exactly (an AnyHttpUrl object would gain a trailing slash).
            "auth": AuthSettings.model_validate({
                "issuer_url": f"http://{host}:{port}",
                "resource_server_url": resource,
                "validate_token_resource": False,
            }),
        }
    server = build_server(settings, **build, **auth)
    security = transport_security(host, port, settings.allowed_hosts)
    app = server.streamable_http_app(transport_security=security, host=host)
    runtime = server.runtime
    app.state.runtime = runtime  # what the app serves with (tests point its clock elsewhere)

    def monotonic() -> float:
        # The runtime's clock, read at each request: a test that points the runtime at another clock moves this too.
        return runtime.clock.monotonic()

    # Just inside the SDK's authentication (the first of `user_middleware`, when on), where the caller's verified
    # principal is known: a person's new token draws on the same allowance. Before the scope gate, so a refused
    # opening request costs no session and no body read.
    def timestamp() -> float:
        return runtime.clock.timestamp()  # replicas sharing a Redis count sessions on the time they share

    app.user_middleware.append(Middleware(
        SessionCap, limit=settings.max_sessions_per_client, key=principal_key(settings), clock=monotonic,
        redis=runtime.redis, wall_clock=timestamp,
    ))
    if settings.oauth_issuer is not None:
        gate(app, settings, selected_specs(server.runtime.settings))
    return app


async def _replicas_share_the_principal_key(settings: Settings) -> None:
    """Refuses to start beside replicas that name people with another key (server/transport/replica_key.py)."""
    import redis.asyncio as aioredis

    from .replica_key import claim_or_compare

    assert settings.redis_url is not None
    client = aioredis.from_url(settings.redis_url.get_secret_value(), socket_connect_timeout=5, socket_timeout=5)
    try:
        with anyio.fail_after(10):
            problem = await claim_or_compare(client, principal_key(settings))
    finally:
        await client.aclose()
    if problem is not None:
        raise ConfigError(problem)


def announce(settings: Settings, runtime_is_sandbox: bool) -> None:
    if runtime_is_sandbox:
        log.warning("msgflash-mcp: running on the embedded SANDBOX (no key configured or --sandbox); nothing reaches real people")
    if settings.confirm is ConfirmMode.OFF and not settings.read_only:
        log.warning("msgflash-mcp: MSGFLASH_CONFIRM=off: sends and deletes act WITHOUT confirmation")
    if settings.dry_run:
        log.warning("msgflash-mcp: dry-run: mutating tools only preview")


def serve_mcp(settings: Settings, *, transport: str, host: str, port: int) -> None:
    install_log_scrubbing(Scrubber(settings.secrets()))
    announce(settings, settings.use_sandbox)
    warn_if_replicas_cannot_agree(settings)
    with tracing():  # OTLP export when OTEL_* asks for it (server/observability.py), flushed when serving ends
        _serve(settings, transport=transport, host=host, port=port)


def _serve(settings: Settings, *, transport: str, host: str, port: int) -> None:
    if transport == "stdio":
        server = build_server(settings)
        server.run("stdio")
        return
    import uvicorn

    if not is_loopback(host):
        log.warning(
            "msgflash-mcp: HTTP bound to %s, not loopback: anyone who can reach it can act on your account%s",
            host,
            "" if settings.http_token else " (and MSGFLASH_HTTP_TOKEN is not set!)",
        )
    if settings.redis_url is not None:
        anyio.run(_replicas_share_the_principal_key, settings)
    app = http_app(settings, host=host, port=port)
    sys.stderr.write(f"msgflash-mcp: Streamable HTTP on http://{host}:{port}/mcp\n")
    uvicorn.run(app, host=host, port=port, log_level=third_party_level(settings).lower())
