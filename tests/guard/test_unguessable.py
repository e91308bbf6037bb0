"""guard.unguessable: tokens carry >= 128 bits from `secrets`, no collisions, no structure."""

from __future__ import annotations

import base64
import itertools
import secrets
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgflash_mcp.server.core.settings import ConfirmMode
from msgflash_mcp.server.guard import TOKEN_PREFIX, Decision, Guard, _hash
from msgflash_mcp.server.guard.plan import Plan, PlannedRequest
from msgflash_mcp.server.runtime import guard_policy
from msgflash_mcp.tools.contacts import toolset as contacts_toolset

from tests.conftest import make_settings
from tests.fake_time import FakeClock

pytestmark = pytest.mark.anyio

SPEC = next(s for s in contacts_toolset.specs if s.name == "delete_contact")
N = 2000


async def mint(guard: Guard, args: dict[str, Any], principal: str = "conn-a") -> str:
    assert SPEC.route is not None
    request = PlannedRequest(SPEC.route, json=args)  # any arguments: the token must reveal none of them
    plan = Plan(tool=SPEC.name, action="Delete contact", workspace="personal", requests=(request,))
    decision = await guard.decide(SPEC, False, plan, args=args, principal=principal, confirm_token=None)
    assert isinstance(decision, Decision) and decision.kind == "pending" and decision.token
    return decision.token


def body(token: str) -> bytes:
    assert token.startswith(TOKEN_PREFIX)
    raw = token.removeprefix(TOKEN_PREFIX)
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


def common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


async def test_many_tokens_no_collisions_no_structure() -> None:
    guard = Guard(guard_policy(make_settings(confirm=ConfirmMode.TOKEN)), clock=FakeClock().timestamp)
    args = {"contact_id": "00000000-0000-4000-8000-000000000001"}
    tokens = [await mint(guard, args) for _ in range(N)]  # identical calls: nothing but randomness differs
    assert len(set(tokens)) == N
    bodies = [body(t) for t in tokens]
    assert all(len(b) * 8 >= 128 for b in bodies)
    # no shared prefix beyond "cfm_": with 2000 random base64 strings the longest common prefix of
    # neighbours in sorted order is ~3 characters; 8 would mean structure (counter, time, args).
    rest = sorted(t.removeprefix(TOKEN_PREFIX) for t in tokens)
    assert max(common_prefix(a, b) for a, b in itertools.pairwise(rest)) < 8
    # every bit position is balanced (a constant or time-derived byte would be stuck near 0 or 1)
    nbits = len(bodies[0]) * 8
    ints = [int.from_bytes(b, "big") for b in bodies]
    for bit in range(nbits):
        ones = sum((i >> bit) & 1 for i in ints)
        assert 0.4 < ones / N < 0.6, f"bit {bit} set in {ones}/{N} tokens"
    # the store only ever sees hashes
    store = guard.store
    for token in tokens[:20]:
        assert await store.get(_hash(token)) is not None
        assert await store.get(token) is None


async def test_tokens_come_from_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int | None] = []
    real = secrets.token_urlsafe

    def spy(nbytes: int | None = None) -> str:
        calls.append(nbytes)
        return real(nbytes)

    monkeypatch.setattr(secrets, "token_urlsafe", spy)
    guard = Guard(guard_policy(make_settings(confirm=ConfirmMode.TOKEN)), clock=FakeClock().timestamp)
    await mint(guard, {"contact_id": "x"})
    assert calls and all(n is not None and n >= 16 for n in calls)


@settings(max_examples=50, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    args=st.dictionaries(st.sampled_from(["contact_id", "name", "phone"]), st.text(max_size=20), max_size=3),
    principal=st.text(min_size=1, max_size=10),
)
def test_token_reveals_nothing_of_what_it_binds(args: dict[str, str], principal: str) -> None:
    """Tokens are independent of arguments/principal: the same call twice gives unrelated tokens."""
    import anyio

    async def run() -> tuple[str, str]:
        guard = Guard(guard_policy(make_settings(confirm=ConfirmMode.TOKEN)), clock=FakeClock().timestamp)
        return await mint(guard, args, principal), await mint(guard, args, principal)

    a, b = anyio.run(run)
    assert a != b
    assert common_prefix(a, b) < len(TOKEN_PREFIX) + 8
    for value in [*args.values(), principal]:
        if len(value) >= 4:
            assert value not in a
