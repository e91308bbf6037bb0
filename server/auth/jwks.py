"""The authorization server's signing keys (its JWKS), fetched when first needed and cached.

A token signed with a key id the cache does not know triggers one refetch, so a rotation at the
authorization server is picked up on the first token signed with the new key. Unknown ids cannot make
the server hammer the authorization server: at most one refetch per `min_refresh` seconds, and concurrent
requests share it. Cached keys are refetched after `max_age` seconds so a withdrawn key stops verifying.

Each key is also kept parsed (`verifying_key`), per key id and algorithm: parsing a JWK into a public key
(PyJWK) cost most of a verification. The parsed key is tied to the very JWK it came from, so a refetch,
which brings new JWK objects, retires it: a rotated or withdrawn key is never verified with from the cache.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
import httpx2
import jwt

from ..clock import Clock
from ..wire import json_list, json_object
from .discovery import discover

log = logging.getLogger("msgflash_mcp.auth")

MIN_REFRESH = 30.0  # seconds between refetches caused by unknown key ids
MAX_AGE = 3600.0  # seconds a fetched key set is trusted before it is fetched again


class KeySet:
    def __init__(
        self,
        issuer: str,
        *,
        clock: Callable[[], Clock],
        timeout: float = 10.0,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._issuer = issuer
        self._clock = clock
        self._timeout = timeout
        self._transport = transport
        self._keys: dict[str, dict[str, Any]] = {}  # public JWKs by key id
        # (key id, algorithm) -> (the JWK it was parsed from, the parsed key); emptied by each fetch
        self._parsed: dict[tuple[str, str], tuple[dict[str, Any], jwt.PyJWK]] = {}
        self._fetched: float | None = None  # monotonic time of the last fetch attempt
        self._lock = anyio.Lock()

    async def key(self, kid: str) -> dict[str, Any] | None:
        """The public JWK named `kid`, refetching the set when it is unknown (rate-limited) or stale."""
        if kid in self._keys and not self._stale(MAX_AGE):
            return self._keys[kid]
        async with self._lock:  # one fetch at a time; whoever waited reads what it brought
            wanted = kid not in self._keys or self._stale(MAX_AGE)
            if wanted and (self._fetched is None or self._stale(MIN_REFRESH)):
                await self._refresh()
        return self._keys.get(kid)

    def verifying_key(self, kid: str, jwk: dict[str, Any], algorithm: str) -> jwt.PyJWK:
        """`jwk` (what `key(kid)` returned) parsed for `algorithm`, parsed once per fetch of the set. Raises
        PyJWTError when the key cannot verify that algorithm (an RSA key and an ES256 token...): not cached."""
        cached = self._parsed.get((kid, algorithm))
        if cached is not None and cached[0] is jwk:
            return cached[1]
        parsed = jwt.PyJWK.from_dict(jwk, algorithm=algorithm)
        self._parsed[(kid, algorithm)] = (jwk, parsed)
        return parsed

    def _stale(self, seconds: float) -> bool:
        return self._fetched is not None and self._clock().monotonic() - self._fetched >= seconds

    async def _refresh(self) -> None:
        self._fetched = self._clock().monotonic()
        try:
            async with httpx2.AsyncClient(timeout=self._timeout, transport=self._transport) as http:
                with anyio.fail_after(self._timeout * 3):
                    metadata = await discover(self._issuer, http)
                    response = await http.get(metadata.jwks_uri)
                    response.raise_for_status()
                    body: Any = response.json()
        except Exception as exc:  # keep the keys we have: an unreachable JWKS must not sign everyone out at once
            log.warning("msgflash-mcp: could not refresh the signing keys of %s: %s", self._issuer, type(exc).__name__)
            return
        self._keys = parse_keys(body)
        self._parsed = {}


def parse_keys(body: Any) -> dict[str, dict[str, Any]]:
    """The signing keys of a JWKS document, by key id; keys without an id or for encryption are skipped."""
    document = json_object(body) or {}
    keys: dict[str, dict[str, Any]] = {}
    for entry in json_list(document.get("keys")) or []:
        jwk = json_object(entry)
        if jwk is None or not isinstance(jwk.get("kid"), str) or jwk.get("use", "sig") != "sig":
            continue
        keys[jwk["kid"]] = jwk
    return keys
