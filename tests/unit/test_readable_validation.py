"""Arguments that fail validation come back as a fix the model can apply: the argument, the rule, what was
sent; never pydantic's report or its https://errors.pydantic.dev links (server/call/validation.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client

from tests.conftest import call_error

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
LIBRARY_TRACES = ("errors.pydantic.dev", "http", "validation error for", "Arguments", "[type=", "input_value")


def assert_readable(error: str, tool: str) -> None:
    assert error.startswith(f"Invalid arguments for {tool}, nothing was done: "), error
    assert error.endswith("Correct them and call again."), error
    for trace in LIBRARY_TRACES:
        assert trace not in error, f"{trace!r} in {error!r}"


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        ("list_payments", {"limit": 0}, "`limit` must be greater than or equal to 1 (got 0)"),
        ("list_payments", {"page": "two"}, "`page` must be a valid integer"),
        ("create_template", {"name": "T", "type": "sticker"},
         "`type` must be 'text', 'image', 'video', 'audio' or 'document' (got 'sticker')"),
        ("get_template", {"template_id": "tmpl_1"}, "`template_id` must be a UUID (take ids from the matching list_* tool)"),
        ("send_message", {"to": "123", "text": "hi"}, "`instance_id` is required; `to` needs at least 4 character(s) (got '123')"),
        ("preview_template", {"template_id": "00000000-0000-4000-8000-000000000000", "variables": {"code": [1]}},
         "`variables.code` must be a valid string or a valid integer or a valid number"),
    ],
)
async def test_a_rejected_argument_names_the_field_and_the_fix(
    client: Client, ledger: Ledger, tool: str, args: dict[str, Any], expected: str
) -> None:
    error = await call_error(client, tool, args)
    assert_readable(error, tool)
    assert expected in error
    assert ledger() == []


async def test_a_pattern_is_explained_by_the_argument_description(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    described = tools["send_message"].input_schema["properties"]["media_url"]["description"]
    error = await call_error(
        client, "send_message",
        {"instance_id": "00000000-0000-4000-8000-000000000000", "to": "+5511912345678", "text": "hi",
         "media_url": "ftp://example.com/a.jpg"},
    )
    assert_readable(error, "send_message")
    assert f"`media_url` must be: {described} (got 'ftp://example.com/a.jpg')" in error


async def test_every_tool_names_each_missing_required_argument(client: Client, ledger: Ledger) -> None:
    tools = (await client.list_tools()).tools
    checked = 0
    for tool in tools:
        required: list[str] = tool.input_schema.get("required") or []
        if not required:
            continue
        error = await call_error(client, tool.name, {})
        assert_readable(error, tool.name)
        for name in required:
            assert f"`{name}` is required" in error, (tool.name, error)
        checked += 1
    assert checked >= 20  # most tools take an id or content
    assert ledger() == []


async def test_long_values_are_shortened(client: Client) -> None:
    error = await call_error(client, "get_template", {"template_id": "x" * 500})
    assert_readable(error, "get_template")
    assert "(got '" + "x" * 30 in error and "x" * 60 not in error
