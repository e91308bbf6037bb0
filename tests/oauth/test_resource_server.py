"""Resource-server mode (server/auth/): what is published, which tokens are refused, and the SDK's own clients."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import httpx2
import pytest

from tests.conftest import call_ok
from tests.oauth.conftest import MemoryStorage, Stack, bot_auth, mcp_client, person_auth
from tests.oauth.provider import OTHER_RESOURCE, READ, SigningKey

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


async def post_initialize(stack: Stack, token: str | None) -> httpx2.Response:
    headers = {**HEADERS, **({"authorization": f"Bearer {token}"} if token else {})}
    with anyio.fail_after(20):
        async with httpx2.AsyncClient(timeout=10) as http:
            return await http.post(stack.url, json=INITIALIZE, headers=headers)


async def test_metadata_names_the_issuer_exactly_and_the_challenge_names_metadata_and_scope(stack: Stack) -> None:
    with anyio.fail_after(20):
        async with httpx2.AsyncClient(timeout=10) as http:
            metadata = (await http.get(f"{stack.origin}/.well-known/oauth-protected-resource/mcp")).json()
    assert metadata["resource"] == stack.url
    assert metadata["authorization_servers"] == [stack.provider.issuer]  # no trailing slash added
    assert READ in metadata["scopes_supported"]

    refused = await post_initialize(stack, None)
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{stack.origin}/.well-known/oauth-protected-resource/mcp"' in challenge
    assert f'scope="{READ}"' in challenge


async def test_a_token_from_the_provider_for_this_resource_is_accepted(stack: Stack) -> None:
    """The control for the refusals below: a real token, and a forged one shaped like it, both pass."""
    assert (await post_initialize(stack, await stack.provider.client_credentials())).status_code == 200
    assert (await post_initialize(stack, stack.provider.forge())).status_code == 200


def _refused_tokens() -> dict[str, tuple[Any, str]]:
    """Each differs from an accepted token in one respect: how to make it, and the reason the verifier logs."""
    return {
        "wrong audience": (lambda p: p.client_credentials(resource=OTHER_RESOURCE), "InvalidAudienceError"),
        "expired": (lambda p: p.forge(exp=p.forge_time() - 120), "expired"),
        "an ID token": (lambda p: p.forge(typ="JWT", nonce="n-1", azp="some-client"), "not an access token"),
        "bad signature": (lambda p: p.forge(key=SigningKey(p.key.kid, SigningKey.new().private)),
                          "InvalidSignatureError"),
        "unknown key": (lambda p: p.forge(key=SigningKey.new()), "is not in the issuer's key set"),
        "unknown issuer": (lambda p: p.forge(iss=p.issuer + "/other"), "InvalidIssuerError"),
        "issuer with a trailing slash": (lambda p: p.forge(iss=p.issuer + "/"), "InvalidIssuerError"),
        "no subject": (lambda p: p.forge(sub=None), "MissingRequiredClaimError"),
        "unsigned": (lambda p: p.unsigned(), "algorithm 'none' is not accepted"),
    }


@pytest.mark.parametrize("case", list(_refused_tokens()))
async def test_refused_tokens_get_401(stack: Stack, case: str, caplog: pytest.LogCaptureFixture) -> None:
    make, reason = _refused_tokens()[case]
    made = make(stack.provider)
    token = made if isinstance(made, str) else await made
    with caplog.at_level(logging.DEBUG, logger="msgflash_mcp.auth"):
        refused = await post_initialize(stack, token)
    assert refused.status_code == 401, refused.text
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert token not in refused.text
    reasons = [r.getMessage() for r in caplog.records if r.name == "msgflash_mcp.auth"]
    assert any(reason in line for line in reasons), reasons
    assert not any(token in line for line in reasons)  # the reason, never the token


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_sdk_client_credentials_client_lists_tools_and_reads(stack: Stack, mode: str) -> None:
    async with mcp_client(stack.url, bot_auth(stack), mode) as client:
        tools = await client.list_tools()
        assert "list_instances" in {tool.name for tool in tools.tools}
        listed = await call_ok(client, "list_instances")
        assert listed["workspace"] == "personal (sandbox)"


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_a_person_signs_in_with_pkce_through_the_sdk_client(stack: Stack, mode: str) -> None:
    storage = MemoryStorage()
    async with mcp_client(stack.url, person_auth(stack, "alice", storage), mode) as client:
        assert (await call_ok(client, "list_instances"))["workspace"] == "personal (sandbox)"
    assert storage.tokens is not None and len(storage.registrations) == 1
    assert storage.tokens.scope is not None and READ in storage.tokens.scope.split()
