"""Typed message content (tools/_content.py): every decisive field is in the digest and on the form,
buttons are what §19.4 says, and free text has a length limit checked before any request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.server import MCPServer
from msgflash_mcp.sandbox.inprocess import sandbox_transport
from msgflash_mcp.sandbox.keys import PERSONAL_KEY
from msgflash_mcp.sandbox.seed import AWA_CONTACT_ID, PERSONAL_CONNECTED_INSTANCE_ID, WELCOME_TEMPLATE_ID

from tests.conftest import call_error, call_ok
from tests.guard.conftest import Elicitor

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
INSTANCE = PERSONAL_CONNECTED_INSTANCE_ID
AWA = "+33612345000"
SEND = "/api/v1/messages/send"
CALL = {"type": "call", "display_text": "Appeler", "phone_number": "+33612345678"}
COPY = {"type": "copy", "display_text": "Copier l'IBAN", "copy_code": "FR7630006000011234567890189"}
URL = {"type": "url", "display_text": "Voir", "url": "https://shop.example.com/soldes"}
PIX = {"type": "pix", "currency": "BRL", "name": "Loja Awa", "key_type": "cpf", "key": "12345678909"}


def buttons(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"instance_id": INSTANCE, "to": AWA, "type": "buttons", "title": "Paiement",
            "description": "Comment payer ?", "buttons": list(items), **extra}


def sends(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["method"] == "POST" and e["path"] == SEND]


async def someone_else(sandbox_app: Any, method: str, path: str, body: Any) -> None:
    """The dashboard changes the account between the preview and the confirmation (no guard sees it)."""
    async with httpx2.AsyncClient(transport=sandbox_transport(sandbox_app), base_url="http://sandbox.invalid") as http:
        response = await http.request(method, path, json=body, headers={"x-api-key": PERSONAL_KEY})
        assert response.status_code < 300, response.text


# ------------------------------------------------------------------------------ the digest


async def test_a_contact_card_phone_changed_after_the_preview_refuses_the_old_token(
    client: Client, sandbox_app: Any, ledger: Ledger
) -> None:
    args = {"instance_id": INSTANCE, "to": "+33612345001", "type": "contact", "contact_id": AWA_CONTACT_ID}
    first = await call_ok(client, "send_message", args)
    assert first["preview"]["what"]["card"]["phone"] == AWA
    await someone_else(sandbox_app, "PUT", f"/api/v1/contacts/{AWA_CONTACT_ID}", {"phone": "+33699999999"})
    again = await call_ok(client, "send_message", {**args, "confirm_token": first["confirm_token"]})
    assert again["status"] == "confirmation_required" and sends(ledger()) == []
    [note] = [line for line in again["preview"]["changes"] if line.startswith("card ")]
    assert "phone: +33612345000 → " in note and note.endswith("phone: +33699999999")  # before → after
    assert again["preview"]["what"]["card"]["phone"] == "+33699999999"
    assert again["preview"]["digest"] != first["preview"]["digest"]


@pytest.mark.parametrize(
    ("button", "field", "other"),
    [
        (CALL, "phone_number", "+33611111111"),
        (COPY, "copy_code", "FR7699999999999999999999999"),
        (URL, "url", "https://shop.example.com/autre"),
        (PIX, "key", "98765432100"),
        (PIX, "key_type", "phone"),
        (PIX, "currency", "USD"),
        (PIX, "name", "Outra Loja"),
    ],
)
async def test_a_changed_button_field_changes_the_digest(
    client: Client, button: dict[str, Any], field: str, other: str
) -> None:
    before = await call_ok(client, "send_message", buttons(button))
    after = await call_ok(client, "send_message", buttons({**button, field: other}))
    assert before["preview"]["digest"] != after["preview"]["digest"]
    [target] = after["preview"]["what"]["buttons"]
    assert other in target["target"] or other == target["label"]


async def test_the_form_lists_every_button_target(server: MCPServer[Any], ledger: Ledger) -> None:
    """The person reads what each button does before saying yes: the number called, the code copied,
    the link opened, the Pix key (and that it carries no amount)."""
    elicitor = Elicitor("decline")
    async with Client(server, elicitation_callback=elicitor) as client:
        await client.call_tool("send_message", buttons(CALL, COPY))
        await client.call_tool("send_message", buttons(URL, PIX, footer="Merci"))
    first, second = elicitor.messages
    assert "button 'Appeler': call +33612345678" in first
    assert "button \"Copier l'IBAN\": copy FR7630006000011234567890189" in first
    assert "title: Paiement" in first and 'text: "Comment payer ?"' in first
    assert "button 'Voir': https://shop.example.com/soldes" in second
    assert "button 'Loja Awa': pay by Pix to cpf key 12345678909 (BRL, no amount)" in second
    assert "footer: Merci" in second
    assert sends(ledger()) == []


async def test_the_form_shows_the_contact_card_and_the_place(server: MCPServer[Any]) -> None:
    elicitor = Elicitor("decline")
    place = {"instance_id": INSTANCE, "to": AWA, "type": "location", "latitude": 48.85, "longitude": 2.35,
             "location_name": "Boutique", "location_address": "1 rue de Rivoli"}
    card = {"instance_id": INSTANCE, "to": "+33612345001", "type": "contact", "contact_id": AWA_CONTACT_ID}
    async with Client(server, elicitation_callback=elicitor) as client:
        await client.call_tool("send_message", place)
        await client.call_tool("send_message", card)
    assert "location: 48.85, 2.35 (Boutique, 1 rue de Rivoli)" in elicitor.messages[0]
    assert f'shares contact card: "Awa Diop" ({AWA})' in elicitor.messages[1]


async def test_a_template_is_read_once_per_preview(client: Client, ledger: Ledger) -> None:
    args = {"instance_id": INSTANCE, "to": AWA, "template_id": WELCOME_TEMPLATE_ID}
    preview = (await call_ok(client, "send_message", args))["preview"]
    assert preview["what"]["template"] == "Bienvenue (text)"
    reads = [e for e in ledger() if e["method"] == "GET" and e["path"] == f"/api/v1/templates/{WELCOME_TEMPLATE_ID}"]
    assert len(reads) == 1


# ------------------------------------------------------------------------------ buttons (§19.4)


async def test_a_buttons_message_needs_its_title(client: Client, ledger: Ledger) -> None:
    args = buttons(URL)
    del args["title"]
    text = await call_error(client, "send_message", args)
    assert "type=buttons needs title" in text and ledger() == []


async def test_a_pix_key_type_outside_the_enum_is_refused_before_any_request(client: Client, ledger: Ledger) -> None:
    text = await call_error(client, "send_message", buttons({**PIX, "key_type": "iban"}))
    assert "buttons[0].pix.key_type" in text and "'random'" in text
    assert ledger() == []


async def test_the_pix_description_says_it_carries_no_amount(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    described = tools["send_message"].input_schema["properties"]["buttons"]["description"]
    assert "key_type (phone|email|cpf|cnpj|random), key; no display_text, no amount" in described


# ------------------------------------------------------------------------------ length limits


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("title", "T" * 3_000_000, 1024),
        ("footer", "F" * 1025, 1024),
        ("description", "D" * 4097, 4096),
    ],
)
async def test_an_overlong_free_text_field_is_refused_before_any_request(
    client: Client, ledger: Ledger, field: str, value: str, limit: int
) -> None:
    text = await call_error(client, "send_message", buttons(URL, **{field: value}))
    assert f"`{field}`" in text and f"at most {limit}" in text
    assert len(text) < 400  # named and measured, never echoed back
    assert ledger() == []


async def test_overlong_button_and_location_texts_are_refused(client: Client, ledger: Ledger) -> None:
    text = await call_error(client, "send_message", buttons({**URL, "display_text": "x" * 257}))
    assert "buttons[0].url.display_text" in text and "at most 256" in text
    place = {"instance_id": INSTANCE, "to": AWA, "type": "location", "latitude": 1.0, "longitude": 2.0,
             "location_address": "a" * 1025}
    text = await call_error(client, "send_message", place)
    assert "`location_address`" in text and "at most 1024" in text
    text = await call_error(client, "create_campaign", {
        "instance_id": INSTANCE, "name": "x", "schedule": "2030-01-01T10:00:00Z", "recipients_type": "all",
        "type": "buttons", "title": "t", "description": "d", "buttons": [{**COPY, "copy_code": "c" * 1025}],
    })
    assert "copy_code" in text and "at most 1024" in text
    assert ledger() == []
