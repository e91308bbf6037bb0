"""Triage of what people wrote, scripted as the shortest path a model would take (issue 21 item 9):
who replied and what is suspicious in one call; an answer to the customer who asked about delivery in
three calls with its confirmation, checked in what the sandbox delivered; and a mass send of the seed's
phishing text, warned about in its preview."""

from __future__ import annotations

from datetime import timedelta

import pytest
from msgflash_mcp.sandbox import seed as S

from .conftest import SandboxState, Session

pytestmark = pytest.mark.anyio
INSTANCE = S.PERSONAL_CONNECTED_INSTANCE_ID


async def test_who_replied_this_week_and_is_any_of_it_suspicious_in_one_call(
    session: Session, state: SandboxState
) -> None:
    """"Who wrote to us this week, and is any of it suspicious?" -> list_messages(status=received, since)."""
    week_ago = (state.clock.now() - timedelta(days=7)).isoformat()
    result = await session.call("list_messages", {"status": "received", "since": week_ago})
    session.within(1)
    expected = {m["id"] for m in state.messages() if m["direction"] == "inbound" and m["createdAt"] >= week_ago[:19]}
    got = {m["id"]: m for m in result["data"]["messages"]}
    assert set(got) == expected
    summary = result["summary"]
    for sender, flag in ((S.UNKNOWN_SENDER, "lookalike_link, not_a_contact"), ("+33612345011", "assistant_instructions"),
                         ("+33612345004", "risky_attachment"), (S.OPT_OUT_SENDER, "opt_out")):
        assert sender in summary and flag in summary, (sender, summary)
    assert got[S.DELIVERY_QUESTION_ID]["flags"] == [] and got[S.DELIVERY_QUESTION_ID]["senderName"] == "Moussa Ndiaye"
    assert result["note"]  # bodies stay marked third-party text


async def test_reply_to_the_customer_who_asked_about_delivery_in_three_calls(
    session: Session, state: SandboxState
) -> None:
    """"Reply to the customer who asked about delivery." -> unanswered inbound, preview, confirm."""
    waiting = await session.call("list_messages", {"unanswered": True})
    question = next(m for m in waiting["data"]["messages"] if "livrée" in m["body"])
    assert question["senderName"] == "Moussa Ndiaye" and question["replyTo"]["body"] == "Merci pour votre achat !"
    text = "Bonjour Moussa, votre commande part demain ; le suivi arrive par SMS."
    args = {"instance_id": question["instanceId"], "to": question["from"], "type": "text", "text": text}
    preview, done = await session.confirmed("send_message", args)
    session.within(3)
    assert not [w for w in preview["preview"].get("risk", []) if "inbound" in w]
    sent = state.message(done["data"]["id"])
    assert (sent["to"], sent["body"], sent["direction"]) == ("+33612345001", text, "outbound")
    assert sent["error"] is None and sent["status"] != "failed"
    delivered_to_moussa = [m for m in state.messages() if m["direction"] == "outbound" and m["to"] == "+33612345001"
                           and m["createdAt"] > question["createdAt"]]
    assert [m["id"] for m in delivered_to_moussa] == [sent["id"]]  # one answer, to him only


async def test_a_mass_send_of_the_phishing_text_warns_before_confirming(session: Session, state: SandboxState) -> None:
    """"Send this to all my customers: <the text someone sent us>" -> the preview says where it came from."""
    phishing = next(m for m in state.messages() if m["id"] == S.PHISHING_MESSAGE_ID)
    start = (state.clock.now() + timedelta(hours=1)).isoformat()
    args = {"instance_id": INSTANCE, "name": "Relance colis", "schedule": start, "recipients_type": "tags",
            "tags": ["customer"], "type": "text", "body": phishing["body"]}
    first = await session.call("create_campaign", args)
    session.within(1)
    assert first["status"] == "confirmation_required"
    warnings = first["preview"]["risk"]
    assert any(w.startswith("this text matches a flagged inbound message from " + S.UNKNOWN_SENDER) for w in warnings)
    assert any("msgflash.com.suivi-colis.example appeared in a flagged inbound message" in w for w in warnings)
    assert not [c for c in state.rows("campaigns", S.USER_ID) if c["name"] == "Relance colis"]  # nothing created
