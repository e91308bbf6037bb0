"""Registry rules: the public tool contract and what every tool must derive from its declaration."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from msgflash_mcp.server.app import build_server, selected_specs
from msgflash_mcp.server.core.results import Reply
from msgflash_mcp.server.registry import DELETE, GET, POST, Effect, Single, ToolInput, Toolset, select, single
from msgflash_mcp.tools import ALL_TOOLSETS

from tests.conftest import make_settings

pytestmark = pytest.mark.anyio

ENDPOINTS = json.loads((Path(__file__).parents[2] / "api-contract/endpoints.json").read_text())

# DESIGN.md "Tool surface": a public contract. Changing a name or an effect is a breaking change.
CONTRACT: dict[str, dict[str, Effect]] = {
    "workspace": {"list_workspaces": Effect.READ, "switch_workspace": Effect.READ},
    "messages": {
        "send_message": Effect.SEND, "schedule_message": Effect.SEND,
        "list_messages": Effect.READ, "get_message": Effect.READ,
    },
    "campaigns": {
        "create_campaign": Effect.SEND, "get_campaign": Effect.READ, "get_campaign_stats": Effect.READ,
        "pause_campaign": Effect.WRITE, "resume_campaign": Effect.SEND, "list_campaigns": Effect.READ,
    },
    "templates": {
        "list_templates": Effect.READ, "get_template": Effect.READ, "create_template": Effect.WRITE,
        "update_template": Effect.WRITE, "delete_template": Effect.DELETE, "preview_template": Effect.READ,
    },
    "contacts": {
        "list_contacts": Effect.READ, "get_contact": Effect.READ, "create_contact": Effect.WRITE,
        "update_contact": Effect.WRITE, "delete_contact": Effect.DELETE, "bulk_delete_contacts": Effect.DELETE,
        "get_contact_groups": Effect.READ, "list_bulk_jobs": Effect.READ, "get_bulk_job": Effect.READ,
        "get_bulk_job_progress": Effect.READ, "cancel_bulk_job": Effect.WRITE,
    },
    "groups": {
        "list_groups": Effect.READ, "get_group": Effect.READ, "create_group": Effect.WRITE,
        "update_group": Effect.WRITE, "delete_group": Effect.DELETE, "add_group_members": Effect.WRITE,
        "remove_group_members": Effect.WRITE, "list_group_members": Effect.READ,
    },
    "webhooks": {"list_webhooks": Effect.READ, "create_webhook": Effect.ADMIN, "delete_webhook": Effect.DELETE},
    "statuses": {"publish_status": Effect.SEND},
    "instances": {
        "list_instances": Effect.READ, "get_instance": Effect.READ,
        "get_instance_state": Effect.READ, "get_instance_health": Effect.READ,
    },
    "billing": {
        "get_usage": Effect.READ, "get_account": Effect.READ, "list_plans": Effect.READ,
        "get_subscription": Effect.READ, "get_billing_usage": Effect.READ, "list_payments": Effect.READ,
    },
    "lookups": {
        "start_number_lookup": Effect.WRITE, "list_number_lookups": Effect.READ, "get_number_lookup": Effect.READ,
        "get_number_lookup_progress": Effect.READ, "cancel_number_lookup": Effect.WRITE,
        "import_lookup_contacts": Effect.WRITE,
    },
}
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
ALL_SPECS = [spec for toolset in ALL_TOOLSETS for spec in toolset.specs]


def test_tool_names_and_effects_match_the_public_contract() -> None:
    """No public tool disappears, moves toolset or changes effect. A new tool is not listed here: the endpoint
    recipe (test_endpoint_recipe.py) ties it to the contract and its toolsnap pins its name and hints."""
    declared = {ts.name: {spec.name: spec.effect for spec in ts.specs} for ts in ALL_TOOLSETS}
    changed = [
        f"{toolset}.{name}: was Effect.{effect.name}, now {declared.get(toolset, {}).get(name, 'gone')}"
        for toolset, tools in CONTRACT.items()
        for name, effect in tools.items()
        if declared.get(toolset, {}).get(name) is not effect
    ]
    assert not changed, "\n".join(changed)


def test_personal_only_routes_follow_the_reference() -> None:
    for endpoint in ENDPOINTS:
        specs = [s for s in ALL_SPECS if s.route and (s.route.method, s.route.path) == (endpoint["method"], endpoint["path"])]
        for spec in specs:
            assert spec.route is not None
            assert spec.route.personal_only == bool(endpoint["personal_key_only"]), spec.name
            assert spec.workspace_scoped == (not endpoint["personal_key_only"]), spec.name


async def test_listed_tools_follow_the_registry_rules(client: Client) -> None:
    tools = (await client.list_tools()).tools
    specs = {spec.name: spec for spec in ALL_SPECS}
    assert len({t.name for t in tools}) == len(tools)
    for tool in tools:
        spec = specs[tool.name]
        assert NAME_RE.fullmatch(tool.name)
        assert tool.description and len(tool.description) <= 400, tool.name
        schema = tool.input_schema
        assert schema.get("type") == "object"
        assert not {"anyOf", "oneOf", "allOf"} & schema.keys(), tool.name
        assert "title" not in json.dumps(schema).replace('"title":', "").split('"properties"')[0]
        hints = tool.annotations
        assert hints is not None
        for hint in ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint"):
            assert getattr(hints, hint) is not None, (tool.name, hint)
        assert hints.read_only_hint == (spec.effect is Effect.READ and not spec.session_state)
        if spec.effect.guarded:
            assert hints.destructive_hint is True
            assert "confirm_token" in schema["properties"]
        else:  # confirmable WRITE tools ask only when an edit changes what a pending campaign sends
            assert ("confirm_token" in schema["properties"]) == spec.confirmable, tool.name
        if spec.route is not None:  # switch_workspace's own argument is named workspace too
            assert ("workspace" in schema["properties"]) == spec.workspace_scoped, tool.name
        # No way for the model to pick a key, a team id, a base URL or headers.
        for forbidden in ("api_key", "key", "team_id", "base_url", "headers", "x_team_id"):
            assert forbidden not in schema["properties"], (tool.name, forbidden)


async def test_tool_list_is_deterministic_across_connections(server: Any) -> None:
    async with Client(server) as first, Client(server) as second:
        a = [t.model_dump() for t in (await first.list_tools()).tools]
        b = [t.model_dump() for t in (await second.list_tools()).tools]
    assert a == b
    assert [t["name"] for t in a] == [s.name for s in selected_specs(make_settings())]


async def test_read_only_mode_keeps_only_reading_tools(sandbox_app: Any) -> None:
    server = build_server(make_settings(read_only=True), sandbox_app=sandbox_app)
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
        names = {t.name for t in tools}
        for tool in tools:
            spec = next(s for s in ALL_SPECS if s.name == tool.name)
            assert spec.effect is Effect.READ
        assert "send_message" not in names and "delete_contact" not in names
        result = await client.call_tool("send_message", {"to": "+33612345678"})
        assert result.is_error and "Unknown tool" in result.content[0].text  # type: ignore[union-attr]


def test_toolsets_select_and_unknown_names_fail() -> None:
    chosen = select(ALL_TOOLSETS, enabled=["instances"], read_only=False)
    assert {s.toolset for s in chosen} == {"instances", "workspace"}  # workspace is always on
    with pytest.raises(ValueError, match="unknown toolset"):
        select(ALL_TOOLSETS, enabled=["instances", "nope"], read_only=False)


class ScratchInput(ToolInput):
    lookup_id: str
    display_name: str | None = None


def test_every_mutating_tool_is_planned() -> None:
    """Its preview, confirmation and request come from one typed input and one plan: its own planner, or
    the default `single(action)`, whose one request is derived from the route and the argument model when
    the tool is declared. The registry refuses a mutating tool declared any other way."""
    mutating = [spec for toolset in ALL_TOOLSETS for spec in toolset.specs if spec.effect.mutating]
    assert mutating and all(spec.planner is not None for spec in mutating)
    for spec in mutating:
        if isinstance(spec.planner, Single):  # every path parameter has its argument, no argument is lost
            assert spec.route is not None, spec.name
            assert set(spec.planner.path) == set(spec.route.params), spec.name
            body = set(spec.planner.body.values()) if spec.planner.body is not None else set[str]()
            assert set(spec.planner.path.values()) | body == set(spec.input.model_fields), spec.name
    with pytest.raises(ValueError, match="declares plan="):

        # the refused shape is the point: the registry must catch it at run time, not the type checker
        @Toolset("scratch", "A toolset of this test").tool(DELETE("/api/v1/contacts/{id}"), Effect.DELETE)  # pyright: ignore[reportArgumentType]
        async def delete_something() -> None:
            """Deletes without a plan."""


def test_the_default_planner_derives_its_request_when_declared() -> None:
    """`{id}` comes from the one `*_id` argument, the body from the others camelCased; a path parameter
    no argument gives is refused when the tool is declared, not when it is called."""
    toolset = Toolset("scratch", "A toolset of this test")

    @toolset.tool(POST("/api/v1/number-lookups/{id}/import-contacts"), Effect.WRITE, plan=single(lambda args: "x"))
    async def import_something(call: object, args: ScratchInput) -> Reply:
        """Imports."""
        raise AssertionError("declared, never called")

    (spec,) = toolset.specs
    assert isinstance(spec.planner, Single)
    assert (spec.planner.path, spec.planner.body) == ({"id": "lookup_id"}, {"displayName": "display_name"})
    with pytest.raises(ValueError, match=r"no argument gives the path parameter \{groupId\}"):

        @toolset.tool(DELETE("/api/v1/contacts/groups/{groupId}"), Effect.WRITE, plan=single(lambda args: "x"))
        async def delete_something(call: object, args: ScratchInput) -> Reply:
            """Deletes."""
            raise AssertionError("declared, never called")


def test_every_tool_takes_call_and_its_argument_model() -> None:
    """One shape: `(call, args: <a ToolInput model>)`; the registry refuses any other."""
    assert all(issubclass(spec.input, ToolInput) for toolset in ALL_TOOLSETS for spec in toolset.specs)
    with pytest.raises(ValueError, match=r"takes \(call: CallContext, args: <a ToolInput model>\)"):

        # the refused shape is the point: the registry must catch it at run time, not the type checker
        @Toolset("scratch", "A toolset of this test").tool(GET("/api/v1/instances"), Effect.READ)  # pyright: ignore[reportArgumentType]
        async def list_something(api: object, limit: int = 10) -> None:
            """Reads in the old shape."""
