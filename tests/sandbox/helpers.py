"""Shared helpers for the sandbox tests: an in-process client, a fake clock and monotonic clock."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from msgflash_mcp.sandbox.app import SandboxConfig, create_app
from msgflash_mcp.sandbox.inprocess import sandbox_transport
from msgflash_mcp.sandbox.keys import PERSONAL_KEY, TEAM_ID, TEAM_KEY

ENDPOINTS: list[dict[str, Any]] = json.loads((Path(__file__).parents[2] / "api-contract/endpoints.json").read_text())
PERSONAL = {"x-api-key": PERSONAL_KEY}
TEAM = {"x-api-key": TEAM_KEY, "X-Team-Id": TEAM_ID}
START = datetime(2026, 4, 10, 12, 0, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = START) -> None:
        self.t = start

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make_app(**kw: Any) -> Any:
    kw.setdefault("rate_limit", 0)
    kw.setdefault("now", FakeClock())
    return create_app(SandboxConfig(**kw))


@asynccontextmanager
async def client_for(app: Any, headers: dict[str, str] | None = None):
    # A loopback Host and the control header: what the control surface asks of a local caller.
    sent = {**(headers if headers is not None else PERSONAL), "x-sandbox-control": "1"}
    async with httpx2.AsyncClient(transport=sandbox_transport(app), base_url="http://127.0.0.1", headers=sent) as c:
        yield c


def error_code(r: httpx2.Response) -> str | None:
    body = r.json()
    return body.get("error", {}).get("code") if isinstance(body, dict) else None
