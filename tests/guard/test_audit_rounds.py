"""One guard decision and one audit point per round (issue 18, item 5).

- every round of a mutating call that was bound writes exactly one audit line, whatever happens, unforeseen
  exceptions included (a bug in planning used to leave no line at all);
- a 2026-07-28 round that only asks writes none: the round carrying the answer records the outcome;
- a confirm token is read once per round: one `get`, then the store's atomic claim (it was read three times:
  bind, decide, redeem).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from msgflash_mcp.sandbox.inprocess import sandbox_transport
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.guard import ClaimStatus, MemoryTokenStore, TokenRecord

from tests.conftest import call_ok, make_settings, mutations
from tests.fake_time import FakeClock

from .conftest import Elicitor, personal_contacts, pin_guard

pytestmark = pytest.mark.anyio


def lines(path: Path) -> list[tuple[str, str, str]]:
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [(e["tool"], e["confirmation"], e["outcome"]) for e in entries]


class Breaking(httpx2.AsyncBaseTransport):
    """The sandbox, except that one method on one path fails with an error nobody foresaw (a bug's stand-in)."""

    def __init__(self, app: Any, method: str, path: str) -> None:
        self._inner = sandbox_transport(app)
        self._method, self._path = method, path

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == self._method and request.url.path == self._path:
            raise RuntimeError("unforeseen")
        return await self._inner.handle_async_request(request)


@pytest.mark.parametrize(("method", "stage", "path"), [("GET", "planning", "none"), ("DELETE", "the write", "off")])
async def test_an_unforeseen_failure_is_one_audit_line(
    method: str, stage: str, path: str, tmp_path: Path, sandbox_app: Any
) -> None:
    log = tmp_path / "audit.jsonl"
    contact = personal_contacts()[1]
    transport = Breaking(sandbox_app, method, f"/api/v1/contacts/{contact['id']}")
    server = build_server(make_settings(audit_log=log, confirm="off"), http_transport=transport)
    async with Client(server) as client:
        result = await client.call_tool("delete_contact", {"contact_id": contact["id"]})
    assert result.is_error, stage
    assert "RuntimeError" in result.content[0].text  # type: ignore[union-attr]  # a readable cause, not a crash
    assert lines(log) == [("delete_contact", path, "error: RuntimeError")], stage


async def test_a_round_that_only_asks_writes_no_line_and_its_answer_one(tmp_path: Path, sandbox_app: Any) -> None:
    log = tmp_path / "audit.jsonl"
    server = build_server(make_settings(audit_log=log), sandbox_app=sandbox_app)
    contact = personal_contacts()[2]
    async with Client(server, mode="auto", elicitation_callback=Elicitor("accept")) as client:
        out = await call_ok(client, "delete_contact", {"contact_id": contact["id"]})
    assert out["status"] == "ok"
    assert lines(log) == [("delete_contact", "elicited", "ok")]


class CountingStore(MemoryTokenStore):
    """The memory store, counting what each token key is asked for."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock.timestamp)
        self.gets: dict[str, int] = {}
        self.claims: dict[str, int] = {}

    async def get(self, token_hash: str) -> TokenRecord | None:
        self.gets[token_hash] = self.gets.get(token_hash, 0) + 1
        return await super().get(token_hash)

    async def claim(self, token_hash: str) -> ClaimStatus:
        self.claims[token_hash] = self.claims.get(token_hash, 0) + 1
        return await super().claim(token_hash)


async def test_a_confirm_token_is_read_once_per_round(sandbox_app: Any, ledger: Any) -> None:
    server = build_server(make_settings(), sandbox_app=sandbox_app)
    clock = FakeClock()
    store = CountingStore(clock)
    pin_guard(server, clock, store)
    contact = personal_contacts()[3]
    args = {"contact_id": contact["id"]}
    async with Client(server) as client:
        token = (await call_ok(client, "delete_contact", args))["confirm_token"]
        store.gets.clear()
        done = await call_ok(client, "delete_contact", {**args, "confirm_token": token})
        assert done["status"] == "ok"
        assert list(store.gets.values()) == [1] and list(store.claims.values()) == [1]  # one read, one claim
        store.gets.clear()
        store.claims.clear()
        replay = await call_ok(client, "delete_contact", {**args, "confirm_token": token})
    assert replay["status"] == "replayed"
    assert list(store.gets.values()) == [1] and store.claims == {}  # a replay: the one read finds the result
    assert len(mutations(ledger())) == 1
