"""Replicas sharing a Redis name people with one principal key, or the odd one out refuses to start
(server/transport/replica_key.py): with another key, alice's confirmations and workspace would silently be a
stranger's on that replica."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis.asyncio as aioredis
from msgflash_mcp.server.transport.replica_key import FINGERPRINT_KEY, claim_or_compare, fingerprint

from tests.redis_server import redis_url  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]  # two subprocess start-ups, under load

KEY_A = b"a" * 64
KEY_B = b"b" * 64


@pytest.fixture
def own_db(redis_url: str) -> str:  # noqa: F811
    return redis_url.rsplit("/", 1)[0] + "/7"  # a database of its own: the fingerprint is one key per Redis


@pytest.fixture
async def client(own_db: str) -> AsyncIterator[Any]:
    redis: Any = aioredis.from_url(own_db)
    await redis.flushdb()
    try:
        yield redis
    finally:
        await redis.flushdb()
        await redis.aclose()


async def test_the_first_replica_records_its_key_and_others_with_it_agree(client: Any) -> None:
    with anyio.fail_after(10):
        assert await claim_or_compare(client, KEY_A) is None
        assert await claim_or_compare(client, KEY_A) is None  # a restart, or a second replica with the same key
        problem = await claim_or_compare(client, KEY_B)
        assert problem is not None and "MSGFLASH_PRINCIPAL_KEY" in problem and FINGERPRINT_KEY in problem
        assert (await client.get(FINGERPRINT_KEY)).decode() == fingerprint(KEY_A)  # the odd one changed nothing
        assert KEY_A.decode() not in (await client.get(FINGERPRINT_KEY)).decode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("msgflash-mcp")), *args]


async def _run(command: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    with anyio.fail_after(60):
        done = await anyio.run_process(command, env=env, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def _env(own_db: str, key: bytes) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSGFLASH_")}
    env.update(MSGFLASH_REDIS_URL=own_db, MSGFLASH_PRINCIPAL_KEY=key.decode(), MSGFLASH_HTTP_TOKEN="t" * 32)
    return env


async def test_an_http_replica_with_another_key_refuses_to_start_and_says_how_to_fix_it(
    client: Any, own_db: str
) -> None:
    await client.set(FINGERPRINT_KEY, fingerprint(KEY_A))
    code, out, err = await _run(_command("--transport", "http", "--port", str(_free_port())), _env(own_db, KEY_B))
    assert code != 0
    assert "principal key differs" in err and f"redis-cli DEL {FINGERPRINT_KEY}" in err
    assert "Streamable HTTP on" not in err  # it never served
    assert KEY_B.decode() not in out + err


async def test_doctor_names_a_key_the_replicas_do_not_share(client: Any, own_db: str) -> None:
    await client.set(FINGERPRINT_KEY, fingerprint(KEY_A))
    _, other, other_err = await _run(_command("doctor"), _env(own_db, KEY_B))
    _, same, _ = await _run(_command("doctor"), _env(own_db, KEY_A))
    assert "differs from the one the replicas sharing this Redis use" in other
    assert "the same as the replicas sharing this Redis" in same
    assert KEY_B.decode() not in other + other_err
