"""templates toolset: page-based list, CRUD with type-dependent fields, guarded delete, preview rendering."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client
from msgflash_mcp.sandbox.keys import TEAM_ID, TEAM_NAME
from msgflash_mcp.sandbox.seed import (
    AWA_CONTACT_ID,
    PERSONAL_CONNECTED_INSTANCE_ID,
    PROMO_TEMPLATE_ID,
    REMINDER_TEMPLATE_ID,
    TEAM_TEMPLATE_ID,
    WELCOME_TEMPLATE_ID,
)
from msgflash_mcp.tools.templates import PLACEHOLDER_FIELDS, PLACEHOLDER_GUIDE

from tests.conftest import call_error, call_ok, mutations

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
PERSONAL = "personal (sandbox)"
PERSONAL_TEMPLATES = {WELCOME_TEMPLATE_ID, PROMO_TEMPLATE_ID, REMINDER_TEMPLATE_ID}


async def test_list_templates_pages_without_overlap(client: Client, ledger: Ledger) -> None:
    first = await call_ok(client, "list_templates", {"limit": 2})
    assert first["workspace"] == PERSONAL
    assert first["summary"] == "2 of 3 template(s), page 1/2, more on page 2"
    second = await call_ok(client, "list_templates", {"limit": 2, "page": 2})
    assert second["summary"] == "1 of 3 template(s), page 2/2"
    ids = [t["id"] for t in first["data"]["templates"]] + [t["id"] for t in second["data"]["templates"]]
    assert len(ids) == len(set(ids)) and set(ids) == PERSONAL_TEMPLATES
    assert [e["query"] for e in ledger()] == ["limit=2", "page=2&limit=2"]


async def test_list_templates_in_the_team_workspace(client: Client, ledger: Ledger) -> None:
    out = await call_ok(client, "list_templates", {"workspace": TEAM_NAME})
    assert out["workspace"] == f"{TEAM_NAME} (sandbox)"
    assert [t["id"] for t in out["data"]["templates"]] == [TEAM_TEMPLATE_ID]
    assert ledger()[0]["team_id"] == TEAM_ID


@pytest.mark.parametrize("args", [{"limit": 0}, {"limit": 101}, {"page": 0}])
async def test_list_templates_validation_sends_nothing(client: Client, ledger: Ledger, args: dict[str, Any]) -> None:
    await call_error(client, "list_templates", args)
    assert ledger() == []


async def test_get_template(client: Client) -> None:
    out = await call_ok(client, "get_template", {"template_id": PROMO_TEMPLATE_ID})
    assert out["workspace"] == PERSONAL
    assert out["data"]["variables"] == ["contact.firstName", "custom.code"]
    assert out["summary"] == 'Template "Code promo" (text), variables: contact.firstName, custom.code'
    assert "third parties" in out["note"]


async def test_get_unknown_template_is_not_found(client: Client) -> None:
    error = await call_error(client, "get_template", {"template_id": str(uuid.uuid4())})
    assert "404 NOT_FOUND" in error and "list the collection" in error


async def test_create_text_template_computes_variables(client: Client, ledger: Ledger) -> None:
    out = await call_ok(
        client,
        "create_template",
        {"name": "Relance panier", "type": "text", "body": "Hello {{contact.firstName}}, code {{custom.code}}"},
    )
    assert out["workspace"] == PERSONAL
    data = out["data"]
    assert data["variables"] == ["contact.firstName", "custom.code"] and data["mediaUrl"] is None
    assert (
        out["summary"]
        == f'Created template "Relance panier" (text), id {data["id"]}, variables: contact.firstName, custom.code; '
        'every send and campaign with it must pass variables={"code": "..."}'
    )
    assert data["custom_variables"] == ["code"]
    got = await call_ok(client, "get_template", {"template_id": data["id"]})
    assert got["data"]["body"] == "Hello {{contact.firstName}}, code {{custom.code}}"
    assert [(e["method"], e["status"]) for e in ledger()] == [("POST", 201), ("GET", 200)]


async def test_create_media_template(client: Client) -> None:
    out = await call_ok(
        client,
        "create_template",
        {"name": "Catalogue", "type": "document", "media_url": "https://example.com/catalogue.pdf"},
    )
    assert out["data"]["mediaUrl"] == "https://example.com/catalogue.pdf"
    assert out["summary"].endswith(", no variables")


async def test_unbalanced_braces_are_a_readable_template_invalid(client: Client, ledger: Ledger) -> None:
    error = await call_error(
        client, "create_template", {"name": "Broken", "type": "text", "body": "Hi {{contact.firstName"}
    )
    assert "400 TEMPLATE_INVALID" in error
    assert "{{contact.x}}" in error  # the advice names the valid namespaces
    assert mutations(ledger()) == []


@pytest.mark.parametrize(
    ("placeholder", "meant"),
    [
        ("{{firstName}}", "use {{contact.firstName}}, or for a value you supply use {{custom.firstName}}"),
        ("{{contact.first_name}}", "use {{contact.firstName}}"),
        ("{{contact.FirstName}}", "use {{contact.firstName}}"),
        ("{{customer.fullName}}", "use {{contact.fullName}}, or for a value you supply use {{custom.customer_fullName}}"),
        ("{{user.mail}}", "use {{user.email}}"),
        ("{{custom.promo code}}", 'use {{custom.promo_code}} and pass variables={"promo_code": "..."}'),
        ("{{instance.region}}", 'use {{custom.region}} and pass variables={"region": "..."} on each send or campaign'),
        ("{{order.number}}", 'use {{custom.order_number}} and pass variables={"order_number": "..."}'),
    ],
)
async def test_unknown_placeholder_is_refused_with_the_closest_field_before_any_request(
    client: Client, ledger: Ledger, placeholder: str, meant: str
) -> None:
    error = await call_error(client, "create_template", {"name": "T", "type": "text", "body": f"Hi {placeholder}!"})
    assert f"1 body placeholder(s) the API does not fill, so sends with them would fail: {placeholder}: " in error
    assert meant in error and PLACEHOLDER_GUIDE in error
    assert "{{instance.name|waNumber}}" in error  # the guide spells the fields out
    assert ledger() == []


async def test_a_made_up_placeholder_is_pointed_to_custom_never_to_another_real_field(client: Client, ledger: Ledger) -> None:
    """{{order.number}} once suggested {{instance.waNumber}}: the shop's own phone number (issue 21 item 5)."""
    error = await call_error(client, "create_template", {"name": "T", "type": "text", "body": "Order {{order.number}}"})
    hint = error.split(". Placeholders:")[0]
    assert "waNumber" not in hint and "instance." not in hint
    assert ledger() == []


async def test_every_bad_placeholder_is_reported_at_once(client: Client, ledger: Ledger) -> None:
    body = "Hi {{contact.first_name}}, order {{order.number}} ships {{delivery.date}}; {{order.number}} again"
    error = await call_error(client, "create_template", {"name": "T", "type": "text", "body": body})
    assert "3 body placeholder(s) the API does not fill" in error
    assert "{{contact.first_name}}: use {{contact.firstName}}" in error
    assert '{{order.number}}: for a value you supply use {{custom.order_number}} and pass variables={"order_number": "..."}' in error
    assert '{{delivery.date}}: for a value you supply use {{custom.delivery_date}}' in error
    assert ledger() == []


async def test_update_template_refuses_an_unknown_placeholder_before_any_request(client: Client, ledger: Ledger) -> None:
    error = await call_error(
        client, "update_template", {"template_id": PROMO_TEMPLATE_ID, "body": "Bonjour {{contact.firstname}}"}
    )
    assert "use {{contact.firstName}}" in error
    assert ledger() == []


async def test_a_contact_custom_field_placeholder_is_created_with_a_note(client: Client) -> None:
    out = await call_ok(client, "create_template", {"name": "Ville", "type": "text", "body": "Hi {{contact.city}}"})
    assert out["data"]["variables"] == ["contact.city"]
    assert out["summary"].endswith(
        "; note: {{contact.city}} is filled from each contact's custom field 'city' (check with preview_template)"
    )


async def test_every_listed_placeholder_field_is_one_the_api_fills(client: Client) -> None:
    """PLACEHOLDER_FIELDS and the sandbox's renderer agree: a template using every field renders completely."""
    body = " ".join(f"{{{{{space}.{field}}}}}" for space, fields in PLACEHOLDER_FIELDS.items() for field in fields)
    created = await call_ok(client, "create_template", {"name": "All", "type": "text", "body": body + " {{custom.code}}"})
    assert "note:" not in created["summary"]
    out = await call_ok(
        client,
        "preview_template",
        {
            "template_id": created["data"]["id"],
            "contact_id": AWA_CONTACT_ID,
            "instance_id": PERSONAL_CONNECTED_INSTANCE_ID,
            "variables": {"code": "PROMO10"},
        },
    )
    assert out["data"]["missingVariables"] == [] and "{{" not in out["data"]["rendered"]


async def test_create_template_description_lists_the_placeholder_fields(client: Client) -> None:
    tools = {tool.name: tool.description or "" for tool in (await client.list_tools()).tools}
    assert tools["create_template"] == f"Create a template. Placeholders: {PLACEHOLDER_GUIDE}."
    for space, fields in PLACEHOLDER_FIELDS.items():
        assert f"{{{{{space}.{'|'.join(fields)}}}}}" in tools["create_template"]
    assert "Placeholders: create_template" in tools["update_template"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"name": "T", "type": "text"}, "type 'text' needs `body`"),
        ({"name": "T", "type": "image", "body": "caption"}, "type 'image' needs `media_url`"),
        ({"name": "T", "type": "text", "body": "x", "media_url": "https://example.com/a.jpg"}, "only for media types"),
        ({"name": "T", "type": "sticker", "body": "x"}, "type"),
        ({"name": "", "type": "text", "body": "x"}, "name"),
        ({"name": "T", "type": "video", "media_url": "ftp://example.com/v.mp4"}, "media_url"),
    ],
)
async def test_create_template_rules_are_checked_before_any_request(
    client: Client, ledger: Ledger, args: dict[str, Any], expected: str
) -> None:
    error = await call_error(client, "create_template", args)
    assert expected in error
    assert ledger() == []


async def test_update_template_changes_only_given_fields(client: Client) -> None:
    out = await call_ok(
        client, "update_template", {"template_id": WELCOME_TEMPLATE_ID, "body": "Salut {{contact.firstName}} !"}
    )
    assert out["workspace"] == PERSONAL
    assert out["data"]["name"] == "Bienvenue" and out["data"]["variables"] == ["contact.firstName"]
    assert out["summary"] == 'Updated template "Bienvenue" (text), variables: contact.firstName'


async def test_update_template_needs_a_change_and_checks_rules(client: Client, ledger: Ledger) -> None:
    error = await call_error(client, "update_template", {"template_id": WELCOME_TEMPLATE_ID})
    assert "at least one of name, type, body, media_url" in error
    error = await call_error(
        client,
        "update_template",
        {"template_id": REMINDER_TEMPLATE_ID, "type": "text", "media_url": "https://example.com/x.jpg"},
    )
    assert "only for media types" in error
    assert ledger() == []


async def test_update_to_a_media_type_without_media_is_refused_by_the_api(client: Client) -> None:
    error = await call_error(client, "update_template", {"template_id": WELCOME_TEMPLATE_ID, "type": "image"})
    assert "VALIDATION_ERROR" in error and "mediaUrl" in error


async def test_update_unknown_template_is_not_found(client: Client) -> None:
    error = await call_error(client, "update_template", {"template_id": str(uuid.uuid4()), "name": "X"})
    assert "NOT_FOUND" in error


async def test_delete_template_previews_name_and_type_and_deletes_only_when_confirmed(
    client: Client, ledger: Ledger
) -> None:
    args = {"template_id": REMINDER_TEMPLATE_ID}
    first = await call_ok(client, "delete_template", args)
    assert first["status"] == "confirmation_required" and first["workspace"] == PERSONAL
    assert first["preview"]["template"] == "Rappel rendez-vous" and first["preview"]["type"] == "image"
    assert first["preview"]["action"] == 'Delete template "Rappel rendez-vous" (image)'
    assert "nothing was done yet" in first["summary"]
    assert mutations(ledger()) == [] and [e["method"] for e in ledger()] == ["GET"]
    still = await call_ok(client, "get_template", args)
    assert still["data"]["name"] == "Rappel rendez-vous"

    done = await call_ok(client, "delete_template", {**args, "confirm_token": first["confirm_token"]})
    assert done["status"] == "ok" and done["summary"] == f"Deleted template {REMINDER_TEMPLATE_ID}"
    assert [e["method"] for e in mutations(ledger())] == ["DELETE"]
    error = await call_error(client, "get_template", args)
    assert "NOT_FOUND" in error


async def test_confirmed_template_delete_sends_the_planned_request(client: Client, ledger: Ledger) -> None:
    """The one DELETE the ledger records is the plan's: this template's path, with the personal key."""
    first = await call_ok(client, "delete_template", {"template_id": PROMO_TEMPLATE_ID})
    await call_ok(client, "delete_template", {"template_id": PROMO_TEMPLATE_ID, "confirm_token": first["confirm_token"]})
    [delete] = mutations(ledger())
    assert (delete["method"], delete["path"], delete["key_kind"]) == (
        "DELETE", f"/api/v1/templates/{PROMO_TEMPLATE_ID}", "personal")


async def test_create_template_is_planned_without_extra_requests(client: Client, ledger: Ledger) -> None:
    """An unguarded write is planned from its arguments alone: the one POST it exists for, nothing read first."""
    await call_ok(client, "create_template", {"name": "Seul", "type": "text", "body": "Bonjour"})
    assert [(e["method"], e["path"]) for e in ledger()] == [("POST", "/api/v1/templates")]


async def test_delete_template_token_is_bound_to_the_template(client: Client, ledger: Ledger) -> None:
    first = await call_ok(client, "delete_template", {"template_id": REMINDER_TEMPLATE_ID})
    error = await call_error(
        client, "delete_template", {"template_id": WELCOME_TEMPLATE_ID, "confirm_token": first["confirm_token"]}
    )
    assert "different arguments" in error
    assert mutations(ledger()) == []


async def test_preview_template_lists_a_missing_custom_variable(client: Client, ledger: Ledger) -> None:
    out = await call_ok(client, "preview_template", {"template_id": PROMO_TEMPLATE_ID, "contact_id": AWA_CONTACT_ID})
    assert out["workspace"] == PERSONAL
    data = out["data"]
    assert data["missingVariables"] == ["custom.code"] and data["valid"] is False
    assert data["rendered"] == "Hello Awa, utilisez {{custom.code}}."
    assert out["summary"] == "Rendered with 1 MISSING variable(s): custom.code; supply them before sending"
    assert mutations(ledger()) == []  # a POST route, a read in effect


@pytest.mark.parametrize("key", ["code", "custom.code"])
async def test_preview_template_with_every_variable(client: Client, ledger: Ledger, key: str) -> None:
    out = await call_ok(
        client,
        "preview_template",
        {"template_id": PROMO_TEMPLATE_ID, "contact_id": AWA_CONTACT_ID, "variables": {key: "PROMO10"}},
    )
    assert out["data"]["rendered"] == "Hello Awa, utilisez PROMO10."
    assert out["data"]["missingVariables"] == []
    assert out["summary"] == "Rendered, all 2 variable(s) filled"


async def test_preview_template_keeps_integer_values_integers(client: Client) -> None:
    out = await call_ok(
        client,
        "preview_template",
        {"template_id": PROMO_TEMPLATE_ID, "contact_id": AWA_CONTACT_ID, "variables": {"code": 10}},
    )
    assert out["data"]["rendered"] == "Hello Awa, utilisez 10."


async def test_preview_template_with_an_instance(client: Client) -> None:
    out = await call_ok(
        client,
        "preview_template",
        {
            "template_id": WELCOME_TEMPLATE_ID,
            "contact_id": AWA_CONTACT_ID,
            "instance_id": PERSONAL_CONNECTED_INSTANCE_ID,
        },
    )
    assert out["data"]["rendered"] == "Bonjour Awa, bienvenue chez boutique-principale !"


async def test_preview_template_errors(client: Client, ledger: Ledger) -> None:
    error = await call_error(
        client, "preview_template", {"template_id": PROMO_TEMPLATE_ID, "variables": {"contact.firstName": "Bob"}}
    )
    assert "not a custom.* name" in error
    assert ledger() == []
    error = await call_error(
        client, "preview_template", {"template_id": PROMO_TEMPLATE_ID, "contact_id": str(uuid.uuid4())}
    )
    assert "TEMPLATE_CONTEXT_UNAVAILABLE" in error
    error = await call_error(client, "preview_template", {"template_id": str(uuid.uuid4())})
    assert "NOT_FOUND" in error


async def test_preview_template_is_a_read(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    hints = tools["preview_template"].annotations
    assert hints is not None and hints.read_only_hint is True and hints.destructive_hint is False
    assert "confirm_token" not in tools["preview_template"].input_schema["properties"]
