"""Opt-outs in everyday requests: the person asks for a campaign, one recipient once wrote STOP, and the
delivered messages (the sandbox's own, after its clock has run the campaign) show they were left out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from msgflash_mcp.sandbox import seed as S

from tests.opt_outs import opted_out_in

from .conftest import SandboxState, Session

pytestmark = pytest.mark.anyio
DELIVERED = ("sent", "delivered", "read")


async def test_a_campaign_to_a_group_where_one_person_wrote_stop(
    session: Session, state: SandboxState, sandbox_app: Any
) -> None:
    """"Send the VIPs our private-sale note in ten minutes." -> preview (names who is left out), confirm."""
    vips = [phone for _, phone, tags in S.PERSONAL_CONTACTS if "vip" in tags]
    stopped = sorted(opted_out_in(sandbox_app.state.sandbox, S.USER_ID) & set(vips))
    assert len(stopped) == 1  # the seed: a VIP answered the spring sale with STOP
    start = (state.clock.now() + timedelta(minutes=10)).isoformat()
    args = {"instance_id": S.PERSONAL_CONNECTED_INSTANCE_ID, "name": "Vente privée", "schedule": start,
            "recipients_type": "group", "group_id": S.VIP_GROUP_ID, "type": "text", "body": "Vente privée demain"}
    first, done = await session.confirmed("create_campaign", args)
    session.within(2)
    preview = first["preview"]
    assert preview["who"]["count"] == len(vips) - 1
    assert f"1 opted out, left out: {stopped[0]} (wrote STOP on" in " ".join(preview["risk"])
    state.clock.advance(3_600)  # the campaign starts and its messages are delivered
    sandbox_app.state.sandbox.tick()  # the sandbox applies what is due when asked
    sent = [m for m in state.messages() if m.get("campaignId") == done["data"]["id"]]
    delivered = {m["to"] for m in sent if m["status"] in DELIVERED}
    assert stopped[0] not in {m["to"] for m in sent}
    assert delivered == set(vips) - set(stopped) - {p for p in vips if p.endswith("13")}

