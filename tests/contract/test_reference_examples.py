"""Client fidelity, checked against the reference's own examples (api-contract/REFERENCE.md, endpoints.json).

Each test takes a documented request or response example, runs it through the tools and the sandbox,
and checks that a user of the real API would see what the reference says: pix buttons without
display_text (§19.4), provider refusals on POST as rejections with advice (§14, §17.1, §18),
partly invalid number lookups (§17.1), inbound messages by status (§19.1), numeric template
variables (§9.4), and literal group searches (§5.3).
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from msgflash_mcp.sandbox.faults import FaultRule
from msgflash_mcp.sandbox.seed import PERSONAL_CONNECTED_INSTANCE_ID, PERSONAL_DISCONNECTED_INSTANCE_ID

from tests.conftest import call_error, call_ok, make_settings, mutations
from tests.sandbox.helpers import ENDPOINTS

pytestmark = pytest.mark.anyio

INSTANCE = PERSONAL_CONNECTED_INSTANCE_ID


def endpoint(method: str, path: str) -> dict[str, Any]:
    [found] = [e for e in ENDPOINTS if e["method"] == method and e["path"] == path]
    return found


def documented_error(method: str, path: str, code: str) -> dict[str, Any]:
    [found] = [e for e in endpoint(method, path)["errors"] if e["code"] == code]
    return found


@pytest.fixture
def sandbox_app(still_sandbox_app: Any) -> Any:
    """Replies and lookups run on the sandbox clock: it moves only when a test moves it."""
    return still_sandbox_app


@pytest.fixture
async def unconfirmed(sandbox_app: Any) -> Any:
    """A client whose guarded tools act at once (MSGFLASH_CONFIRM=off): these tests are about the wire."""
    from msgflash_mcp.server.app import build_server

    async with Client(build_server(make_settings(confirm="off"), sandbox_app=sandbox_app)) as connected:
        yield connected


# ------------------------------------------------------------------ 502 PROVIDER_ERROR on POST


async def test_a_status_the_provider_rejects_is_a_rejection_with_its_advice(
    unconfirmed: Client, ledger: Any
) -> None:
    """§14: `PROVIDER_ERROR` (502) when the provider rejects the status. The API decided: nothing to doubt."""
    documented = documented_error("POST", "/api/v1/statuses", "PROVIDER_ERROR")
    args = {"instance_id": PERSONAL_DISCONNECTED_INSTANCE_ID, "type": "text", "content": "Ouvert dimanche"}
    text = await call_error(unconfirmed, "publish_status", args)
    assert f"{documented['http']} PROVIDER_ERROR" in text
    assert "The provider rejected the status" in text  # the API's own message
    assert "nothing was done" in text and "check the instance state" in text  # and the advice for that code
    assert "outcome unknown" not in text.lower() and "do not simply retry" not in text.lower()
    attempts = [e for e in ledger() if e["path"] == "/api/v1/statuses"]
    assert [e["status"] for e in attempts] == [502]  # a rejection is not repeated either


async def test_a_lookup_the_provider_rejects_is_a_rejection_not_an_unknown_outcome(
    unconfirmed: Client, sandbox_app: Any, ledger: Any
) -> None:
    """§17.1 lists 502 `PROVIDER_ERROR` ("verification provider error") for POST /number-lookups."""
    documented = documented_error("POST", "/api/v1/number-lookups", "PROVIDER_ERROR")
    sandbox_app.state.sandbox.faults.add([FaultRule(
        action="status", method="POST", path="/api/v1/number-lookups", status=documented["http"],
        code="PROVIDER_ERROR", message="Verification provider error",
    )])
    text = await call_error(unconfirmed, "start_number_lookup", {"instance_id": INSTANCE, "numbers": ["+33612345000"]})
    assert "502 PROVIDER_ERROR: Verification provider error" in text and "check the instance state" in text
    assert "outcome unknown" not in text.lower()
    assert len([e for e in ledger() if e["path"] == "/api/v1/number-lookups"]) == 1


async def test_an_undocumented_5xx_on_post_stays_an_unknown_outcome(
    unconfirmed: Client, sandbox_app: Any
) -> None:
    """Only transport-level doubt is "outcome unknown": a bare 502 from a proxy may hide a processed request."""
    sandbox_app.state.sandbox.faults.add([FaultRule(
        action="status", method="POST", path="/api/v1/statuses", status=502, code="BAD_GATEWAY",
    )])
    args = {"instance_id": INSTANCE, "type": "text", "content": "Ouvert dimanche"}
    text = await call_error(unconfirmed, "publish_status", args)
    assert "outcome unknown" in text.lower()


# ------------------------------------------------------------------ partly invalid number lookups


async def test_a_lookup_with_invalid_numbers_returns_what_the_api_returns(
    unconfirmed: Client, ledger: Any
) -> None:
    """§17.1 sync example: mode, lookupId, status, counts and the three result lists, invalid ones included."""
    example = endpoint("POST", "/api/v1/number-lookups")["response_shape"]["data"]
    numbers = ["+33612345000", "+33612345001", "not a number"]
    out = await call_ok(unconfirmed, "start_number_lookup", {"instance_id": INSTANCE, "numbers": numbers})
    data = out["data"]
    assert set(example) <= set(data)
    assert set(example["result"]) == set(data["result"])
    assert (data["mode"], data["status"], data["requested"]) == ("sync", "done", 3)
    assert (data["onWhatsAppCount"], data["notOnWhatsAppCount"], data["invalidCount"]) == (1, 1, 1)
    assert [item["input"] for item in data["result"]["invalid"]] == ["not a number"]
    assert "1 invalid" in out["summary"] and "'not a number'" in out["summary"]
    assert len(mutations(ledger())) == 1


# ------------------------------------------------------------------ group search is literal


async def test_group_search_treats_percent_and_underscore_as_characters(unconfirmed: Client) -> None:
    """§5.3: `search` matches name or description; "50%" is text to find, not a SQL LIKE pattern."""
    for name in ("Promo 50%", "Promo 500", "Promo 5_0", "Promo 510"):
        await call_ok(unconfirmed, "create_group", {"name": name})

    async def names(search: str) -> list[str]:
        out = await call_ok(unconfirmed, "list_groups", {"search": search})
        return sorted(group["name"] for group in out["data"]["groups"])

    assert await names("50%") == ["Promo 50%"]
    assert await names("5_0") == ["Promo 5_0"]
    assert await names("promo 5") == sorted(["Promo 50%", "Promo 500", "Promo 5_0", "Promo 510"])  # case-insensitive


# ------------------------------------------------------------------ buttons, kind by kind (§19.4)

PIX = {"type": "pix", "currency": "BRL", "name": "Loja Awa", "key_type": "random", "key": "5f2c9a1e-pix-key"}


def buttons_message(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"instance_id": INSTANCE, "to": "+33612345000", "type": "buttons", "title": "Paiement",
            "description": "Payez par Pix", "buttons": list(buttons)}


async def test_a_pix_button_is_sent_without_display_text(unconfirmed: Client, ledger: Any) -> None:
    """§19.4: pix carries `currency` (e.g. BRL), `name`, `keyType` (e.g. random) and `key`, no displayText."""
    out = await call_ok(unconfirmed, "send_message", buttons_message(PIX))
    sent = out["data"]["meta"]["content"]["buttons"]
    assert sent == [{"type": "pix", "currency": "BRL", "name": "Loja Awa", "keyType": "random", "key": "5f2c9a1e-pix-key"}]
    assert len(mutations(ledger())) == 1


async def test_a_pix_button_with_display_text_is_refused_before_any_request(unconfirmed: Client, ledger: Any) -> None:
    text = await call_error(unconfirmed, "send_message", buttons_message({**PIX, "display_text": "Pagar"}))
    assert "buttons[0].pix.display_text" in text
    assert ledger() == []


async def test_the_schedule_examples_reply_button_reaches_the_api_as_documented(
    unconfirmed: Client, sandbox_app: Any
) -> None:
    """§7.2's example: `buttons: [{"type":"reply","displayText":"Confirmer","id":"confirm_appointment"}]`."""
    from datetime import timedelta

    when = (sandbox_app.state.sandbox.clock.now() + timedelta(days=1)).isoformat()
    reply = {"type": "reply", "display_text": "Confirmer", "id": "confirm_appointment"}
    args = {**buttons_message(reply), "scheduled_at": when, "title": "Rendez-vous", "description": "Demain 10h ?"}
    out = await call_ok(unconfirmed, "schedule_message", args)
    assert out["data"]["meta"]["content"]["buttons"] == [
        {"type": "reply", "displayText": "Confirmer", "id": "confirm_appointment"}
    ]


async def test_every_button_kind_is_described_with_its_own_fields(unconfirmed: Client) -> None:
    """The model reads, for each kind, the fields that kind takes: pix without display_text."""
    tools = {tool.name: tool for tool in (await unconfirmed.list_tools()).tools}
    for name in ("send_message", "schedule_message", "create_campaign"):
        schema = tools[name].input_schema["properties"]["buttons"]
        assert schema["items"]["required"] == ["type"], name  # display_text is not required of every kind
        described = schema["description"]
        assert "pix: currency, name, key_type (phone|email|cpf|cnpj|random), key; no display_text, no amount" in described
        assert "Each: type, display_text, and reply: id | url: url" in described


# ------------------------------------------------------------------ numeric template variables (§7.1, §9.4)


async def test_numeric_variables_render_as_the_preview_route_renders_them(
    unconfirmed: Client, sandbox_app: Any
) -> None:
    """§9.4 renders "Hello Awa, utilisez PROMO10."; a number is a value like any other, on every sending tool."""
    from datetime import timedelta

    from msgflash_mcp.sandbox.seed import AWA_CONTACT_ID, PROMO_TEMPLATE_ID

    variables = {"code": 10}
    preview = await call_ok(unconfirmed, "preview_template", {
        "template_id": PROMO_TEMPLATE_ID, "instance_id": INSTANCE, "contact_id": AWA_CONTACT_ID, "variables": variables,
    })
    assert preview["data"]["rendered"] == "Hello Awa, utilisez 10."
    template = {"instance_id": INSTANCE, "to": "+33612345000", "template_id": PROMO_TEMPLATE_ID,
                "contact_id": AWA_CONTACT_ID, "variables": variables}
    sent = await call_ok(unconfirmed, "send_message", template)
    assert sent["data"]["body"] == "Hello Awa, utilisez 10."
    later = (sandbox_app.state.sandbox.clock.now() + timedelta(days=1)).isoformat()
    scheduled = await call_ok(unconfirmed, "schedule_message", {**template, "scheduled_at": later})
    assert scheduled["data"]["status"] == "scheduled"
    campaign = await call_ok(unconfirmed, "create_campaign", {
        "instance_id": INSTANCE, "name": "Promo 10", "schedule": later, "recipients_type": "explicit",
        "contact_ids": [AWA_CONTACT_ID], "template_id": PROMO_TEMPLATE_ID, "variables": {"code": 10, "rate": 2.5},
    })
    assert campaign["data"]["templateVariables"] == {"code": 10, "rate": 2.5}


async def test_a_boolean_variable_is_refused_rather_than_sent_as_one(unconfirmed: Client, ledger: Any) -> None:
    from msgflash_mcp.sandbox.seed import PROMO_TEMPLATE_ID

    args = {"instance_id": INSTANCE, "to": "+33612345000", "template_id": PROMO_TEMPLATE_ID, "variables": {"code": True}}
    text = await call_error(unconfirmed, "send_message", args)
    assert "variables" in text
    assert ledger() == []


# ------------------------------------------------------------------ inbound messages (§19.1)


async def test_received_lists_only_inbound_messages(unconfirmed: Client) -> None:
    """§19.1: inbound messages have status `received`; `status` is the documented filter of §7.3."""
    everything = await call_ok(unconfirmed, "list_messages", {"limit": 100})
    directions = {m["direction"] for m in everything["data"]["messages"]}
    assert directions == {"inbound", "outbound"}
    inbound = await call_ok(unconfirmed, "list_messages", {"status": "received", "limit": 100})
    messages = inbound["data"]["messages"]
    assert messages and all((m["direction"], m["status"]) == ("inbound", "received") for m in messages)
    expected = [m["id"] for m in everything["data"]["messages"] if m["direction"] == "inbound"]
    assert [m["id"] for m in messages] == expected
