"""Fixtures for the confirmation-guard tests: pinning the guard to the tests' fake clock, elicitation
callbacks, seeded contacts to delete, and a real redis-server for the shared token store."""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.types import ElicitRequestFormParams, ElicitResult
from msgflash_mcp.server.guard import Guard, MemoryTokenStore, TokenStore
from msgflash_mcp.server.runtime import guard_policy

from tests.fake_time import FakeClock


def pin_guard(server: MCPServer[Any], clock: FakeClock, store: TokenStore | None = None) -> Guard:
    """Swap the server's guard for one on `clock` (same settings; a fresh store unless given)."""
    runtime = server.runtime  # type: ignore[attr-defined]
    guard = Guard(guard_policy(runtime.settings), store or MemoryTokenStore(clock.timestamp), clock=clock.timestamp)
    runtime.guard = guard
    return guard


class Elicitor:
    """An elicitation callback that answers with `action` and remembers every question it saw."""

    def __init__(self, action: str = "accept", content: dict[str, str | int | float | bool | list[str] | None] | None = None) -> None:
        self.action = action
        self.content: dict[str, str | int | float | bool | list[str] | None] = content if content is not None else {"confirm": True}
        self.messages: list[str] = []
        self.schemas: list[dict[str, Any]] = []

    async def __call__(self, context: Any, params: Any) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams), params
        self.messages.append(params.message)
        self.schemas.append(params.requested_schema)
        if self.action == "accept":
            return ElicitResult(action="accept", content=self.content)
        return ElicitResult(action=self.action)  # type: ignore[arg-type]


def personal_contacts() -> list[dict[str, str]]:
    """Seeded personal-workspace contacts that delete cleanly: id, name, phone."""
    from msgflash_mcp.sandbox.seed import FAILING_CONTACT_ID, PERSONAL_CONTACTS, contact_id

    rows = [{"id": contact_id(phone), "name": name, "phone": phone} for name, phone, _tags in PERSONAL_CONTACTS]
    return [row for row in rows if row["id"] != FAILING_CONTACT_ID]


def team_contacts() -> list[dict[str, str]]:
    from msgflash_mcp.sandbox.seed import TEAM_CONTACTS, contact_id

    return [{"id": contact_id(phone), "name": name, "phone": phone} for name, phone, _tags in TEAM_CONTACTS]


# ---------------------------------------------------------------- redis

# The suite's shared session redis-server (tests/prepare.sh installs the binary).
from tests.redis_server import redis_url  # noqa: E402

__all__ = ["Elicitor", "personal_contacts", "pin_guard", "redis_url", "team_contacts"]
