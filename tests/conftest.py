"""Shared fixtures: the sandbox app, an MCP server wired to it in-process, an in-memory MCP client.

Behaviour tests run with rate limiting off on both sides (speed); the rate-limit tests turn it on.
Nothing here mocks our own code: the server talks HTTP to the sandbox through an ASGI transport.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from msgflash_mcp.sandbox.app import SandboxConfig, create_app
from msgflash_mcp.sandbox.campaign_runs import Resolution
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.core.settings import Settings

from tests.fake_time import FakeClock
from tests.resolution import resolution_fixture  # noqa: F401  (`resolution`: every sandbox here takes it)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own MSGFLASH_* variables must never leak into a test."""
    for name in list(os.environ):
        if name.startswith("MSGFLASH_"):
            monkeypatch.delenv(name)
    # The embedded sandbox keeps a file in the user's data dir by default; tests never touch it.
    monkeypatch.setenv("MSGFLASH_SANDBOX_DB", ":memory:")
    monkeypatch.setenv("MSGFLASH_CAMPAIGN_DB", ":memory:")  # nor the local campaign record's
    # Nor the install key in the user data dir (server/install_key.py): tests and the servers they spawn
    # keep theirs in a folder of their own (platformdirs reads XDG_DATA_HOME on Linux).
    monkeypatch.setenv("XDG_DATA_HOME", TEST_DATA_HOME)


TEST_DATA_HOME = str(Path(tempfile.gettempdir()) / "msgflash-mcp-tests-data")


# Routes that must never see a team key (REFERENCE §3). Spelled out here independently of the
# registry's PERSONAL_ONLY_PATHS, so a mistake there cannot hide itself.
PERSONAL_ONLY = {"/api/v1/me", "/api/v1/usage", "/api/v1/billing/subscription", "/api/v1/billing/usage",
                 "/api/v1/billing/payments"}


def credential_violations(entries: list[dict[str, Any]]) -> list[str]:
    """Requests that carried the wrong credential for their route (cred.team-key-not-on-personal-routes)."""
    from msgflash_mcp.sandbox.keys import TEAM_ID

    problems: list[str] = []
    for entry in entries:
        kind, team = entry.get("key_kind"), entry.get("team_id")
        if entry.get("fault"):
            continue
        if entry["path"] in PERSONAL_ONLY and kind != "personal":
            problems.append(f"{entry['method']} {entry['path']} carried a {kind} key")
        if kind == "personal" and team is not None:
            problems.append(f"{entry['method']} {entry['path']} sent X-Team-Id with the personal key")
        if kind == "team" and team != TEAM_ID:
            problems.append(f"{entry['method']} {entry['path']} carried the team key without its X-Team-Id")
    return problems


def checked_sandbox(config: SandboxConfig) -> Iterator[Any]:
    """A simulator; after the test, every request it saw is checked for the right credential."""
    app = create_app(config)
    yield app
    if not getattr(app.state, "expect_bad_credentials", False):
        problems = credential_violations(list(app.state.sandbox.ledger))
        assert not problems, "wrong credential on the wire:\n" + "\n".join(problems)


@pytest.fixture
def sandbox_app(resolution: Resolution) -> Iterator[Any]:
    """The simulator, on real time plus whatever the test advances."""
    yield from checked_sandbox(SandboxConfig(db_path=":memory:", rate_limit=0, resolution=resolution))


@pytest.fixture
def clock() -> FakeClock:
    """The tests' one clock (tests/fake_time.py), from the real now on. A sleep moves it: a server on it
    (`server.runtime.clock = clock`) follows a job or pauses for a retry without waiting for real."""
    return FakeClock(datetime.now(UTC), sleep_moves_time=True)


@pytest.fixture
def still_sandbox_app(resolution: Resolution, clock: FakeClock) -> Iterator[Any]:
    """The simulator on `clock`, which moves only when the test (or a server's sleep on it) moves it:
    lookups, bulk jobs, campaigns and replies progress on it, so on a busy machine real seconds would
    change nothing."""
    yield from checked_sandbox(
        SandboxConfig(
            db_path=":memory:", rate_limit=0, now=clock.now, monotonic=clock.monotonic, resolution=resolution
        )
    )


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"sandbox": True, "sandbox_db": ":memory:", "rate_limit": 0}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def server(settings: Settings, sandbox_app: Any) -> MCPServer[Any]:
    return build_server(settings, sandbox_app=sandbox_app)


@pytest.fixture
async def client(server: MCPServer[Any]) -> AsyncIterator[Client]:
    async with Client(server) as connected:
        yield connected


@pytest.fixture
def ledger(sandbox_app: Any) -> Callable[[], list[dict[str, Any]]]:
    """Every /api/v1 request the sandbox saw: method, path, status, code, key_kind, team_id, committed."""

    def entries() -> list[dict[str, Any]]:
        return [dict(entry) for entry in sandbox_app.state.sandbox.ledger]

    return entries


def mutations(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ledger entries that changed state."""
    return [entry for entry in entries if entry.get("committed")]


def link_urls(preview: dict[str, Any]) -> list[str]:
    """Every link a plan's preview lists (`what.links`), in order."""
    return [link["url"] for link in (preview.get("what") or {}).get("links") or []]


async def call_ok(client: Client, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call a tool and return its structured result, failing with the tool's own text if it errored."""
    result = await client.call_tool(tool, arguments or {})
    text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
    assert not result.is_error, f"{tool} failed: {text}"
    assert result.structured_content is not None
    return result.structured_content


async def call_error(client: Client, tool: str, arguments: dict[str, Any] | None = None) -> str:
    """Call a tool expecting a readable tool error; return its text."""
    result = await client.call_tool(tool, arguments or {})
    assert result.is_error, f"{tool} unexpectedly succeeded: {result.structured_content}"
    return result.content[0].text  # type: ignore[union-attr]
