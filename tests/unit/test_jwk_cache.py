"""The verifier keeps each signing key parsed, per key id, for as long as the key set it came from: a token
signed with a known key costs no key parsing, and a refetch of the set (its age, or an unknown key id) retires
every parsed key, so a key the issuer replaced stops verifying even under the same key id."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from msgflash_mcp.server.auth.jwks import MAX_AGE, KeySet
from msgflash_mcp.server.auth.verifier import JwtVerifier

from tests.fake_time import FakeClock

pytestmark = pytest.mark.anyio

ISSUER = "https://id.example.test"
RESOURCE = "https://mcp.example.test/mcp"
KID = "k-1"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Issuer:
    """An authorization server's metadata and JWKS, as an httpx2 transport; counts the key-set fetches."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.key = new_key()
        self.fetches = 0

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/.well-known/oauth-authorization-server":
            return httpx2.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
        if request.url.path == "/jwks":
            self.fetches += 1
            jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
            return httpx2.Response(200, json={"keys": [{**jwk, "kid": KID, "alg": "RS256", "use": "sig"}]})
        return httpx2.Response(404)

    def token(self, subject: str, key: rsa.RSAPrivateKey | None = None) -> str:
        now = int(self.clock.timestamp())  # the verifier's clock
        claims = {"iss": ISSUER, "sub": subject, "aud": RESOURCE, "scope": "msgflash:read", "exp": now + 600}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"typ": "at+jwt", "kid": KID})


async def test_a_key_is_parsed_once_per_fetch_and_a_refetch_retires_it() -> None:
    clock = FakeClock()
    issuer = Issuer(clock)
    keys = KeySet(ISSUER, clock=lambda: clock, transport=httpx2.MockTransport(issuer.handle))
    verifier = JwtVerifier(ISSUER, RESOURCE, keys, clock=lambda: clock)

    assert (await verifier.verify_token(issuer.token("alice"))) is not None
    jwk = await keys.key(KID)
    assert jwk is not None
    parsed = keys.verifying_key(KID, jwk, "RS256")
    assert (await verifier.verify_token(issuer.token("bob"))) is not None
    assert keys.verifying_key(KID, jwk, "RS256") is parsed  # the second token parsed no key
    with pytest.raises(jwt.PyJWTError):  # a key cannot verify another family's algorithm: refused, not cached
        keys.verifying_key(KID, jwk, "ES256")
    assert issuer.fetches == 1

    # The issuer replaces the key under the same id; once the set is refetched the old key verifies nothing.
    old = issuer.key
    issuer.key = new_key()
    clock.advance(MAX_AGE)
    assert (await verifier.verify_token(issuer.token("alice"))) is not None
    assert issuer.fetches == 2
    fresh = await keys.key(KID)
    assert fresh is not None and fresh is not jwk
    assert keys.verifying_key(KID, fresh, "RS256") is not parsed
    assert (await verifier.verify_token(issuer.token("alice", key=old))) is None


async def test_a_token_that_is_not_a_jwt_is_refused_before_any_key_is_looked_up() -> None:
    clock = FakeClock()
    issuer = Issuer(clock)
    keys = KeySet(ISSUER, clock=lambda: clock, transport=httpx2.MockTransport(issuer.handle))
    verifier = JwtVerifier(ISSUER, RESOURCE, keys, clock=lambda: clock)
    real = issuer.token("alice")
    header = real.split(".")[0]
    for bad in ("", "not-a-jwt", "a.b", "%%%.e30.sig", header + ".e30", real + ".extra", "W10.e30.sig"):
        assert await verifier.verify_token(bad) is None, bad
    assert issuer.fetches == 0
