"""Verifying the authorization server's JWT access tokens (RFC 9068) for this resource.

A token is accepted only when all of these hold, each checked here and not assumed from the SDK:
- its signature verifies with a key of the issuer's JWKS (server/auth/jwks.py), under an asymmetric
  algorithm the key itself is for (never `none` or an HMAC algorithm keyed with a public key);
- `iss` is exactly the configured issuer (string equality, no trailing-slash drift);
- `aud` is (or contains) exactly this server's resource URL, the RFC 8707 `resource` it was issued for;
- `exp` has not passed and `nbf` has come, on the runtime's clock, with `LEEWAY` for clock skew;
- it is an access token: header `typ` `at+jwt` (RFC 9068), or a `token_use` claim of `access` (Amazon
  Cognito's marking). An ID token is refused even when it carries the right audience;
- it names a subject (`sub`): the person (or, for client credentials, the client) it speaks for.

A refused token is just `None` (the SDK answers 401 with the challenge); the reason goes to the debug log,
never the token.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

import jwt
from mcp.server.auth.provider import AccessToken, TokenVerifier

from ..clock import Clock
from ..wire import json_list, json_object
from .jwks import KeySet

log = logging.getLogger("msgflash_mcp.auth")

LEEWAY = 30  # seconds of clock skew tolerated on exp and nbf
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")


class Refused(Exception):
    """Why a token was refused (for the debug log)."""


class JwtVerifier(TokenVerifier):
    def __init__(self, issuer: str, resource: str, keys: KeySet, *, clock: Callable[[], Clock]) -> None:
        self.issuer = issuer
        self.resource = resource
        self._keys = keys
        self._clock = clock

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            return await self._verify(token)
        except Refused as refused:
            log.debug("msgflash-mcp: bearer token refused: %s", refused)
            return None

    async def _verify(self, token: str) -> AccessToken:
        header = header_of(token)
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS:
            raise Refused(f"algorithm {algorithm!r} is not accepted")
        if not isinstance(kid, str):
            raise Refused("no key id")
        jwk = await self._keys.key(kid)
        if jwk is None:
            raise Refused(f"key id {kid!r} is not in the issuer's key set")
        declared = jwk.get("alg")
        if declared is not None and declared != algorithm:
            raise Refused(f"key {kid!r} is for {declared}, the token says {algorithm}")
        try:
            key = self._keys.verifying_key(kid, jwk, algorithm)  # refuses a key of another type (RSA vs EC...)
        except jwt.PyJWTError as exc:
            raise Refused(f"key {kid!r} cannot verify {algorithm}: {type(exc).__name__}") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.resource,
                issuer=self.issuer,
                # Time is checked below on the runtime's clock, not on the machine's.
                options={"require": ["iss", "aud", "exp", "sub"], "verify_exp": False, "verify_nbf": False,
                         "verify_iat": False},
            )
        except jwt.InvalidTokenError as exc:
            raise Refused(f"{type(exc).__name__}: {exc}") from None
        self._check_type(header, claims)
        exp = self._check_time(claims)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Refused("no subject")
        return AccessToken(
            token=token,
            client_id=client_of(claims),
            scopes=scopes_of(claims),
            expires_at=exp,
            resource=self.resource,
            subject=subject,
            # `iss` names the person with `sub` (server/call/principal.py); `email` may hold a role (roles.py).
            claims={"iss": self.issuer, **email_of(claims)},
        )

    @staticmethod
    def _check_type(header: dict[str, Any], claims: dict[str, Any]) -> None:
        typ = header.get("typ")
        if isinstance(typ, str) and typ.lower() in ACCESS_TOKEN_TYPES:
            return
        if claims.get("token_use") == "access":
            return
        raise Refused(f"not an access token (typ {typ!r}, token_use {claims.get('token_use')!r})")

    def _check_time(self, claims: dict[str, Any]) -> int:
        now = self._clock().timestamp()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise Refused("exp is not a number")
        if now > exp + LEEWAY:
            raise Refused("expired")
        if nbf is not None and (not isinstance(nbf, int | float) or now < nbf - LEEWAY):
            raise Refused("not valid yet")
        return int(exp)


def header_of(token: str) -> dict[str, Any]:
    """The JWS header, read only to choose the key: `jwt.decode` then checks the whole token, this header
    included (the signature covers it). Not `jwt.get_unverified_header`, which checks every segment's
    characters one by one, as `decode` does again: reading the header alone halves that cost."""
    segment = token.split(".", 1)[0]
    try:
        header = json_object(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))
    except (ValueError, UnicodeDecodeError):
        header = None
    if header is None or token.count(".") != 2:
        raise Refused("not a JWT")
    return header


def scopes_of(claims: dict[str, Any]) -> list[str]:
    """`scope` (RFC 9068: space-separated) or `scp` (a list, as Okta and Entra issue it)."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return scope.split()
    return [s for s in json_list(claims.get("scp")) or [] if isinstance(s, str)]


def email_of(claims: dict[str, Any]) -> dict[str, str]:
    """The token's `email` claim, unless the issuer says it is unverified (`email_verified: false`)."""
    email = claims.get("email")
    if isinstance(email, str) and email and claims.get("email_verified") is not False:
        return {"email": email}
    return {}


def client_of(claims: dict[str, Any]) -> str:
    """The OAuth client that holds the token (RFC 9068 `client_id`; `azp` or `cid` elsewhere). For the audit and
    the SDK's session ownership only: a person is (issuer, subject), whatever client they use."""
    for name in ("client_id", "azp", "cid"):
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    return "unknown-client"
