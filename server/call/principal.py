"""Who is calling: the principal that owns an active workspace, confirmation tokens and audit lines.

- **HTTP in resource-server mode** (`MSGFLASH_OAUTH_ISSUER`, server/auth/): a person, not a client. The
  principal is a keyed hash (the install's key, below) of the token's (issuer, subject), never of the OAuth
  client: hosts such as Claude register a new client per connection, and a person's active workspace and
  pending confirmations must survive that, while another person's subject never reaches them.
- **HTTP with a bearer token** (`MSGFLASH_HTTP_TOKEN`, comma-separated for several clients): the
  principal is a keyed hash of the token, `HMAC-SHA256(key, token)`, never its position in the list,
  so reordering, adding or removing tokens keeps every identity (and its active workspace and
  pending confirmations). The key is the install's (server/install_key.py): `MSGFLASH_PRINCIPAL_KEY`
  when set, else a random key kept in the user data dir. It is secret, so neither a principal nor a
  Redis key name derived from it lets anyone confirm a guessed token offline (replicas sharing a
  Redis must share the key).
- **HTTP without a token, with a session** (the 2025 era): each MCP session is its own principal,
  a keyed hash (same key) of the session id the server minted (the transport refuses ids it did not mint, and
  the hash keeps raw session ids out of audit lines and Redis keys). A 2026-07-28 request is never
  checked against a session, so its `Mcp-Session-Id` header, if any, is ignored.
- **HTTP without a token and without a session** (the 2026-07-28 era, stateless): nothing tells one
  client from another. A per-request principal would break what hangs on the principal across
  requests (redeeming a confirmation token, single use of an accepted elicitation round), so these
  requests share one principal, `ANONYMOUS`, and `switch_workspace` refuses to store an active
  workspace for it (it would be every such client's): they pass `workspace` on each call, or the
  operator sets `MSGFLASH_HTTP_TOKEN`. Confirmation tokens stay unguessable bearer capabilities.
- **stdio and in-memory**: the connection (one client per process or per in-memory client).

Beside the principal, `caller_of` names the client and, for a signed-in person, the token's scopes, for the audit
only (server/call/audit_step.py): a client is never identity (Claude registers one per connection).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken, principal_components

from .era import modern_era

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context

    from ..runtime import Connection

HTTP_PREFIX = "http:"
SESSION_PREFIX = "http-session:"
ANONYMOUS = "http:anonymous"  # tokenless, sessionless HTTP: see the module docstring


def _mac(value: str, key: bytes) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]  # 128 bits


def token_principal(token: str, key: bytes) -> str:
    """The stable, position-independent identity of a bearer token (the verifier's `subject`)."""
    return "tok-" + _mac(token, key)


def person_principal(issuer: str, subject: str, key: bytes) -> str:
    """The identity of a signed-in person: `sub` is unique only per issuer, so both are hashed, unambiguously."""
    return "sub-" + _mac(json.dumps([issuer, subject]), key)


def verified_principal(token: AccessToken, key: bytes) -> str:
    """The principal a verified bearer token speaks for: a signed-in person, whatever client or token they use,
    or the static token's own keyed hash (the verifier's `subject`). The call path and the session cap
    (server/transport/session_cap.py) both name callers with this."""
    _client, issuer, subject = principal_components(token)
    if issuer is not None and subject is not None:  # a signed-in person (server/auth/verifier.py)
        return HTTP_PREFIX + person_principal(issuer, subject, key)
    return HTTP_PREFIX + (token.subject or token.client_id)


@dataclass(frozen=True)
class Caller:
    """Who is calling, as one round resolves it once: the principal (identity), and for the audit only the client
    the verified token names and, in resource-server mode, the scopes it granted (sorted)."""

    principal: str
    client: str | None = None  # OAuth `client_id`, or a static token's keyed hash; None without a token
    scopes: tuple[str, ...] | None = None  # resource-server mode only: a static token grants no scopes


def is_http(ctx: Context | None) -> bool:
    """True when this request came over Streamable HTTP (the transport attached its HTTP request)."""
    return ctx is not None and getattr(ctx.request_context, "request", None) is not None


def principal_of(ctx: Context | None, connection: Connection) -> str:
    """The principal of the current request (see the module docstring for the rules)."""
    return caller_of(ctx, connection).principal


def caller_of(ctx: Context | None, connection: Connection) -> Caller:
    """The current request's caller: its principal (the module docstring's rules), client and scopes."""
    token = get_access_token()
    if token is not None:
        signed_in = connection.runtime.settings.oauth_issuer is not None
        return Caller(verified_principal(token, connection.runtime.principal_key), client=token.client_id,
                      scopes=tuple(sorted(token.scopes)) if signed_in else None)
    return Caller(_tokenless_principal(ctx, connection))


def _tokenless_principal(ctx: Context | None, connection: Connection) -> str:
    if is_http(ctx):
        assert ctx is not None

        # Only the handshake era's transport checks a session id (it answers 404 to one it did not mint). A
        # 2026-07-28 request is never routed to a session, so a session id header on it is just text: the
        # id of another client's session, replayed, must not make it that client.
        session_id = None if modern_era(ctx) else (ctx.headers or {}).get("mcp-session-id")
        return SESSION_PREFIX + _mac(session_id, connection.runtime.principal_key) if session_id else ANONYMOUS
    return connection.connection_id
