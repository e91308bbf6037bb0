"""Credentials are chosen by the server, never by the model; failures read as tool errors, not protocol errors."""

from __future__ import annotations

import re
import uuid
from typing import Any

import anyio
import pytest
from mcp import Client
from msgflash_mcp.sandbox.keys import TEAM_ID, TEAM_NAME
from msgflash_mcp.server.app import build_server

from ..conftest import PERSONAL_ONLY, credential_violations, make_settings
from .conftest import looks_like_traceback
from .requirements import requirement

pytestmark = pytest.mark.anyio

CREDENTIAL_FIELD = re.compile(
    r"(api[_-]?key|apikey|secret|token|password|auth|bearer|header|team[_-]?id|base[_-]?url|endpoint|host)",
    re.IGNORECASE,
)
ALLOWED = {"confirm_token"}  # the guard's own handle, not a credential

SMUGGLED: dict[str, Any] = {
    "api_key": "msgf_live_" + "ab" * 32,
    "x_api_key": "msgf_live_" + "ab" * 32,
    "team_id": "00000000-0000-4000-8000-000000000000",
    "x_team_id": "00000000-0000-4000-8000-000000000000",
    "base_url": "http://evil.invalid",
    "headers": {"x-api-key": "msgf_team_" + "cd" * 32, "Authorization": "Bearer stolen"},
    "_meta": {"x-api-key": "nope"},
}


def property_names(schema: Any) -> list[str]:
    names: list[str] = []
    if isinstance(schema, dict):
        for name, prop in (schema.get("properties") or {}).items():
            names.append(name)
            names += property_names(prop)
        for key in ("items", "anyOf", "oneOf", "allOf"):
            sub = schema.get(key)
            for item in sub if isinstance(sub, list) else [sub]:
                names += property_names(item)
        for item in (schema.get("$defs") or {}).values():
            names += property_names(item)
    return names


@requirement("cred.not-model-selectable")
async def test_no_tool_schema_has_a_credential_field(client: Client) -> None:
    offenders = [
        f"{tool.name}.{name}"
        for tool in (await client.list_tools()).tools
        for name in property_names(tool.input_schema)
        if CREDENTIAL_FIELD.search(name) and name not in ALLOWED
    ]
    assert not offenders, f"credential-like parameters: {offenders}"


@requirement("cred.not-model-selectable")
@pytest.mark.parametrize(("tool", "args"), [
    ("list_instances", {}),
    ("list_contacts", {"limit": 3}),
    ("get_usage", {}),
    ("list_plans", {"workspace": TEAM_NAME}),
])
async def test_smuggled_credential_arguments_change_nothing(client: Client, ledger: Any, tool: str, args: dict[str, Any]) -> None:
    plain = await client.call_tool(tool, args)
    plain_entries = ledger()
    smuggled = await client.call_tool(tool, {**args, **SMUGGLED})
    smuggled_entries = ledger()[len(plain_entries):]
    if smuggled.is_error:
        # Rejected outright (extra fields forbidden) is also fine, as long as nothing went out.
        assert smuggled_entries == []
        return
    assert not plain.is_error
    strip = ("seq", "time")
    assert [{k: v for k, v in e.items() if k not in strip} for e in smuggled_entries] == [
        {k: v for k, v in e.items() if k not in strip} for e in plain_entries
    ]
    same = ("status", "workspace")  # data may differ only by counters (usage counts API requests)
    assert {k: (smuggled.structured_content or {}).get(k) for k in same} == {
        k: (plain.structured_content or {}).get(k) for k in same
    }
    def shape(data: Any) -> Any:
        return sorted(data) if isinstance(data, dict) else [shape(item) for item in data] if isinstance(data, list) else None

    assert shape((smuggled.structured_content or {}).get("data")) == shape((plain.structured_content or {}).get("data"))
    assert "evil.invalid" not in smuggled.model_dump_json() and "stolen" not in smuggled.model_dump_json()


@requirement("cred.team-key-not-on-personal-routes")
async def test_personal_routes_see_only_the_personal_key_and_team_routes_the_team(client: Client, ledger: Any) -> None:
    await client.call_tool("switch_workspace", {"workspace": TEAM_NAME})
    for name in ("get_usage", "get_account", "get_subscription", "get_billing_usage", "list_payments"):
        result = await client.call_tool(name, {})
        assert not result.is_error, result.content
    for name in ("list_instances", "list_contacts", "list_templates"):
        assert not (await client.call_tool(name, {})).is_error
    entries = ledger()
    assert not credential_violations(entries)
    personal = [e for e in entries if e["path"] in PERSONAL_ONLY]
    team = [e for e in entries if e["path"] not in PERSONAL_ONLY]
    assert len(personal) >= 5 and {e["key_kind"] for e in personal} == {"personal"}
    assert {e["team_id"] for e in personal} == {None}
    assert team and {(e["key_kind"], e["team_id"]) for e in team} == {("team", TEAM_ID)}


@requirement("cred.read-only-mode")
async def test_read_only_mode_lists_and_runs_only_reading_tools(sandbox_app: Any) -> None:
    server = build_server(make_settings(read_only=True), sandbox_app=sandbox_app)
    with anyio.fail_after(20):
        async with Client(server) as client:
            tools = (await client.list_tools()).tools
            assert tools
            writers = [t.name for t in tools if t.annotations is None or not t.annotations.read_only_hint]
            assert set(writers) <= {"switch_workspace"}, writers  # session state only, never the API
            for name, args in [("create_contact", {"name": "x", "phone": "+33612345678"}),
                               ("send_message", {"instance_id": str(uuid.uuid4()), "to": "+33612345678", "text": "hi"}),
                               ("delete_contact", {"contact_id": str(uuid.uuid4())})]:
                result = await client.call_tool(name, args)
                assert result.is_error
    assert not [e for e in sandbox_app.state.sandbox.ledger if e["method"] != "GET"]


# ---------------------------------------------------------------- errors

@requirement("proto.errors-readable")
@pytest.mark.parametrize(("status", "code"), [(500, "INTERNAL_ERROR"), (502, "BAD_GATEWAY"), (403, "FORBIDDEN"),
                                              (404, "NOT_FOUND"), (422, "VALIDATION_ERROR"), (429, "API_RATE_LIMIT_EXCEEDED")])
async def test_api_failures_are_readable_tool_errors(client: Client, sandbox_app: Any, status: int, code: str) -> None:
    from msgflash_mcp.sandbox.faults import FaultRule

    sandbox_app.state.sandbox.faults.add([FaultRule(action="status", method="GET", path="/api/v1/contacts",
                                                    status=status, code=code, count=None, retry_after=120)])
    with anyio.fail_after(30):
        result = await client.call_tool("list_contacts", {})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert text and not looks_like_traceback(text)
    assert code in text or str(status) in text or "MsgFlash" in text, text


@requirement("proto.errors-readable")
async def test_transport_failures_and_garbage_are_readable_tool_errors(client: Client, sandbox_app: Any) -> None:
    from msgflash_mcp.sandbox.faults import FaultRule

    faults = sandbox_app.state.sandbox.faults
    with anyio.fail_after(30):
        for action in ("drop", "connect_error"):
            faults.add([FaultRule(action=action, method="GET", path="/api/v1/instances", count=None)])
            result = await client.call_tool("list_instances", {})
            faults.clear()
            assert result.is_error
            text = result.content[0].text  # type: ignore[union-attr]
            assert not looks_like_traceback(text) and "RemoteProtocolError(" not in text
        # Unknown tool, wrong types: still tool errors, never protocol errors.
        unknown = await client.call_tool("no_such_tool", {})
        assert unknown.is_error
        wrong = await client.call_tool("list_contacts", {"limit": "lots"})
        assert wrong.is_error and not looks_like_traceback(wrong.content[0].text)  # type: ignore[union-attr]
