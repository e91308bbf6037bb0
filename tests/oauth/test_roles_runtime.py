"""Roles at runtime (server/auth/role_store.py, `msgflash-mcp roles`): MSGFLASH_ROLES seeds the table, the shared
Redis overrides it holder by holder (a revocation included), deny by default stays; the command line says what is
wrong without leaking the Redis password. The two-replica behaviour is in tests/oauth/test_replicas.py."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from msgflash_mcp.server.__main__ import main as cli
from msgflash_mcp.server.auth.role_store import RedisRoles
from msgflash_mcp.server.auth.roles import Person, RoleTable
from msgflash_mcp.server.core.settings import Role

ISSUER = "https://id.example.test"
CONFIGURED = {
    "personal": {"alice@example.test": Role.ADMIN, "sub:bot": Role.VIEWER},
    "sandbox-team": {"sub:bob": Role.SENDER},
}
ALICE = Person("alice-subject", "alice@example.test")
BOB = Person("bob", None)


@pytest.fixture
def shared(oauth_redis: Any) -> RedisRoles:
    return RedisRoles(oauth_redis)


@pytest.mark.anyio
async def test_runtime_entries_override_the_configured_ones_holder_by_holder(shared: RedisRoles) -> None:
    table = RoleTable(CONFIGURED, shared)
    assert await table.role_in(ALICE, "personal") is Role.ADMIN  # configured, by email
    assert await table.role_in(ALICE, "sandbox-team") is None  # deny by default
    await shared.grant("sandbox-team", "Alice@Example.test", Role.VIEWER)  # emails compare case-insensitively
    assert await table.role_in(ALICE, "sandbox-team") is Role.VIEWER
    await shared.grant("personal", "sub:alice-subject", Role.SENDER)  # her subject is asked first
    assert await table.role_in(ALICE, "personal") is Role.SENDER
    await shared.revoke("personal", "sub:alice-subject")  # revoked by subject: her email's role is hers again
    assert await table.role_in(ALICE, "personal") is Role.ADMIN
    await shared.revoke("personal", "alice@example.test")  # and the configured one overridden too
    assert await table.role_in(ALICE, "personal") is None
    await shared.revoke("sandbox-team", "sub:bob")
    assert await table.role_in(BOB, "sandbox-team") is None
    assert await RoleTable(CONFIGURED).role_in(BOB, "sandbox-team") is Role.SENDER  # no Redis: the configuration
    assert await shared.entries("personal") == {"sub:alice-subject": None, "alice@example.test": None}
    with pytest.raises(ValueError, match="neither"):
        await shared.grant("personal", "alice", Role.VIEWER)


def use_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    base = {"MSGFLASH_SANDBOX": "true", "MSGFLASH_OAUTH_ISSUER": ISSUER, "MSGFLASH_PUBLIC_URL": "https://mcp.example.test",
            "MSGFLASH_ROLES": json.dumps({w: {h: r.value for h, r in hs.items()} for w, hs in CONFIGURED.items()})}
    for name, value in {**base, **values}.items():
        monkeypatch.setenv(name, value)


def test_the_command_line_grants_revokes_and_lists(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], oauth_redis_url: str
) -> None:
    use_env(monkeypatch, MSGFLASH_REDIS_URL=oauth_redis_url)
    assert cli(["roles", "grant", "sandbox-team", "Carol@Example.test", "admin"]) == 0
    assert cli(["roles", "revoke", "personal", "sub:bot"]) == 0
    capsys.readouterr()
    assert cli(["roles", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "personal\talice@example.test\tadmin\t(MSGFLASH_ROLES)",
        "personal\tsub:bot\tnone\t(runtime, MSGFLASH_ROLES says viewer)",
        "sandbox-team\tcarol@example.test\tadmin\t(runtime)",
        "sandbox-team\tsub:bob\tsender\t(MSGFLASH_ROLES)",
    ]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(("argv", "env", "expected"), [
    (["grant", "personal", "sub:x", "viewer"], {}, "set MSGFLASH_REDIS_URL"),
    (["grant", "nowhere", "sub:x", "viewer"], {"MSGFLASH_REDIS_URL": "redis://127.0.0.1:1/0"},
     "unknown workspace 'nowhere'; this configuration serves: personal, sandbox-team"),
    (["revoke", "personal", "alice"], {"MSGFLASH_REDIS_URL": "redis://127.0.0.1:1/0"},
     "'alice' is neither 'sub:<subject>' nor an email address"),
    (["list"], {"MSGFLASH_REDIS_URL": "redis://:hunter2canary@127.0.0.1:{port}/0"},
     "could not reach MSGFLASH_REDIS_URL"),
])
def test_the_command_line_says_what_is_wrong_and_never_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str],
    expected: str,
) -> None:
    use_env(monkeypatch, **{name: value.format(port=closed_port()) for name, value in env.items()})
    assert cli(["roles", *argv]) == 2
    captured = capsys.readouterr()
    assert expected in captured.err and captured.out == ""
    assert "hunter2canary" not in captured.err


def test_roles_are_for_signed_in_people_only(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MSGFLASH_SANDBOX", "true")
    assert cli(["roles", "list"]) == 2
    assert "set MSGFLASH_OAUTH_ISSUER" in capsys.readouterr().err


def test_a_role_must_be_one_of_the_three(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    use_env(monkeypatch)
    with pytest.raises(SystemExit):
        cli(["roles", "grant", "personal", "sub:x", "owner"])
    assert "invalid choice: 'owner'" in capsys.readouterr().err


