"""Injection: hostile API data never changes the tool surface, comes back cleaned, and ids can't change routes."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server import MCPServer
from msgflash_mcp.server.api import expand
from msgflash_mcp.server.core.results import UNTRUSTED_NOTE
from msgflash_mcp.server.registry import GET, Route
from msgflash_mcp.server.untrusted import MAX_TEXT, clean_text, sanitize

from ..conftest import call_ok
from .conftest import HOSTILE_NAME, INVISIBLES, seed_hostile
from .requirements import requirement

pytestmark = pytest.mark.anyio

# github-mcp-server pkg/sanitize's set, spelled out here independently of server/untrusted.py.
HIDDEN = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
                    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\U000e0000-\U000e007f\U000e0100-\U000e01ef]")


async def surface(client: Client) -> str:
    tools = (await client.list_tools(cache_mode="refresh")).tools
    return json.dumps([t.model_dump(mode="json") for t in tools], sort_keys=True, ensure_ascii=False)


def all_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *all_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    return []


async def read_everything(client: Client, ids: dict[str, str]) -> list[dict[str, Any]]:
    """Every reading tool that can return the hostile data, both list and get shapes."""
    calls: list[tuple[str, dict[str, Any]]] = [
        ("list_contacts", {"limit": 100}),
        ("list_contacts", {"search": "IMPORTANT"}),
        ("get_contact", {"contact_id": ids["contact"]}),
        ("get_contact", {"contact_id": ids["long_contact"]}),
        ("list_groups", {}),
        ("get_group", {"group_id": ids["group"]}),
        ("list_messages", {}),
        ("get_message", {"message_id": ids["message"]}),
    ]
    results = []
    for name, args in calls:
        results.append(await call_ok(client, name, args))
    return results


@requirement("inject.static-tool-list")
async def test_hostile_data_never_changes_the_tool_list_or_instructions(server: MCPServer[Any], sandbox_app: Any) -> None:
    with anyio.fail_after(30):
        async with Client(server) as client:
            before_tools = await surface(client)
            before_instructions = client.instructions
            ids = await seed_hostile(sandbox_app)
            results = await read_everything(client, ids)
            assert any("IMPORTANT" in json.dumps(r) for r in results), "the hostile data was not read back"
            assert await surface(client) == before_tools
        async with Client(server) as fresh:  # a new connection after the data exists sees the same surface
            assert await surface(fresh) == before_tools
            assert fresh.instructions == before_instructions
    for text in (before_tools, before_instructions or ""):
        assert "IMPORTANT" not in text and not HIDDEN.search(text)


@requirement("inject.sanitised-fields")
async def test_inbound_text_is_cleaned_capped_and_marked(client: Client, sandbox_app: Any) -> None:
    with anyio.fail_after(30):
        ids = await seed_hostile(sandbox_app)
        results = await read_everything(client, ids)
    for result in results:
        strings = all_strings(result)
        hidden = [s[:80] for s in strings if HIDDEN.search(s)]
        assert not hidden, f"invisible/bidi/tag characters survived: {hidden}"
        too_long = [len(s) for s in strings if len(s) > MAX_TEXT + 100]
        assert not too_long, f"uncapped strings: {too_long}"
        assert result["note"] == UNTRUSTED_NOTE
    flat = json.dumps(results, ensure_ascii=False)
    assert "ignore previous instructions" in flat, "visible text is data and stays readable"
    assert "truncated" in flat, "the 100k-character name was cut with a marker"


def test_clean_text_strips_every_hidden_class_and_keeps_the_rest() -> None:
    text = "héllo" + INVISIBLES + "\x00\x1b[31m" + "\n\tok"
    cleaned = clean_text(text)
    assert not HIDDEN.search(cleaned)
    assert "\x00" not in cleaned and "\x1b" not in cleaned
    assert cleaned.startswith("héllo") and cleaned.endswith("\n\tok")
    assert clean_text("x" * (MAX_TEXT + 5)).endswith("[truncated 5 chars]")
    nested = sanitize({"a\u200b": [HOSTILE_NAME + "\u202e"], "n": 3})
    assert nested == {"a": [HOSTILE_NAME], "n": 3}


# ---------------------------------------------------------------- path parameters

HOSTILE_IDS = ["../billing", "a/b", "%2e%2e", "?x=1", "..%2fbilling", "x#frag", " ", "\u202e", "a" * 300]
ID_TOOLS = [
    ("get_contact", "contact_id"),
    ("get_group", "group_id"),
    ("get_message", "message_id"),
    ("get_template", "template_id"),
    ("get_instance", "instance_id"),
    ("get_campaign", "campaign_id"),
    ("get_bulk_job", "job_id"),
    ("get_number_lookup", "lookup_id"),
]


@requirement("inject.path-encoding")
@pytest.mark.parametrize("value", HOSTILE_IDS)
async def test_hostile_ids_are_refused_before_any_request(client: Client, ledger: Any, value: str) -> None:
    tools = {t.name for t in (await client.list_tools()).tools}
    for tool, param in ID_TOOLS:
        if tool not in tools:
            continue
        result = await client.call_tool(tool, {param: value})
        assert result.is_error, f"{tool}({param}={value!r}) was accepted"
    assert ledger() == [], "a malformed id reached the API"


@requirement("inject.path-encoding")
@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_expand_never_lets_a_value_change_the_route(value: str) -> None:
    from msgflash_mcp.server.core.errors import ApiError

    route = GET("/api/v1/contacts/{id}")
    try:
        url = expand(route, {"id": value})
    except ApiError:
        return
    # If a value is ever accepted, it must stay one encoded segment of the intended route.
    assert url.startswith("/api/v1/contacts/") and "/" not in url.removeprefix("/api/v1/contacts/")
    assert "?" not in url and "#" not in url and ".." not in url


@requirement("inject.path-encoding")
async def test_valid_ids_reach_exactly_the_intended_routes(client: Client, ledger: Any) -> None:
    some = str(uuid.uuid4())
    for tool, param in ID_TOOLS:
        await client.call_tool(tool, {param: some})
    paths = {entry["path"] for entry in ledger()}
    assert paths, "nothing reached the sandbox"
    for path in paths:
        assert path.startswith("/api/v1/") and some in path and ".." not in path, path
        assert path.count(some) == 1
    assert all(entry["query"] == "" or "x=1" not in entry["query"] for entry in ledger())


def test_expand_encodes_multiple_params_independently() -> None:
    route = Route("POST", "/api/v1/contacts/groups/{groupId}/members/{id}")
    assert expand(route, {"groupId": "abc", "id": "d-e_f"}) == "/api/v1/contacts/groups/abc/members/d-e_f"


# ---------------------------------------------------------------- no local paths

PATHY = re.compile(r"(path|file|dir|folder|filename)", re.IGNORECASE)


@requirement("inject.no-local-paths")
async def test_no_tool_takes_a_filesystem_path(client: Client) -> None:
    offenders: list[str] = []
    url_fields: list[str] = []

    def walk(tool: str, where: str, schema: Any) -> None:
        if isinstance(schema, dict):
            for name, prop in (schema.get("properties") or {}).items():
                if PATHY.search(name):
                    offenders.append(f"{tool}.{where}{name}")
                # Media and link parameters of the tool itself must be http(s)-only (a button's url inside
                # $defs is message content for WhatsApp, never fetched or opened by this server).
                if not where and "url" in name.lower() and isinstance(prop, dict) and prop.get("type") == "string":
                    url_fields.append(f"{tool}.{where}{name}")
                    # The schema shows a URL (pattern or format: uri); the strict http(s)-only check is the
                    # pydantic validator, exercised by the behavioural test below.
                    shown_as_url = str(prop.get("pattern", "")).startswith("^http") or prop.get("format") == "uri"
                    assert shown_as_url, f"{tool}.{name} takes any string: {prop}"
                walk(tool, f"{where}{name}.", prop)
            for key in ("items", "$defs", "anyOf", "oneOf", "allOf"):
                sub = schema.get(key)
                subs = sub.values() if isinstance(sub, dict) and key == "$defs" else sub if isinstance(sub, list) else [sub]
                for item in subs:
                    walk(tool, where or ("$defs." if key == "$defs" else ""), item)

    for tool in (await client.list_tools()).tools:
        walk(tool.name, "", tool.input_schema)
    assert not offenders, f"parameters that look like filesystem paths: {offenders}"
    assert url_fields, "expected media/link URL parameters to exist and be http(s)-only"


@requirement("inject.no-local-paths")
@pytest.mark.parametrize("media", ["/etc/passwd", "file:///etc/passwd", "~/.ssh/id_rsa", "C:\\secrets.txt", "../x.png"])
async def test_local_paths_as_media_are_refused_before_any_request(client: Client, ledger: Any, media: str) -> None:
    ids = await seed_ids(client)
    calls = [
        ("send_message", {"instance_id": ids, "to": "+33612345678", "type": "image", "media_url": media}),
        ("publish_status", {"instance_id": ids, "type": "image", "content": media}),
        ("create_template", {"name": "t", "type": "image", "media_url": media}),
    ]
    tools = {t.name for t in (await client.list_tools()).tools}
    before = len(ledger())
    for name, args in calls:
        if name not in tools:
            continue
        result = await client.call_tool(name, args)
        text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
        assert result.is_error or (result.structured_content or {}).get("status") != "ok", f"{name} accepted {media!r}: {text}"
    assert not [e for e in ledger()[before:] if e.get("committed")], "a local path produced a mutation"


async def seed_ids(client: Client) -> str:
    data = await call_ok(client, "list_instances", {})
    items = data["data"] if isinstance(data["data"], list) else data["data"].get("items", [])
    return next(i["id"] for i in items if i.get("status") == "connected")
