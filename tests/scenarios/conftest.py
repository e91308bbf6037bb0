"""Scenario fixtures: the server on the token confirmation path, reading the sandbox's clock, and a
client wrapper that counts tool calls so each scenario can assert its call budget."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from mcp import Client
from msgflash_mcp.server.settings import Settings
from msgflash_mcp.tools import messages

from tests.conftest import make_settings


@pytest.fixture
def settings() -> Settings:
    # Token confirmations are tool calls the model makes, so they count against the budgets.
    return make_settings(confirm="token")


@pytest.fixture
def sandbox_clock(monkeypatch: pytest.MonkeyPatch, sandbox_app: Any) -> Any:
    """The server reads the sandbox's clock, so moving simulated time moves both sides."""
    clock = sandbox_app.state.sandbox.clock
    monkeypatch.setattr(messages, "clock", clock.now)
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
