"""Contract: the sandbox refuses what the reference forbids, with the documented code, so a client that
starts sending it fails here. Each case is refused as sent, and accepted once the named field is removed
(the refusal is about that field, nothing else)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from msgflash_mcp.sandbox import seed as S

from .helpers import error_code

pytestmark = pytest.mark.anyio
PC = S.PERSONAL_CONNECTED_INSTANCE_ID
SEND = {"instanceId": PC, "to": "+33612345000"}
CAMPAIGN = {"instanceId": PC, "name": "x", "schedule": "2026-05-01T00:00:00Z", "recipients": {"type": "all"}}
URL = {"type": "url", "displayText": "Voir", "url": "https://example.com/x"}
BUTTONS = {"type": "buttons", "title": "T", "description": "D"}

# (route, body, the offending field as the error names it, the body key to remove)
CASES: list[tuple[str, str, dict[str, Any], str, str]] = [
    # §19.4: each button kind has its own fields
    ("url button with a phone", "/messages/send", {**SEND, **BUTTONS, "buttons": [{**URL, "phoneNumber": "+33600000000"}]},
     "buttons[0].phoneNumber", "buttons[0].phoneNumber"),
    ("reply button with a url", "/campaigns", {**CAMPAIGN, **BUTTONS, "buttons": [{"type": "reply", "displayText": "Ok", "id": "ok",
                                                                                  "url": "https://example.com"}]},
     "buttons[0].url", "buttons[0].url"),
    ("pix button with a display text", "/messages/send",
     {**SEND, **BUTTONS, "buttons": [{"type": "pix", "currency": "BRL", "name": "Loja", "keyType": "random", "key": "k",
                                      "displayText": "Pay"}]}, "buttons[0].displayText", "buttons[0].displayText"),
    # §7.1/§8.1: a caption only on image, video, document
    ("caption on an audio message", "/messages/send", {**SEND, "type": "audio", "mediaUrl": "https://example.com/a.mp3",
                                                        "text": "listen"}, "text", "text"),
    ("caption on an audio campaign", "/campaigns", {**CAMPAIGN, "type": "audio", "mediaUrl": "https://example.com/a.mp3",
                                                     "body": "listen"}, "body", "body"),
    ("caption on a voice note campaign", "/campaigns", {**CAMPAIGN, "type": "voice_note",
                                                         "mediaUrl": "https://example.com/a.ogg", "body": "x"}, "body", "body"),
    ("text on a buttons message", "/messages/send", {**SEND, **BUTTONS, "buttons": [URL], "text": "x"}, "text", "text"),
    ("media on a text campaign", "/campaigns", {**CAMPAIGN, "type": "text", "body": "b",
                                                 "mediaUrl": "https://example.com/i.png"}, "mediaUrl", "mediaUrl"),
    # one content mode: a template is the whole content
    ("templateId with a body", "/campaigns", {**CAMPAIGN, "templateId": S.WELCOME_TEMPLATE_ID, "body": "b"}, "body", "body"),
    ("templateId with buttons", "/campaigns", {**CAMPAIGN, "templateId": S.WELCOME_TEMPLATE_ID, "title": "T"}, "title", "title"),
    ("templateId with text", "/messages/send", {**SEND, "templateId": S.WELCOME_TEMPLATE_ID, "text": "t"}, "text", "text"),
    ("templateId with media", "/messages/send", {**SEND, "templateId": S.WELCOME_TEMPLATE_ID,
                                                  "mediaUrl": "https://example.com/i.png"}, "mediaUrl", "mediaUrl"),
    # §8.1's selector: each type takes its own keys, never stored and echoed
    ("value on type=all", "/campaigns", {**CAMPAIGN, "type": "text", "body": "b",
                                          "recipients": {"type": "all", "value": ["vip"]}}, "recipients.value", "recipients.value"),
    ("groupId on type=tags", "/campaigns", {**CAMPAIGN, "type": "text", "body": "b",
                                             "recipients": {"type": "tags", "value": ["vip"], "groupId": S.VIP_GROUP_ID}},
     "recipients.groupId", "recipients.groupId"),
    ("value on type=group", "/campaigns", {**CAMPAIGN, "type": "text", "body": "b",
                                            "recipients": {"type": "group", "groupId": S.VIP_GROUP_ID, "value": ["x"]}},
     "recipients.value", "recipients.value"),
]


def without(body: dict[str, Any], dotted: str) -> dict[str, Any]:
    """`body` with the key at `dotted` (a.b, buttons[0].c) removed, copied on the way."""
    out = {**body}
    head, _, rest = dotted.partition(".")
    if not rest:
        out.pop(head)
        return out
    if head.endswith("]"):
        name, index = head[:-1].split("[")
        items = [dict(x) for x in out[name]]
        items[int(index)].pop(rest)
        out[name] = items
    else:
        out[head] = without(out[head], rest)
    return out


@pytest.mark.parametrize(("path", "body", "field", "remove"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_the_sandbox_refuses_what_the_reference_forbids(
    api: httpx2.AsyncClient, path: str, body: dict[str, Any], field: str, remove: str
) -> None:
    r = await api.post("/api/v1" + path, json=body)
    assert (r.status_code, error_code(r)) == (400, "VALIDATION_ERROR")
    assert [d["field"] for d in r.json()["error"]["details"]] == [field]
    fixed = await api.post("/api/v1" + path, json=without(body, remove))
    assert fixed.status_code == 201, fixed.text
    if path == "/campaigns":  # nothing stray is stored and echoed
        assert fixed.json()["data"]["recipients"] == without(body, remove)["recipients"]


async def test_deleting_a_template_a_pending_campaign_uses_is_a_conflict(api: httpx2.AsyncClient) -> None:
    r = await api.post("/api/v1/campaigns", json={**CAMPAIGN, "templateId": S.REMINDER_TEMPLATE_ID})
    assert r.status_code == 201
    refused = await api.delete(f"/api/v1/templates/{S.REMINDER_TEMPLATE_ID}")
    assert (refused.status_code, error_code(refused)) == (409, "CONFLICT")
    assert (await api.get(f"/api/v1/templates/{S.REMINDER_TEMPLATE_ID}")).status_code == 200  # still there
    await api.post(f"/api/v1/campaigns/{r.json()['data']['id']}/pause")
    assert error_code(await api.delete(f"/api/v1/templates/{S.REMINDER_TEMPLATE_ID}")) == "CONFLICT"
    unused = await api.delete(f"/api/v1/templates/{S.WELCOME_TEMPLATE_ID}")
    assert unused.status_code == 200 and unused.json()["data"] == {"id": S.WELCOME_TEMPLATE_ID, "deleted": True}
