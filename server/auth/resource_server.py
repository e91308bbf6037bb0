"""Wiring resource-server mode into the Streamable HTTP app, through the SDK's public auth API.

The SDK does the HTTP part: it reads the bearer token, asks our verifier (server/auth/verifier.py), answers
401/403 with a `WWW-Authenticate` naming the RFC 9728 metadata URL, and serves that metadata. Issuer and
resource are handed to it as strings, which `AuthSettings` keeps exactly (an `AnyHttpUrl` object would gain
a trailing slash the clients then compare against the issuer's own and refuse). Its challenges carry no
`scope=`, so `ScopeChallenge` adds the baseline scope to them: a client then asks for what it needs first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mcp.server.auth.settings import AuthSettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..clock import Clock
from ..settings import Settings
from . import scopes
from .jwks import KeySet
from .verifier import JwtVerifier

MCP_PATH = "/mcp"
_HAS_SCOPE = re.compile(rb"(^|[\s,])scope=", re.IGNORECASE)


def resource_url(public_url: str) -> str:
    """This server's resource identifier (RFC 8707/9728): the MCP endpoint at its public URL."""
    return public_url.rstrip("/") + MCP_PATH


def oauth_auth(settings: Settings, clock: Callable[[], Clock]) -> dict[str, Any]:
    """`token_verifier` and `auth` for `build_server` in resource-server mode (MSGFLASH_OAUTH_ISSUER set)."""
    assert settings.oauth_issuer is not None and settings.public_url is not None
    resource = resource_url(settings.public_url)
    verifier = JwtVerifier(settings.oauth_issuer, resource, KeySet(settings.oauth_issuer, clock=clock), clock=clock)
    auth = AuthSettings.model_validate({
        "issuer_url": settings.oauth_issuer,
        "resource_server_url": resource,
        "required_scopes": [scopes.BASELINE],
        "validate_token_resource": False,  # the verifier checks `aud` against the resource itself
    })
    return {"token_verifier": verifier, "auth": auth}


class ScopeChallenge:
    """ASGI middleware: adds `scope="<baseline>"` to the SDK's Bearer challenges (401 and 403) that lack one."""

    def __init__(self, app: ASGIApp, *, scope: str) -> None:
        self.app = app
        self._scope = scope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def challenge(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (401, 403):
                message = {**message, "headers": [self._with_scope(k, v) for k, v in message.get("headers", [])]}
            await send(message)

        await self.app(scope, receive, challenge)

    def _with_scope(self, key: bytes, value: bytes) -> tuple[bytes, bytes]:
        if key.lower() != b"www-authenticate" or not value.lower().startswith(b"bearer") or _HAS_SCOPE.search(value):
            return key, value
        return key, value + f', scope="{self._scope}"'.encode()
