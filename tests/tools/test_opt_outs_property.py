"""Property: no number that had opted out when a send was confirmed is ever among the delivered messages of
that send, unless send_message's override_opt_out was confirmed for it.

Random steps over the seeded account: people write STOP, numbers are added or (confirmed) removed, direct
sends with or without the override, campaigns to a tag. After each step the sandbox's clock runs an hour
(campaigns start, messages are delivered, simulated people reply, sometimes with STOP), and the outbound
messages that step created are compared with the opt-out list as it stood before it: the list the server
itself reports (list_opt_outs), since simulated replies add to it too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from msgflash_mcp.sandbox import seed as S
from msgflash_mcp.sandbox.app import SandboxConfig, create_app
from msgflash_mcp.sandbox.store import loads
from msgflash_mcp.server.app import build_server

from tests.conftest import make_settings
from tests.fake_time import FakeClock
from tests.sandbox.helpers import client_for

INSTANCE = S.PERSONAL_CONNECTED_INSTANCE_ID
PEOPLE = [phone for _, phone, _ in S.PERSONAL_CONTACTS[:8]]
DELIVERED = ("sent", "delivered", "read")

person = st.sampled_from(PEOPLE)
step = st.one_of(
    st.tuples(st.just("stop"), person, st.sampled_from(["STOP", "Arrêt", "baja", "stop by on Monday?"])),
    st.tuples(st.just("add"), person, st.just("")),
    st.tuples(st.just("remove"), person, st.just("")),
    st.tuples(st.just("send"), person, st.sampled_from(["", "override"])),
    st.tuples(st.just("campaign"), st.sampled_from(["vip", "customer", "lead"]), st.just("")),
)


async def _call(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """A tool call the model makes; a refusal (a tool error) is None. Guarded ones are confirmed."""
    result = await client.call_tool(tool, args)
    if result.is_error or result.structured_content is None:
        return None
    out = result.structured_content
    if out["status"] == "confirmation_required":
        return await _call(client, tool, {**args, "confirm_token": out["confirm_token"]})
    return out


def _outbound(sandbox: Any) -> list[dict[str, Any]]:
    rows = sandbox.db.execute("SELECT data FROM messages WHERE ws = ?", (S.USER_ID,)).fetchall()
    return [m for m in (loads(r["data"]) for r in rows) if m.get("direction", "outbound") != "inbound"]


async def _run(steps: list[tuple[str, str, str]]) -> None:
    clock = FakeClock(datetime.now(UTC), sleep_moves_time=True)  # the server's and the sandbox's
    app = create_app(SandboxConfig(db_path=":memory:", rate_limit=0, now=clock.now))
    sandbox = app.state.sandbox
    server = build_server(make_settings(confirm="token"), sandbox_app=app)
    server.runtime.clock = clock
    async with Client(server) as client, client_for(app) as control:
        for kind, who, extra in steps:
            listed = await _call(client, "list_opt_outs", {})
            assert listed is not None
            opted = {row["phone"] for row in listed["data"]["opt_outs"]}
            before = {m["id"] for m in _outbound(sandbox)}
            overridden: set[str] = set()
            if kind == "stop":
                answer = await control.post("/_sandbox/inbound", json={"instanceId": INSTANCE, "from": who, "body": extra})
                assert answer.status_code == 201
            elif kind in ("add", "remove"):
                await _call(client, f"{kind}_opt_out", {"phone": who})
            elif kind == "send":
                args: dict[str, Any] = {"instance_id": INSTANCE, "to": who, "type": "text", "text": "Bonjour"}
                if extra:
                    args["override_opt_out"] = True
                if await _call(client, "send_message", args) is not None and extra:
                    overridden.add(who)
            else:
                start = (clock.now() + timedelta(minutes=1)).isoformat()
                await _call(client, "create_campaign", {
                    "instance_id": INSTANCE, "name": "p", "schedule": start, "recipients_type": "tags", "tags": [who],
                    "type": "text", "body": "Promo"})
            clock.advance(3_600)
            sandbox.tick()
            new = [m for m in _outbound(sandbox) if m["id"] not in before and m["status"] in DELIVERED]
            reached = {m["to"] for m in new} & opted
            assert reached <= overridden, f"{kind} {who}: opted-out {sorted(reached - overridden)} were messaged"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=5))
def test_no_opted_out_number_is_delivered_without_a_confirmed_override(steps: list[tuple[str, str, str]]) -> None:
    async def bounded() -> None:
        with anyio.fail_after(60):
            await _run(steps)

    anyio.run(bounded)
