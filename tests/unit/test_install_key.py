"""server/install_key.py: without MSGFLASH_PRINCIPAL_KEY each install makes a random key once, keeps it
owner-only in its data dir, and names HTTP principals with it; a fixed public key named them before,
so anyone reading Redis key names could confirm a guessed token offline."""

from __future__ import annotations

import hashlib
import hmac
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from msgflash_mcp.server.call.principal import token_principal
from msgflash_mcp.server.core.settings import ConfigError
from msgflash_mcp.server.install_key import KEY_FILE, kept_key, principal_key
from msgflash_mcp.server.transport.serve import http_app
from pydantic import SecretStr

from tests.conftest import call_ok, make_settings
from tests.redis_server import redis_url  # noqa: F401

PUBLIC_KEY = b"msgflash-mcp/http-principal/v1"  # what named every principal before, on every install


def fresh(path: Path) -> bytes:
    return kept_key.__wrapped__(path)  # bypass the cache


def test_a_key_is_made_once_random_and_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / KEY_FILE
    key = fresh(path)
    assert len(key) == 64 and int(key, 16) >= 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert fresh(path) == key  # kept: the next start reads it
    assert fresh(tmp_path / "other" / KEY_FILE) != key  # another install, another key
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE]  # no temporary file left behind


def test_processes_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: fresh(path), range(32)))
    assert keys == {path.read_text().strip().encode()}
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]


def test_a_configured_key_wins_and_a_damaged_file_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert principal_key(make_settings(principal_key=SecretStr("configured"))) == b"configured"
    assert not any(tmp_path.rglob(KEY_FILE))  # nothing made when one is configured
    damaged = tmp_path / "damaged" / KEY_FILE
    damaged.parent.mkdir()
    damaged.write_text("short\n")
    with pytest.raises(ConfigError, match="delete it to have a new one generated"):
        fresh(damaged)


@pytest.mark.anyio
@pytest.mark.redis
async def test_redis_key_names_do_not_confirm_a_guessed_token(
    monkeypatch: pytest.MonkeyPatch, sandbox_app: Any, redis_url: str  # noqa: F811
) -> None:
    """A token holder switches workspace through a shared Redis: its key name carries a principal that the
    public key cannot reproduce from the token, and that this install's kept key does."""
    import redis.asyncio as aioredis

    opened: list[Any] = []
    real_from_url = aioredis.from_url

    def recording_from_url(*a: Any, **kw: Any) -> Any:  # the server's real client, kept to close it
        opened.append(real_from_url(*a, **kw))
        return opened[-1]

    monkeypatch.setattr(aioredis, "from_url", recording_from_url)
    try:
        names = await _switch_and_list_key_names(monkeypatch, sandbox_app, redis_url)
    finally:
        for client in opened:
            await client.aclose()
    token = "guessable-token-1"
    public = "tok-" + hmac.new(PUBLIC_KEY, token.encode(), hashlib.sha256).hexdigest()[:32]
    assert public not in names
    assert token_principal(token, principal_key(make_settings())) in names


async def _switch_and_list_key_names(monkeypatch: pytest.MonkeyPatch, sandbox_app: Any, redis_url: str) -> str:  # noqa: F811
    import redis.asyncio as aioredis

    token = "guessable-token-1"
    monkeypatch.setenv("MSGFLASH_HTTP_TOKEN", token)
    settings = make_settings(redis_url=redis_url)
    app = http_app(settings, sandbox_app=sandbox_app)
    headers = {"Authorization": f"Bearer {token}"}
    with anyio.fail_after(60):
        async with app.router.lifespan_context(app), httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8765", headers=headers, timeout=20
        ) as http, Client(streamable_http_client("http://127.0.0.1:8765/mcp", http_client=http)) as client:
            await call_ok(client, "switch_workspace", {"workspace": "sandbox-team"})
    redis = aioredis.from_url(redis_url)
    return b" ".join([key async for key in redis.scan_iter(match="msgflash:ws:*")]).decode()
