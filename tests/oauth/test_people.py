"""People, not clients: a signed-in principal is a keyed hash of (issuer, subject). A new client registration
(Claude registers one per connection) keeps a person's workspace and confirmations; another person reaches
neither. And a rotation of the provider's signing key is picked up without a restart."""

from __future__ import annotations

import json
import logging
from datetime import datetime

import pytest
from msgflash_mcp.server.call.principal import person_principal
from msgflash_mcp.server.clock import Clock

from tests.conftest import call_ok, mutations
from tests.guard.conftest import personal_contacts
from tests.oauth.conftest import PRINCIPAL_KEY, MemoryStorage, Stack, mcp_client, person_auth
from tests.oauth.test_resource_server import post_initialize

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def test_a_person_is_issuer_and_subject_hashed_unambiguously() -> None:
    key = b"k"
    alice = person_principal("https://id.example", "alice", key)
    assert alice == person_principal("https://id.example", "alice", key)
    assert alice.startswith("sub-") and "alice" not in alice
    assert alice != person_principal("https://other.example", "alice", key)  # sub is unique only per issuer
    assert person_principal("https://id.example/a", "b", key) != person_principal("https://id.example", "a/b", key)
    assert alice != person_principal("https://id.example", "alice", b"another install")


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_a_new_registration_keeps_alices_workspace_and_confirmation(stack: Stack, sandbox_app: object, mode: str) -> None:
    contact = personal_contacts()[2]
    args = {"contact_id": contact["id"], "workspace": "personal"}
    first, second = MemoryStorage(), MemoryStorage()
    async with mcp_client(stack.url, person_auth(stack, "alice", first), mode) as alice:
        await call_ok(alice, "switch_workspace", {"workspace": "sandbox-team"}) if mode == "legacy" else None
        pending = await call_ok(alice, "delete_contact", args)
        assert pending["status"] == "confirmation_required"
    async with mcp_client(stack.url, person_auth(stack, "alice", second), mode) as alice_again:
        if mode == "legacy":  # 2026-07-28 without a session has no active workspace to keep: it names one per call
            assert (await call_ok(alice_again, "list_instances"))["workspace"] == "sandbox-team (sandbox)"
        done = await call_ok(alice_again, "delete_contact", {**args, "confirm_token": pending["confirm_token"]})
        assert done["status"] == "ok"
    assert first.client is not None and second.client is not None
    assert first.client.client_id != second.client.client_id  # two registrations, one person
    deleted = [e for e in mutations([dict(e) for e in sandbox_app.state.sandbox.ledger]) if e["method"] == "DELETE"]  # type: ignore[attr-defined]
    assert [e["path"] for e in deleted] == [f"/api/v1/contacts/{contact['id']}"]


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_bob_can_neither_redeem_alices_confirmation_nor_see_her_workspace(
    stack: Stack, sandbox_app: object, mode: str
) -> None:
    contact = personal_contacts()[3]
    args = {"contact_id": contact["id"], "workspace": "personal"}
    async with mcp_client(stack.url, person_auth(stack, "alice"), mode) as alice:
        if mode == "legacy":
            await call_ok(alice, "switch_workspace", {"workspace": "sandbox-team"})
        pending = await call_ok(alice, "delete_contact", args)
    async with mcp_client(stack.url, person_auth(stack, "bob"), mode) as bob:
        assert (await call_ok(bob, "list_instances"))["workspace"] == "personal (sandbox)"
        stolen = await bob.call_tool("delete_contact", {**args, "confirm_token": pending["confirm_token"]})
        assert stolen.is_error
    assert mutations([dict(e) for e in sandbox_app.state.sandbox.ledger]) == []  # type: ignore[attr-defined]
    async with mcp_client(stack.url, person_auth(stack, "alice"), mode) as alice:
        done = await call_ok(alice, "delete_contact", {**args, "confirm_token": pending["confirm_token"]})
        assert done["status"] == "ok"
    # The audit names each person by the keyed hash of (issuer, subject), never by their subject.
    key = PRINCIPAL_KEY.encode()
    people = {"http:" + person_principal(stack.provider.issuer, who, key): who for who in ("alice", "bob")}
    lines = [json.loads(line) for line in stack.audit.read_text().splitlines()]
    deletes = [(people.get(line["principal"]), line) for line in lines if line.get("tool") == "delete_contact"]
    assert {who for who, _line in deletes} == {"alice", "bob"}
    assert '"alice"' not in stack.audit.read_text() and '"bob"' not in stack.audit.read_text()


class Later(Clock):
    """Real time, moved forward by the test (to pass the key set's refetch interval without waiting)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return super().monotonic() + self.offset

    def now(self) -> datetime:
        return super().now()


async def test_a_signing_key_rotation_is_picked_up(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    clock = Later()
    stack.app.state.runtime.clock = clock
    provider = stack.provider
    assert (await post_initialize(stack, await provider.client_credentials())).status_code == 200  # keys fetched
    old = provider.key
    new = await provider.rotate()
    assert new.kid != old.kid
    token = await provider.client_credentials()
    # Within the refetch interval an unknown key id does not make the server refetch (no flood of fetches).
    with caplog.at_level(logging.DEBUG, logger="msgflash_mcp.auth"):
        assert (await post_initialize(stack, token)).status_code == 401
    assert any("is not in the issuer's key set" in r.getMessage() for r in caplog.records)
    clock.offset += 31
    assert (await post_initialize(stack, token)).status_code == 200  # refetched: the new key verifies
    # The old key is still published beside the new one, so tokens it signed keep working until they expire.
    assert (await post_initialize(stack, provider.forge(key=old))).status_code == 200
