"""Structured results are valid against the outputSchema their tool declares, for every status.

A sample call per tool that declares a schema runs on the sandbox, and its structuredContent is
checked with jsonschema here (not only by the SDK client, which validates too). Guarded tools are
also checked on every path that does not act: confirmation_required, replayed, declined, dry_run.
The response models are lenient: an API that adds fields or sends null never breaks a call.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from mcp import Client
from mcp.server import MCPServer
from msgflash_mcp.sandbox.seed import (
    AWA_CONTACT_ID,
    FINISHED_CAMPAIGN_ID,
    PERSONAL_CONNECTED_INSTANCE_ID,
    PROMPT_INJECTION_MESSAGE_ID,
    VIP_GROUP_ID,
    WELCOME_TEMPLATE_ID,
)
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.output_schemas import data_schema
from msgflash_mcp.tools._responses import Contact, Instances

from tests.conftest import call_ok, make_settings
from tests.guard.conftest import Elicitor

pytestmark = pytest.mark.anyio

Args = dict[str, Any] | Callable[[Client], Awaitable[dict[str, Any]]]


async def _a_bulk_job(client: Client) -> dict[str, Any]:
    created = await call_ok(client, "create_group", {"name": "Schema check"})
    ids = [str(uuid.uuid4()) for _ in range(100)]  # 100+ ids: the API answers with a bulk job
    queued = await call_ok(client, "add_group_members", {"group_id": created["data"]["id"], "contact_ids": ids})
    return {"job_id": queued["data"]["jobId"]}


def _text(**extra: Any) -> dict[str, Any]:
    return {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "to": "+33612345000", "type": "text", "text": "Hi", **extra}


async def _scheduled(client: Client) -> dict[str, Any]:
    return _text(scheduled_at=(datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).isoformat())


# One call per tool that declares an output schema; a tool that gains one must gain a sample here.
SAMPLES: dict[str, Args] = {
    "list_contacts": {"search": "+33 6 12 34 50 00"},
    "get_contact": {"contact_id": AWA_CONTACT_ID},
    "create_contact": {"name": "Zoé Kane", "phone": "+33612345999", "tags": ["new"]},
    "get_bulk_job_progress": _a_bulk_job,
    "list_groups": {},
    "get_group": {"group_id": VIP_GROUP_ID},
    "list_group_members": {"group_id": VIP_GROUP_ID},
    "list_messages": {},
    "get_message": {"message_id": PROMPT_INJECTION_MESSAGE_ID},  # inbound, hostile text: sanitised data
    "send_message": _text(),
    "schedule_message": _scheduled,
    "list_instances": {},
    "list_templates": {},
    "get_template": {"template_id": WELCOME_TEMPLATE_ID},
    "list_webhooks": {},
    "get_usage": {},
    "get_campaign_stats": {"campaign_id": FINISHED_CAMPAIGN_ID},
}
GUARDED_SAMPLE = "send_message"


async def _args(client: Client, tool: str) -> dict[str, Any]:
    sample = SAMPLES[tool]
    return await sample(client) if callable(sample) else sample


async def _schemas(client: Client) -> dict[str, dict[str, Any]]:
    return {tool.name: tool.output_schema for tool in (await client.list_tools()).tools if tool.output_schema}


def _check(schema: dict[str, Any], structured: dict[str, Any] | None) -> dict[str, Any]:
    assert structured is not None
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(structured)
    return structured


async def test_every_tool_with_an_output_schema_has_a_sample(client: Client) -> None:
    assert set(await _schemas(client)) == set(SAMPLES)


@pytest.mark.parametrize("tool", sorted(SAMPLES))
async def test_a_sample_result_is_valid_against_the_declared_schema(client: Client, tool: str) -> None:
    schema = (await _schemas(client))[tool]
    args = await _args(client, tool)
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    out = _check(schema, result.structured_content)
    if out["status"] == "confirmation_required":  # guarded: the pending answer is valid too, then act
        assert "data" not in out and out["confirm_token"]
        result = await client.call_tool(tool, {**args, "confirm_token": out["confirm_token"]})
        out = _check(schema, result.structured_content)
    assert out["status"] == "ok" and "data" in out, out


async def test_a_replayed_token_answer_is_valid(client: Client) -> None:
    schema = (await _schemas(client))[GUARDED_SAMPLE]
    args = _text()
    pending = _check(schema, (await client.call_tool(GUARDED_SAMPLE, args)).structured_content)
    token = pending["confirm_token"]
    done = _check(schema, (await client.call_tool(GUARDED_SAMPLE, {**args, "confirm_token": token})).structured_content)
    again = _check(schema, (await client.call_tool(GUARDED_SAMPLE, {**args, "confirm_token": token})).structured_content)
    assert (pending["status"], done["status"], again["status"]) == ("confirmation_required", "ok", "replayed")


async def test_a_declined_answer_is_valid(server: MCPServer[Any]) -> None:
    async with Client(server, elicitation_callback=Elicitor("decline")) as client:
        schema = (await _schemas(client))[GUARDED_SAMPLE]
        out = _check(schema, (await client.call_tool(GUARDED_SAMPLE, _text())).structured_content)
    assert out["status"] == "declined" and "data" not in out


async def test_a_dry_run_answer_is_valid(sandbox_app: Any) -> None:
    async with Client(build_server(make_settings(dry_run=True), sandbox_app=sandbox_app)) as client:
        schema = (await _schemas(client))[GUARDED_SAMPLE]
        out = _check(schema, (await client.call_tool(GUARDED_SAMPLE, _text())).structured_content)
    assert out["status"] == "dry_run" and "data" not in out


def test_response_models_accept_api_additions_and_nulls() -> None:
    contact = data_schema(Contact)
    jsonschema.validate({"id": "c1", "name": None, "tags": None, "addedTomorrow": {"x": 1}}, contact)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "no id"}, contact)  # the id is the one thing a caller relies on
    # functools.cache asks for Hashable arguments and pyright judges a RootModel class by its instances'
    # __hash__ (None); the class itself hashes by identity, which is all the cache needs.
    instances = data_schema(Instances)  # pyright: ignore[reportArgumentType]
    jsonschema.validate([{"id": "i1", "status": "connected", "qr": "..."}], instances)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"id": "i1"}, instances)  # the API answers a list here
