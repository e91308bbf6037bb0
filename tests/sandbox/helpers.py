"""Shared helpers for the sandbox tests: an in-process client on a sandbox whose clock is the tests' one
fake (tests/fake_time.py: `SandboxConfig(now=clock.now, monotonic=clock.monotonic)`)."""

from __future__ import annotations

import json
from collections import Counter
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
from msgflash_mcp.sandbox.app import SandboxConfig, create_app
from msgflash_mcp.sandbox.inprocess import sandbox_transport
from msgflash_mcp.sandbox.keys import PERSONAL_KEY, TEAM_ID, TEAM_KEY
from msgflash_mcp.sandbox.routes import ALL_ROUTES

from tests.fake_time import FakeClock

ENDPOINTS: list[dict[str, Any]] = json.loads((Path(__file__).parents[2] / "api-contract/endpoints.json").read_text())
PERSONAL = {"x-api-key": PERSONAL_KEY}
TEAM = {"x-api-key": TEAM_KEY, "X-Team-Id": TEAM_ID}
def make_app(**kw: Any) -> Any:
    kw.setdefault("rate_limit", 0)
    kw.setdefault("now", FakeClock().now)
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


def routes_module(group: str) -> str:
    """Where a contract group's routes live: the module serving most of its endpoints, for messages that
    name the file to edit (a new group gets a new module, listed in sandbox/routes/__init__.py)."""
    served = {(r.method, r.path): r.handler.__module__.rsplit(".", 1)[-1] for r in ALL_ROUTES}
    modules = Counter(served[key] for e in ENDPOINTS if e["group"] == group and (key := (e["method"], e["path"])) in served)
    if not modules:
        return "sandbox/routes/<group>.py (a new module: list it in sandbox/routes/__init__.py)"
    return f"sandbox/routes/{modules.most_common(1)[0][0]}.py"
