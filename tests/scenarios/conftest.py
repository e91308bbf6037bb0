"""Scenario fixtures: the server on the token confirmation path, reading the sandbox's clock, and a
client wrapper that counts tool calls so each scenario can assert its call budget."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from msgflash_mcp.sandbox.store import loads
from msgflash_mcp.server.core.settings import Settings

from tests.conftest import make_settings
from tests.fake_time import FakeClock

Ledger = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def settings() -> Settings:
    # Token confirmations are tool calls the model makes, so they count against the budgets.
    return make_settings(confirm="token")


@pytest.fixture
def sandbox_app(still_sandbox_app: Any) -> Any:
    """The sandbox on the tests' clock (tests/conftest.py `clock`), which `sandbox_clock` gives the server too."""
    return still_sandbox_app


@pytest.fixture(autouse=True)
def sandbox_clock(server: MCPServer[Any], clock: FakeClock) -> FakeClock:
    """The server's clock is the sandbox's, so moving simulated time moves both sides."""
    server.runtime.clock = clock  # type: ignore[attr-defined]
    return clock


@dataclass
class Session:
    """The model's side of a conversation: every tool call goes through here and is counted."""

    client: Client
    calls: list[str] = field(default_factory=list[str])

    async def call(self, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """One tool call; fails with the tool's own text if it errored."""
        self.calls.append(tool)
        result = await self.client.call_tool(tool, arguments or {})
        text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
        assert not result.is_error, f"{tool} failed: {text}"
        assert result.structured_content is not None
        return result.structured_content

    async def confirmed(self, tool: str, arguments: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The guarded path a model takes: preview, then the same call with the token (two calls)."""
        first = await self.call(tool, arguments)
        assert first["status"] == "confirmation_required", first
        second = await self.call(tool, {**arguments, "confirm_token": first["confirm_token"]})
        assert second["status"] == "ok", second
        return first, second

    def within(self, budget: int) -> None:
        assert len(self.calls) <= budget, f"{len(self.calls)} calls for a budget of {budget}: {self.calls}"


@pytest.fixture
def session(client: Client) -> Session:
    return Session(client)


@dataclass
class SandboxState:
    """Read-only views of the simulator's stored objects, for asserting a scenario's final state
    without a request of our own (those would show in the ledger and the API quota)."""

    db: sqlite3.Connection
    clock: FakeClock  # the server's and the sandbox's

    def now(self) -> float:
        return self.clock.timestamp()

    def rows(self, table: str, ws: str) -> list[dict[str, Any]]:
        return [loads(r["data"]) for r in self.db.execute(f"SELECT data FROM {table} WHERE ws = ? ORDER BY rid", (ws,))]

    def one(self, table: str, obj_id: str) -> dict[str, Any]:
        row = self.db.execute(f"SELECT data FROM {table} WHERE id = ?", (obj_id,)).fetchone()
        assert row is not None, f"no {table} row {obj_id}"
        return loads(row["data"])

    def contacts(self, ws: str) -> list[dict[str, Any]]:
        return self.rows("contacts", ws)

    def contact_by_phone(self, ws: str, phone: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT data FROM contacts WHERE ws = ? AND phone = ?", (ws, phone)).fetchone()
        return None if row is None else loads(row["data"])

    def group_members(self, group_id: str) -> list[str]:
        rows = self.db.execute("SELECT contact_id FROM group_members WHERE group_id = ? ORDER BY rid", (group_id,))
        return [r["contact_id"] for r in rows]

    def messages(self, ws: str | None = None) -> list[dict[str, Any]]:
        from msgflash_mcp.sandbox.seed import USER_ID

        return self.rows("messages", ws or USER_ID)

    def message(self, msg_id: str | None) -> dict[str, Any]:
        assert msg_id is not None
        return self.one("messages", msg_id)

    def campaign(self, camp_id: str | None) -> dict[str, Any]:
        """The stored campaign with its stats as the API computes them."""
        from msgflash_mcp.sandbox.campaign_runs import campaign_stats

        assert camp_id is not None
        camp = self.one("campaigns", camp_id)
        return {**camp, "stats": campaign_stats(self.db, camp)}


@pytest.fixture
def state(sandbox_app: Any, clock: FakeClock) -> SandboxState:
    return SandboxState(sandbox_app.state.sandbox.db, clock)
