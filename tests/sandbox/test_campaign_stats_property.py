"""Property: a campaign's stats add up at every step, whatever happens to it and its recipients.

`planned = sent + failed + skipped + cancelled + queued`, every counter >= 0, `planned` never shrinks and
`sent >= delivered >= read`, over random campaigns (selector, repeat, schedule, content), random clock
jumps on the injected sandbox clock, contacts deleted or added, pauses and resumes: under each resolution
setting. The sandbox is driven through its request pipeline (`Sandbox.run`), synchronously: no real time."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgflash_mcp.sandbox import seed as S
from msgflash_mcp.sandbox.app import Sandbox
from msgflash_mcp.sandbox.campaign_runs import RESOLUTIONS
from msgflash_mcp.sandbox.keys import PERSONAL_KEY

from tests.fake_time import FakeClock

from .helpers import make_app

SELECTORS = [
    {"type": "all"},
    {"type": "tags", "value": ["vip"]},
    {"type": "group", "groupId": S.LEADS_GROUP_ID},
    {"type": "explicit", "value": [S.AWA_CONTACT_ID]},
]
CONTENTS = [
    {"type": "text", "body": "Promo"},
    {"templateId": S.PROMO_TEMPLATE_ID, "variables": {"code": "X1"}},
    {"type": "buttons", "title": "T", "description": "D", "buttons": [{"type": "reply", "displayText": "Ok", "id": "ok"}]},
]

create = st.fixed_dictionaries({
    "op": st.just("create"),
    "selector": st.sampled_from(SELECTORS),
    "content": st.sampled_from(CONTENTS),
    "repeat": st.sampled_from(["none", "daily", "weekly"]),
    "start_in": st.floats(min_value=-30, max_value=3 * 86_400, allow_nan=False),
})
advance = st.fixed_dictionaries({"op": st.just("advance"),
                                 "seconds": st.sampled_from([0.4, 1, 2.5, 7, 60, 3_600, 86_400, 8 * 86_400])})
delete = st.fixed_dictionaries({"op": st.just("delete"), "index": st.integers(0, 40)})
add = st.fixed_dictionaries({"op": st.just("add"), "n": st.integers(0, 10_000)})
toggle = st.fixed_dictionaries({"op": st.sampled_from(["pause", "resume"]), "index": st.integers(0, 5)})
steps = st.lists(st.one_of(create, advance, advance, delete, add, toggle), min_size=1, max_size=25)


def call(sb: Sandbox, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> tuple[int, Any]:
    raw = json.dumps(body).encode() if body is not None else b""
    status, payload, _ = sb.run(method, "/api/v1" + path, query or {}, PERSONAL_KEY, None, raw, {})
    return status, payload.get("data", payload)


def check(sb: Sandbox, cid: str, last: dict[str, int]) -> None:
    status, data = call(sb, "GET", f"/campaigns/{cid}/stats")
    assert status == 200
    s = data["stats"]
    parts = {k: s[k] for k in ("sent", "failed", "skipped", "cancelled", "queued")}
    assert all(v >= 0 for v in parts.values()), s
    assert s["planned"] == sum(parts.values()), s
    assert s["sent"] >= s["delivered"] >= s["read"] >= 0, s
    assert s["planned"] >= last.get(cid, 0), (s, last[cid])
    last[cid] = s["planned"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(resolution=st.sampled_from(RESOLUTIONS), plan=steps)
def test_campaign_stats_add_up_at_every_step(resolution: str, plan: list[dict[str, Any]]) -> None:
    clock = FakeClock()
    sb: Sandbox = make_app(now=clock.now, resolution=resolution).state.sandbox
    campaigns: list[str] = [S.FINISHED_CAMPAIGN_ID, S.SCHEDULED_CAMPAIGN_ID]
    last: dict[str, int] = {}
    for step in plan:
        op = step["op"]
        if op == "create":
            when = (clock.now() + timedelta(seconds=step["start_in"])).isoformat()
            body = {"instanceId": S.PERSONAL_CONNECTED_INSTANCE_ID, "name": "p", "schedule": when,
                    "repeat": step["repeat"], "recipients": step["selector"], **step["content"]}
            status, data = call(sb, "POST", "/campaigns", body)
            if status == 201:
                campaigns.append(data["id"])
            else:  # only an emptied selection may be refused
                assert data["error"]["details"][0]["field"] == "recipients", data
        elif op == "advance":
            clock.advance(step["seconds"])
        elif op == "delete":
            _, page = call(sb, "GET", "/contacts", query={"limit": "100"})
            rows = page["contacts"]
            if rows:
                cid = rows[step["index"] % len(rows)]["id"]
                assert call(sb, "DELETE", f"/contacts/{cid}")[0] == 200
        elif op == "add":
            status, contact = call(sb, "POST", "/contacts", {"name": "n", "phone": f"+3361{step['n']:07d}",
                                                              "tags": ["vip"]})
            if status == 201:
                call(sb, "POST", f"/contacts/groups/{S.LEADS_GROUP_ID}/members", {"contactIds": [contact["id"]]})
        else:
            call(sb, "POST", f"/campaigns/{campaigns[step['index'] % len(campaigns)]}/{op}")
        for cid in campaigns:
            check(sb, cid, last)
