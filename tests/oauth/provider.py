"""The test OpenID provider (tests/clients/oidc-provider.mjs on the pinned `oidc-provider`), driven from Python.

`OpenIdProvider` starts it on a free port with signing keys the test generated (so a test can rotate
them, and forge a token that differs from a real one in exactly one respect), gets client-credentials
tokens, and walks the authorization-code flow's dev login for the SDK's OAuth client. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import jwt
import pytest
from anyio.abc import Process
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from mcp.shared.auth import AuthorizationCodeResult
from msgflash_mcp.server.auth.scopes import ALL

from tests.clients.conftest import HERE as CLIENTS
from tests.clients.conftest import NODE, free_port, require, stop

SCRIPT = CLIENTS / "oidc-provider.mjs"
READ, SEND, DELETE = "msgflash:read", "msgflash:send", "msgflash:delete"
OTHER_RESOURCE = "http://other.example.test/mcp"  # a resource the provider also serves: wrong audience for us
BOT_ID, BOT_SECRET = "reporting-bot", "reporting-bot-secret-5b1e"


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def new(cls) -> SigningKey:
        return cls("k-" + secrets.token_hex(4), rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private))
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def sign(self, claims: dict[str, Any], typ: str = "at+jwt", kid: str | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"typ": typ, "kid": kid or self.kid})


@dataclass
class OpenIdProvider:
    """One running provider; `restart` brings it back on the same issuer with new keys (a rotation)."""

    workdir: Path
    resource: str
    port: int = field(default_factory=free_port)
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.new()])
    process: Process | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def key(self) -> SigningKey:
        return self.keys[0]

    def _config(self) -> Path:
        path = self.workdir / f"oidc-{self.key.kid}.json"
        config = {
            "issuer": self.issuer,
            "port": self.port,
            "jwks": {"keys": [k.jwk() for k in self.keys]},
            "scopes": ["openid", "email", *ALL],
            "resources": [
                {"indicator": self.resource, "scope": " ".join(ALL)},
                {"indicator": OTHER_RESOURCE, "scope": " ".join(ALL)},
            ],
            "clients": [{
                "client_id": BOT_ID, "client_secret": BOT_SECRET, "grant_types": ["client_credentials"],
                "redirect_uris": [], "response_types": [], "scope": READ,
            }],
        }
        path.write_text(json.dumps(config))
        return path

    async def start(self) -> None:
        require(NODE)
        require(CLIENTS / "node_modules" / "oidc-provider" / "package.json")
        log = self.workdir / "oidc-provider.log"
        with log.open("ab") as sink:
            self.process = await anyio.open_process(
                [str(NODE), str(SCRIPT), str(self._config())], stdout=sink, stderr=sink,
                env={**os.environ, "NODE_ENV": "test"},
            )
        with anyio.fail_after(30):
            async with httpx2.AsyncClient(timeout=2) as http:
                while True:
                    if self.process.returncode is not None:
                        pytest.fail(f"oidc-provider exited with {self.process.returncode}:\n{log.read_text()}")
                    try:
                        if (await http.get(f"{self.issuer}/.well-known/openid-configuration")).status_code == 200:
                            return
                    except httpx2.TransportError:
                        pass
                    await anyio.sleep(0.1)

    async def stop(self) -> None:
        if self.process is not None:
            await stop(self.process)
            self.process = None

    async def rotate(self) -> SigningKey:
        """A new signing key (the old one still published, second), served by a restarted provider."""
        await self.stop()
        self.keys = [SigningKey.new(), *self.keys]
        await self.start()
        return self.key

    async def client_credentials(self, resource: str | None = None, scope: str = READ) -> str:
        data = {"grant_type": "client_credentials", "scope": scope, "resource": resource or self.resource}
        with anyio.fail_after(20):
            async with httpx2.AsyncClient(timeout=10) as http:
                response = await http.post(f"{self.issuer}/token", data=data, auth=(BOT_ID, BOT_SECRET))
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    @staticmethod
    def forge_time() -> int:
        """The wall time forged tokens are issued at (the servers in these tests run on real time)."""
        return int(time.time())

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """The claims of a token like the provider's own; an override of None drops that claim."""
        now = self.forge_time()
        base: dict[str, Any] = {
            "iss": self.issuer, "sub": "alice", "aud": self.resource, "client_id": "forged-client",
            "scope": READ, "iat": now, "exp": now + 600, "jti": secrets.token_hex(8),
        }
        return {name: value for name, value in {**base, **overrides}.items() if value is not None}

    def forge(self, *, key: SigningKey | None = None, typ: str = "at+jwt", **overrides: Any) -> str:
        """A token shaped like the provider's own, signed with its key unless told otherwise."""
        return (key or self.key).sign(self.claims(**overrides), typ=typ)

    def unsigned(self) -> str:
        """The same claims under `alg: none`."""
        return jwt.encode(self.claims(), "", algorithm="none", headers={"typ": "at+jwt", "kid": self.key.kid})

    async def dev_login(self, authorization_url: str, redirect_uri: str, who: str) -> AuthorizationCodeResult:
        """Follow the authorization request through the dev login as `who`; what the browser brings back."""
        url = authorization_url + f"&login_hint={who}"
        with anyio.fail_after(20):
            async with httpx2.AsyncClient(timeout=10, follow_redirects=False) as http:
                for _ in range(10):
                    response = await http.get(url)
                    assert response.status_code in (302, 303), f"{response.status_code}: {response.text[:500]}"
                    url = str(response.next_request.url) if response.next_request else response.headers["location"]
                    if url.startswith(redirect_uri):
                        query = parse_qs(urlsplit(url).query)
                        assert "code" in query, f"authorization failed: {query}"
                        return AuthorizationCodeResult(
                            code=query["code"][0], state=query.get("state", [None])[0], iss=query.get("iss", [None])[0]
                        )
        raise AssertionError("the dev login never reached the redirect URI")


@asynccontextmanager
async def running_provider(workdir: Path, resource: str) -> AsyncIterator[OpenIdProvider]:
    provider = OpenIdProvider(workdir, resource)
    await provider.start()
    try:
        yield provider
    finally:
        await provider.stop()
