"""Structured results are valid against the outputSchema their tool declares, for every status.

The example each tool that declares a schema declares runs on the sandbox, and its structuredContent is
checked with jsonschema here (not only by the SDK client, which validates too). Guarded tools are
also checked on every path that does not act: confirmation_required, replayed, declined, dry_run.
The response models are lenient: an API that adds fields or sends null never breaks a call.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from mcp import Client
from mcp.server import MCPServer
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.output_schemas import data_schema
from msgflash_mcp.tools._responses import Contact, Instances

from tests.conftest import make_settings
from tests.examples import SPECS, example_args
from tests.guard.conftest import Elicitor

pytestmark = pytest.mark.anyio

# The guarded tool whose non-acting answers (pending, replayed, declined, dry run) are checked too.
GUARDED_SAMPLE = "send_message"
WITH_SCHEMA = sorted(spec.name for spec in SPECS.values() if spec.output is not None)


async def _schemas(client: Client) -> dict[str, dict[str, Any]]:
    return {tool.name: tool.output_schema for tool in (await client.list_tools()).tools if tool.output_schema}


def _check(schema: dict[str, Any], structured: dict[str, Any] | None) -> dict[str, Any]:
    assert structured is not None
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(structured)
    return structured


async def test_the_listed_output_schemas_are_the_declared_ones(client: Client) -> None:
    assert set(await _schemas(client)) == set(WITH_SCHEMA)


@pytest.mark.parametrize("tool", WITH_SCHEMA)
async def test_a_sample_result_is_valid_against_the_declared_schema(client: Client, tool: str, sandbox_app: Any) -> None:
    """Each tool's declared example (server/registry.py `Example`) is the sample."""
    schema = (await _schemas(client))[tool]
    args = await example_args(tool, sandbox_app)
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    out = _check(schema, result.structured_content)
    if out["status"] == "confirmation_required":  # guarded: the pending answer is valid too, then act
        assert "data" not in out and out["confirm_token"]
        result = await client.call_tool(tool, {**args, "confirm_token": out["confirm_token"]})
        out = _check(schema, result.structured_content)
    assert out["status"] == "ok" and "data" in out, out


async def test_a_replayed_token_answer_is_valid(client: Client, sandbox_app: Any) -> None:
    schema = (await _schemas(client))[GUARDED_SAMPLE]
    args = await example_args(GUARDED_SAMPLE, sandbox_app)
    pending = _check(schema, (await client.call_tool(GUARDED_SAMPLE, args)).structured_content)
    token = pending["confirm_token"]
    done = _check(schema, (await client.call_tool(GUARDED_SAMPLE, {**args, "confirm_token": token})).structured_content)
    again = _check(schema, (await client.call_tool(GUARDED_SAMPLE, {**args, "confirm_token": token})).structured_content)
    assert (pending["status"], done["status"], again["status"]) == ("confirmation_required", "ok", "replayed")


async def test_a_declined_answer_is_valid(server: MCPServer[Any], sandbox_app: Any) -> None:
    args = await example_args(GUARDED_SAMPLE, sandbox_app)
    async with Client(server, elicitation_callback=Elicitor("decline")) as client:
        schema = (await _schemas(client))[GUARDED_SAMPLE]
        out = _check(schema, (await client.call_tool(GUARDED_SAMPLE, args)).structured_content)
    assert out["status"] == "declined" and "data" not in out


async def test_a_dry_run_answer_is_valid(sandbox_app: Any) -> None:
    args = await example_args(GUARDED_SAMPLE, sandbox_app)
    async with Client(build_server(make_settings(dry_run=True), sandbox_app=sandbox_app)) as client:
        schema = (await _schemas(client))[GUARDED_SAMPLE]
        out = _check(schema, (await client.call_tool(GUARDED_SAMPLE, args)).structured_content)
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
