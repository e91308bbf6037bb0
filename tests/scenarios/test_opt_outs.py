"""Opt-outs in everyday requests: the person asks for a campaign, one recipient wrote STOP, and the
delivered messages (the sandbox's own, after its clock has run the campaign) show they were left out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from msgflash_mcp.sandbox import seed as S

from tests.sandbox.helpers import client_for

from .conftest import SandboxState, Session

pytestmark = pytest.mark.anyio
DELIVERED = ("sent", "delivered", "read")


async def test_a_campaign_to_a_group_where_one_person_wrote_stop(
    session: Session, state: SandboxState, sandbox_app: Any
) -> None:
    """"Send the VIPs our private-sale note in ten minutes." -> preview (names who is left out), confirm."""
    vips = [phone for _, phone, tags in S.PERSONAL_CONTACTS if "vip" in tags]
    stopped = ["+33612345006"]  # Aminata, a VIP, answers the spring sale with STOP
    async with client_for(sandbox_app) as sandbox:
        answer = await sandbox.post("/_sandbox/inbound", json={
            "instanceId": S.PERSONAL_CONNECTED_INSTANCE_ID, "from": stopped[0], "body": "STOP"})
    assert answer.status_code == 201, answer.text
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

