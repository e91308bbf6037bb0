"""The Redis token store: same contract as the memory store, atomic claim across processes, and
shared by replicas (a token minted by one server is honoured, once, by another)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest
from mcp import Client
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.core.settings import ConfirmMode
from msgflash_mcp.server.guard import Decision, Guard, MemoryTokenStore, TokenRecord, _hash
from msgflash_mcp.server.guard.redis_store import KEY_PREFIX, RedisTokenStore
from msgflash_mcp.server.runtime import guard_policy
from msgflash_mcp.tools.contacts import toolset as contacts_toolset
from pydantic import SecretStr

from tests.conftest import call_ok, make_settings, mutations
from tests.fake_time import FakeClock

from .conftest import personal_contacts

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

Ledger = Callable[[], list[dict[str, Any]]]


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Any]:
    import redis.asyncio as aioredis

    async with aioredis.from_url(redis_url) as client:
        yield client


def record(**overrides: Any) -> TokenRecord:
    values: dict[str, Any] = {"tool": "delete_contact", "binding": "b" * 64, "expires_at": 1_900_000_600.25}
    values.update(overrides)
    return TokenRecord(**values)


async def test_put_get_roundtrip_and_key_layout(redis: Any) -> None:
    store = RedisTokenStore(redis)
    token_hash = _hash("cfm_roundtrip")
    await store.put(token_hash, record(), 600)
    assert await store.get(token_hash) == record()
    key = KEY_PREFIX + token_hash
    assert key == "msgflash:cfm:" + token_hash
    assert 0 < await redis.pttl(key) <= 600_000
    assert b"cfm_roundtrip" not in b"".join(await redis.hvals(key))  # only the hash names it
    assert await store.get(_hash("cfm_other")) is None


async def test_claim_once_then_used_then_result_for_replays(redis: Any) -> None:
    store = RedisTokenStore(redis)
    token_hash = _hash("cfm_claim")
    assert await store.claim(token_hash) == "missing"
    await store.put(token_hash, record(), 600)
    assert await store.claim(token_hash) == "claimed"
    assert await store.claim(token_hash) == "used"
    got = await store.get(token_hash)
    assert got is not None and got.used and got.result is None
    await store.save_result(token_hash, {"status": "ok", "summary": "Deleted é", "data": {"id": "x"}}, 1200)
    got = await store.get(token_hash)
    assert got is not None and got.result == {"status": "ok", "summary": "Deleted é", "data": {"id": "x"}}
    assert await redis.pttl(KEY_PREFIX + token_hash) > 600_000  # kept longer so replays find it


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_an_answer_acts_once_and_fresh_asks_release_nothing(redis: Any, kind: str) -> None:
    """On either store: a fresh ask gets a new reference once the question was answered, the same one while it
    is unanswered (a concurrent re-send's answer stays valid), a later round the same one; an answer is claimed
    once (its round then replays the result), and asking afresh never releases an earlier claim."""
    store = MemoryTokenStore() if kind == "memory" else RedisTokenStore(redis)
    guard = Guard(guard_policy(make_settings()), store)

    def answer_of(reference: str) -> str:
        return f"answer:{reference}"

    first = await guard.ask("asked:q", fresh=True, answer_of=answer_of)
    assert await guard.ask("asked:q", fresh=False, answer_of=answer_of) == first  # the answering round
    assert await guard.ask("asked:q", fresh=True, answer_of=answer_of) == first  # asked again, still unanswered
    assert await guard.claim_answer("create_campaign", answer_of(first), "round:1") is None  # acts
    await guard.save_result(answer_of(first), {"status": "ok", "summary": "Campaign created"})
    second = await guard.ask("asked:q", fresh=True, answer_of=answer_of)  # answered, asked afresh: a new one
    assert second != first and await guard.ask("asked:q", fresh=False, answer_of=answer_of) == second
    replay = await guard.round_replay("round:1")  # the old round re-sent: still its first result
    assert replay is not None and replay.replay == {"status": "ok", "summary": "Campaign created"}
    again = await guard.claim_answer("create_campaign", answer_of(first), "round:2")  # the old answer elsewhere
    assert again is not None and again.kind == "replay"
    assert await guard.claim_answer("create_campaign", answer_of(second), "round:3") is None  # the new answer


async def test_save_result_never_resurrects_an_expired_token(redis: Any) -> None:
    store = RedisTokenStore(redis)
    token_hash = _hash("cfm_gone")
    await store.save_result(token_hash, {"status": "ok"}, 1200)
    assert await redis.exists(KEY_PREFIX + token_hash) == 0
    await store.put(token_hash, record(), 0.05)
    await anyio.sleep(0.2)
    assert await store.get(token_hash) is None
    assert await store.claim(token_hash) == "missing"


async def test_concurrent_claims_in_one_process(redis: Any) -> None:
    store = RedisTokenStore(redis)
    token_hash = _hash("cfm_race")
    await store.put(token_hash, record(), 600)
    outcomes: list[str] = []

    async def claim() -> None:
        outcomes.append(await store.claim(token_hash))

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(claim)
    assert sorted(outcomes) == ["claimed"] + ["used"] * 49


CLAIMER = """
import asyncio, sys
import redis.asyncio as aioredis
from msgflash_mcp.server.guard.redis_store import RedisTokenStore

async def main(url, token_hash, barrier):
    client = aioredis.from_url(url)
    try:
        store = RedisTokenStore(client)
        await client.ping()
        await client.blpop([barrier], timeout=30)  # every claimer starts at the same moment
        print(await store.claim(token_hash))
    finally:
        await client.aclose()

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.timeout(120)  # starts several Python processes: ~22 s under load
def test_exactly_one_claimer_across_processes(redis_url: str) -> None:
    import redis as sync_redis

    token_hash = _hash("cfm_processes")
    key = KEY_PREFIX + token_hash
    barrier = "msgflash:test:barrier:" + token_hash
    claimers = 3
    with sync_redis.from_url(redis_url) as r:
        r.delete(key, barrier)
        r.hset(key, mapping={"record": record().model_dump_json(exclude={"used", "result"}), "used": "0"})
        r.pexpire(key, 60_000)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", CLAIMER, redis_url, token_hash, barrier], stdout=subprocess.PIPE, text=True
            )
            for _ in range(claimers)
        ]
        try:
            deadline = time.monotonic() + 60
            while r.client_list().__len__() < claimers + 1 and time.monotonic() < deadline:
                time.sleep(0.05)  # wait until every claimer is connected and blocked on the barrier
            r.rpush(barrier, *["go"] * claimers)
            results = sorted(proc.communicate(timeout=60)[0].strip() for proc in procs)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    assert results == ["claimed"] + ["used"] * (claimers - 1)


async def test_a_token_minted_on_one_replica_works_once_on_another(redis_url: str) -> None:
    """Two Guards, two Redis connections (two replicas): mint on A, redeem on B, replay on A."""
    import redis.asyncio as aioredis

    spec = next(s for s in contacts_toolset.specs if s.name == "delete_contact")
    settings = make_settings(confirm=ConfirmMode.TOKEN)
    clock = FakeClock()
    a_conn, b_conn = aioredis.from_url(redis_url), aioredis.from_url(redis_url)
    try:
        a = Guard(guard_policy(settings), RedisTokenStore(a_conn), clock=clock.timestamp)
        b = Guard(guard_policy(settings), RedisTokenStore(b_conn), clock=clock.timestamp)
        args = {"contact_id": personal_contacts()[1]["id"]}

        from msgflash_mcp.server.guard.plan import Plan, PlannedRequest

        assert spec.route is not None
        request = PlannedRequest(spec.route, path={"id": args["contact_id"]})
        plan = Plan(tool="delete_contact", action="Delete contact", workspace="personal", requests=(request,))
        common: dict[str, Any] = {"principal": "http:alice", "args": args}
        pending = await a.decide(spec, False, plan, confirm_token=None, **common)
        assert isinstance(pending, Decision) and pending.kind == "pending" and pending.token
        go = await b.decide(spec, False, plan, confirm_token=pending.token, **common)
        assert isinstance(go, Decision) and go.kind == "proceed"
        await b.save_result(go.token_hash, {"status": "ok", "summary": "Deleted"})
        replay = await a.decide(spec, False, plan, confirm_token=pending.token, **common)
        assert isinstance(replay, Decision) and replay.kind == "replay"
        assert replay.replay == {"status": "ok", "summary": "Deleted"}
        # another principal on another replica: refused
        from mcp.server.mcpserver.exceptions import ToolError

        with pytest.raises(ToolError, match="different arguments"):
            await b.decide(spec, False, plan, confirm_token=pending.token, **{**common, "principal": "http:bob"})
        # and the memory store would not have known the token at all
        with pytest.raises(ToolError, match="unknown or expired"):
            await Guard(guard_policy(settings), MemoryTokenStore(clock.timestamp), clock=clock.timestamp).decide(
                spec, False, plan, confirm_token=pending.token, **common
            )
    finally:
        await a_conn.aclose()
        await b_conn.aclose()


async def test_server_with_redis_url_uses_the_shared_store(redis_url: str, sandbox_app: Any, ledger: Ledger) -> None:
    server = build_server(make_settings(redis_url=SecretStr(redis_url)), sandbox_app=sandbox_app)
    runtime = server.runtime
    assert isinstance(runtime.guard.store, RedisTokenStore)
    contact = personal_contacts()[1]
    try:
        async with Client(server) as client:
            out = await call_ok(client, "delete_contact", {"contact_id": contact["id"]})
            assert out["status"] == "confirmation_required"
            token = out["confirm_token"]
            assert await runtime.redis.exists(KEY_PREFIX + _hash(token)) == 1
            results: list[Any] = []

            async def use() -> None:
                results.append(
                    await client.call_tool("delete_contact", {"contact_id": contact["id"], "confirm_token": token})
                )

            async with anyio.create_task_group() as tg:
                for _ in range(4):
                    tg.start_soon(use)
            assert sum(1 for r in results if not r.is_error and r.structured_content["status"] == "ok") == 1
            replay = await call_ok(client, "delete_contact", {"contact_id": contact["id"], "confirm_token": token})
            assert replay["status"] == "replayed"
        assert len(mutations(ledger())) == 1
    finally:
        await runtime.redis.aclose()


async def test_replay_entries_keep_the_outcome_but_not_the_webhook_secret(
    redis_url: str, sandbox_app: Any, ledger: Ledger
) -> None:
    """A replay entry lives in Redis for up to 20 minutes: it keeps what happened (the webhook, its id),
    never the signing secret the first result showed once. A replay says the secret is not shown again."""
    server = build_server(make_settings(redis_url=SecretStr(redis_url)), sandbox_app=sandbox_app)
    runtime = server.runtime
    args = {"url": "https://hooks.example.org/in", "events": ["message.received"]}
    try:
        async with Client(server) as client:
            pending = await call_ok(client, "create_webhook", args)
            done = await call_ok(client, "create_webhook", {**args, "confirm_token": pending["confirm_token"]})
            secret = done["data"]["secret"]
            assert done["status"] == "ok" and isinstance(secret, str) and len(secret) >= 16
            stored = b""
            async for key in runtime.redis.scan_iter(match="msgflash:*"):
                if await runtime.redis.type(key) == b"hash":
                    stored += b"".join(await runtime.redis.hvals(key))
            assert done["data"]["id"].encode() in stored  # the outcome is kept
            assert secret.encode() not in stored
            replay = await call_ok(client, "create_webhook", {**args, "confirm_token": pending["confirm_token"]})
        assert replay["status"] == "replayed" and replay["data"]["id"] == done["data"]["id"]
        assert secret not in str(replay) and "not kept" in replay["data"]["secret"]
        assert len(mutations(ledger())) == 1
    finally:
        await runtime.redis.aclose()
