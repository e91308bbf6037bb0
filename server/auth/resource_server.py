"""Wiring resource-server mode into the Streamable HTTP app, through the SDK's public auth API.

The SDK does the HTTP part: it reads the bearer token, asks our verifier (server/auth/verifier.py), answers
401/403 with a `WWW-Authenticate` naming the RFC 9728 metadata URL, and serves that metadata. Issuer and
resource are handed to it as strings, which `AuthSettings` keeps exactly (an `AnyHttpUrl` object would gain
a trailing slash the clients then compare against the issuer's own and refuse). Its challenges carry no
`scope=`: the scope gate adds it, and answers the per-tool step-up challenge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.auth.routes import build_resource_metadata_url
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.middleware import Middleware

from ..clock import Clock
from ..core.settings import Settings
from ..registry import ToolSpec
from . import scopes
from .jwks import KeySet
from .scope_gate import ScopeGate
from .verifier import JwtVerifier

MCP_PATH = "/mcp"


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


def gate(app: Starlette, settings: Settings, specs: list[ToolSpec]) -> None:
    """Adds the scope gate (server/auth/scope_gate.py) to the SDK's Streamable HTTP app, inside its
    authentication (after it in `user_middleware`, which Starlette assembles on the first request), where the
    verified token's scopes are known."""
    assert settings.public_url is not None
    metadata = str(build_resource_metadata_url(AnyHttpUrl(resource_url(settings.public_url))))
    needed = {spec.name: scopes.needed(spec.effect) for spec in specs}
    app.user_middleware.append(Middleware(
        ScopeGate, needed=needed, baseline=scopes.BASELINE, resource_metadata_url=metadata, path=MCP_PATH
    ))
