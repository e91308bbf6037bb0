"""The embedded sandbox (no key, or --sandbox) keeps what a user created across restarts: by default it
lives in a file in the user's data directory (issue #2); ":memory:" is for tests and benchmarks."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.core.settings import Settings

from tests.conftest import call_ok

pytestmark = pytest.mark.anyio


def sandbox_files(root: Path) -> list[Path]:
    return list(root.rglob("sandbox.sqlite3"))


async def test_the_embedded_sandbox_survives_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MSGFLASH_SANDBOX_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))  # platformdirs' user data dir on Linux
    settings = Settings(rate_limit=0)
    assert settings.use_sandbox and settings.sandbox_db is None

    async with Client(build_server(settings)) as client:
        created = await call_ok(client, "create_contact", {"name": "Persisted Person", "phone": "+33612349876"})
    assert sandbox_files(tmp_path), "the sandbox database file was not created in the data dir"

    async with Client(build_server(settings)) as client:  # a new process would build exactly this
        found = await call_ok(client, "list_contacts", {"search": "Persisted"})
    assert [c["id"] for c in found["data"]["contacts"]] == [created["data"]["id"]]
