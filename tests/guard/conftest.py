"""Fixtures for the confirmation-guard tests: a fake clock the guard can be pinned to, elicitation
callbacks, seeded contacts to delete, and a real redis-server for the shared token store."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from mcp.server import MCPServer
from mcp.types import ElicitRequestFormParams, ElicitResult
from msgflash_mcp.server.guard import Guard, MemoryTokenStore, TokenStore


class FakeClock:
    """Wall-clock seconds that only move when a test says so."""

    def __init__(self, start: float = 1_900_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def pin_guard(server: MCPServer[Any], clock: FakeClock, store: TokenStore | None = None) -> Guard:
    """Swap the server's guard for one on `clock` (same settings; a fresh store unless given)."""
    runtime = server.runtime  # type: ignore[attr-defined]
    guard = Guard(runtime.settings, store or MemoryTokenStore(clock), clock=clock)
    runtime.guard = guard
    return guard


class Elicitor:
    """An elicitation callback that answers with `action` and remembers every question it saw."""

    def __init__(self, action: str = "accept", content: dict[str, Any] | None = None) -> None:
        self.action = action
        self.content = content if content is not None else {"confirm": True}
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


try:  # the shared fixture, when another part of the suite provides it
    from tests.redis_server import redis_url  # type: ignore[import-not-found]
except ImportError:

    @pytest.fixture(scope="session")
    def redis_url() -> Iterator[str]:
        """A throwaway redis-server on a free loopback port (tests/prepare.sh installs the binary)."""
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run tests/prepare.sh")
        port = _free_port()
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                        sock.sendall(b"PING\r\n")
                        if sock.recv(16).startswith(b"+PONG"):
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("redis-server did not start")
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
