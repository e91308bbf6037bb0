"""Schema fuzzing: arguments generated from every tool's own inputSchema, valid and deliberately invalid.

Arguments are drawn deterministically (hypothesis `derandomize=True`) in a synchronous phase, then
sent through the in-memory MCP client. For every call: a result or an `is_error` result, never a
protocol error, exception or traceback text; never a sandbox key in the output. Invalid arguments
(missing required, wrong types) never produce a sandbox request. Guarded tools never commit a
mutation (the in-memory client cannot elicit, so they answer `confirmation_required`). The server
answers `list_instances` afterwards.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from mcp import Client, MCPError
from mcp.types import CallToolResult
from msgflash_mcp.sandbox.keys import PERSONAL_KEY, TEAM_KEY
from msgflash_mcp.server.app import selected_specs

from ..conftest import make_settings, mutations
from .conftest import looks_like_traceback
from .requirements import requirement

pytestmark = pytest.mark.anyio

VALID_EXAMPLES = 6
SPECS = {spec.name: spec for spec in selected_specs(make_settings())}


def draw(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """`count` deterministic examples of a strategy (no shrinking needed: failures name their arguments)."""
    found: list[Any] = []

    # hypothesis leaves HealthCheckMeta.__iter__ unannotated, so pyright reads list(HealthCheck) as metaclasses
    @settings(derandomize=True, max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # pyright: ignore[reportArgumentType]
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found[:count]


def schema_strategy(schema: Any, defs: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Arguments for a tool schema: objects, arrays and refs walked here, leaves from hypothesis-jsonschema.

    hypothesis-jsonschema 0.23.1's object strategy relies on a private hypothesis API (`many.more()`)
    that hypothesis 6.170 removed, so objects are built with `fixed_dictionaries`; every scalar leaf
    (patterns, formats, enums, bounds) still comes from `from_schema`.
    """
    known: dict[str, Any] = defs if defs is not None else schema.get("$defs", {})
    if not isinstance(schema, dict):
        return st.none()
    if "$ref" in schema:
        return schema_strategy(known[schema["$ref"].rsplit("/", 1)[-1]], known)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([schema_strategy(branch, known) for branch in schema[key]])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: schema_strategy(v, known) for k, v in props.items() if k in required},
            optional={k: schema_strategy(v, known) for k, v in props.items() if k not in required},
        )
    if kind == "array":
        low = schema.get("minItems", 0)
        high = min(schema.get("maxItems", low + 3), low + 3)
        return st.lists(schema_strategy(schema.get("items", {}), known), min_size=low, max_size=high,
                        unique_by=(lambda v: json.dumps(v, sort_keys=True)) if schema.get("uniqueItems") else None)
    leaf = {k: v for k, v in schema.items() if k not in ("description", "title", "default", "examples")}
    return from_schema(leaf) if leaf else st.none()


def bounded(schema: dict[str, Any]) -> dict[str, Any]:
    """The tool's schema with waiting parameters pinned to 0 (fuzzing must not sleep)."""
    schema = copy.deepcopy(schema)
    for name, prop in (schema.get("properties") or {}).items():
        if "wait" in name and isinstance(prop, dict):
            prop["maximum"] = 0
    return schema


def wrong_value(prop: Any) -> Any:
    text = json.dumps(prop)
    if isinstance(prop, dict) and (prop.get("type") == "object" or "$ref" in text):
        return 12345
    return {"wrong": ["type"]}


def invalid_variants(schema: dict[str, Any], base: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    variants: list[tuple[str, dict[str, Any]]] = []
    for name in schema.get("required", []):
        variants.append((f"missing {name}", {k: v for k, v in base.items() if k != name}))
    for name, prop in (schema.get("properties") or {}).items():
        variants.append((f"wrong type for {name}", {**base, name: wrong_value(prop)}))
    return variants


def problems_of(label: str, result: CallToolResult | BaseException) -> list[str]:
    if isinstance(result, BaseException):
        return [f"{label}: raised {type(result).__name__}: {result}"]
    text = " ".join(getattr(block, "text", "") or "" for block in result.content) + json.dumps(result.structured_content)
    out = []
    if looks_like_traceback(text):
        out.append(f"{label}: traceback in output: {text[:300]}")
    if PERSONAL_KEY in text or TEAM_KEY in text or "msgf_live_5a5a" in text or "msgf_team_7e7e" in text:
        out.append(f"{label}: a key in the output")
    if not result.is_error and result.structured_content is None:
        out.append(f"{label}: success without structured content")
    return out


async def call(client: Client, tool: str, args: dict[str, Any]) -> CallToolResult | BaseException:
    try:
        with anyio.fail_after(20):
            return await client.call_tool(tool, args)
    except (MCPError, TimeoutError) as exc:
        return exc


@requirement("fuzz.schema-args")
@pytest.mark.parametrize("tool", sorted(SPECS))
async def test_schema_generated_arguments(client: Client, ledger: Any, tool: str) -> None:
    listed = {t.name: t for t in (await client.list_tools()).tools}
    assert tool in listed
    schema = listed[tool].input_schema
    valid = draw(schema_strategy(bounded(schema)), VALID_EXAMPLES)
    assert valid, f"no arguments could be generated for {tool}"
    guarded = SPECS[tool].guarded
    problems: list[str] = []

    with anyio.fail_after(90):
        for args in valid:
            before = len(ledger())
            result = await call(client, tool, args)
            problems += problems_of(f"{tool}({args!r:.200})", result)
            if guarded:
                committed = mutations(ledger()[before:])
                if committed:
                    problems.append(f"{tool}({args!r:.200}): guarded tool committed {committed}")
                if isinstance(result, CallToolResult) and not result.is_error:
                    status = (result.structured_content or {}).get("status")
                    if status != "confirmation_required":
                        problems.append(f"{tool}: guarded tool answered {status!r} without a confirmation")

        base = valid[0]
        extra = await call(client, tool, {**base, "zz_unexpected": {"x": 1}})
        problems += problems_of(f"{tool} with an extra property", extra)

        for label, args in invalid_variants(schema, base):
            before = len(ledger())
            result = await call(client, tool, args)
            problems += problems_of(f"{tool} {label}", result)
            if isinstance(result, CallToolResult) and not result.is_error:
                problems.append(f"{tool} {label}: accepted ({args!r:.200})")
            if len(ledger()) != before:
                problems.append(f"{tool} {label}: invalid input reached the sandbox: {ledger()[before:]}")

        alive = await client.call_tool("list_instances", {})
    assert not alive.is_error, "the server stopped answering"
    assert not problems, "\n".join(problems[:20])
