"""Turns a `ToolSpec` into an MCP tool: the model-facing signature and the wiring of its call path.

Path of a call: typed arguments (validated by the SDK before anything runs) -> `binding.bind`
(the one CallContext and, for mutating tools, the frozen Plan) -> `binding.confirm` (the guard; a
`Resolve` dependency on `bind`, so elicitation works on both protocol eras) -> `execution`
(re-check, act exactly once, outcome) -> `results.render` (sanitised, scrubbed `ToolOutput`) ->
`audit_step`. Read tools skip the resolvers: they bind once in the body.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from mcp.server.mcpserver.tools.base import Tool
from mcp.types import CallToolResult
from pydantic import Field

from ..guard import ConfirmForm
from ..output_schemas import output_schema_for
from ..registry import ToolSpec
from .binding import Bound, make_bind, make_confirm
from .context import bind_route, connection_of, principal_of
from .execution import run_mutating, run_read
from .tool_cache import SchemaCache, deferred_tool, process_cache
from .validation import ReadableArgumentsTool

KW = inspect.Parameter.KEYWORD_ONLY

# Undescribed on purpose: server instructions say once what it means (app.instructions), instead of
# ~350 tokens of the same words on every tool (bench/footprint.py).
WorkspaceArg = Annotated[str | None, Field()]
# Also described once: in the instructions and in the confirmation_required answer that hands it out.
ConfirmTokenArg = Annotated[str | None, Field()]


# A built tool is a pure function of its spec: its closures hold the spec, and the runtime reaches each
# call through the MCP context. So a process builds each tool once, and every later server (tests build
# hundreds; embedders and HTTP replicas rebuild per configuration) reuses it instead of generating ~60
# pydantic argument models and schemas again. Keyed by identity: a spec made anew is built anew.
_built: dict[int, tuple[ToolSpec, Tool]] = {}


def build_tools(specs: Iterable[ToolSpec], cache: SchemaCache | None = None) -> list[Tool]:
    """The MCP tools of `specs`; a fresh process lists them from the schema cache (server/call/tool_cache.py)."""
    cache = cache if cache is not None else process_cache()
    tools = [build_tool(spec, cache) for spec in specs]
    cache.save()
    return tools


def build_tool(spec: ToolSpec, cache: SchemaCache | None = None) -> Tool:
    """The MCP tool of `spec` (built on first use, then shared: tools carry no per-server state)."""
    hit = _built.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    tool = _build_tool(spec, cache)
    _built[id(spec)] = (spec, tool)
    return tool


def _build_tool(spec: ToolSpec, cache: SchemaCache | None) -> Tool:
    own = [param.replace(kind=KW) for param in spec.parameters()]
    extra: list[inspect.Parameter] = []
    if spec.workspace_scoped:
        extra.append(inspect.Parameter("workspace", KW, default=None, annotation=WorkspaceArg))
    if spec.takes_token:
        extra.append(inspect.Parameter("confirm_token", KW, default=None, annotation=ConfirmTokenArg))
    model_params = own + extra
    arg_names = [param.name for param in model_params]
    params = [*model_params, inspect.Parameter("ctx", KW, annotation=Context)]

    if spec.effect.mutating:
        bind = make_bind(spec, arg_names)
        confirm = make_confirm(spec, bind)

        async def call(**kwargs: Any) -> CallToolResult:
            return await run_mutating(spec, kwargs["ctx"], kwargs["bound"], kwargs["decision"])

        params.append(inspect.Parameter("bound", KW, annotation=Annotated[Bound, Resolve(bind)]))
        params.append(
            inspect.Parameter("decision", KW, annotation=Annotated[ElicitationResult[ConfirmForm], Resolve(confirm)])
        )
    else:

        async def call(**kwargs: Any) -> CallToolResult:
            ctx: Context = kwargs.pop("ctx")
            return await run_read(spec, ctx, kwargs)

    returns = CallToolResult
    call.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    call.__annotations__ = {param.name: param.annotation for param in params} | {"return": returns}
    call.__name__ = call.__qualname__ = spec.name
    call.__module__ = spec.fn.__module__

    cached = cache.lookup(spec) if cache is not None else None
    if cached is not None:
        return deferred_tool(call, cached, name=spec.name, title=spec.title, description=spec.description,
                             annotations=spec.annotations())
    tool = ReadableArgumentsTool.from_function(call, name=spec.name, title=spec.title, description=spec.description,
                              annotations=spec.annotations())
    tool.parameters = compact_schema(tool.parameters)
    # Each tool declares the schema of its own data, or none (server/output_schemas.py).
    tool.fn_metadata.output_schema = output_schema_for(spec.output)
    if cache is not None:
        cache.store(spec, tool)
    return tool


__all__ = ["bind_route", "build_tool", "build_tools", "compact_schema", "connection_of", "principal_of"]


def compact_schema(schema: Any) -> Any:
    """What the model reads, lean: the model context is a budget (bench/footprint.py, <= 6,000 tokens).

    Drops pydantic's auto titles, null defaults and `X | None` null branches (optional parameters are
    already marked by their absence from `required`; a top-level anyOf some providers reject), and
    the trivial `minLength: 1` / `minItems: 1` (no model sends an empty name or an empty id list, and
    pydantic still enforces them before anything runs). `type` comes first: the same keywords in
    that order tokenize shorter.
    """
    if isinstance(schema, dict):
        out: dict[str, Any] = {}
        for key, value in schema.items():  # type: ignore[misc]
            if key == "title" and isinstance(value, str):
                continue
            if key == "default" and value is None:
                continue
            if key in ("minLength", "minItems") and value == 1:
                continue
            out[key] = compact_schema(value) if key != "properties" else {
                name: compact_schema(prop) for name, prop in value.items()  # type: ignore[misc]
            }
        any_of = out.get("anyOf")
        if isinstance(any_of, list):
            branches = [b for b in any_of if b != {"type": "null"}]  # type: ignore[misc]
            if len(branches) == 1 and len(branches) < len(any_of):  # type: ignore[misc]
                del out["anyOf"]
                out = {**branches[0], **out}
        if "type" in out:
            out = {"type": out.pop("type"), **out}
        return out
    if isinstance(schema, list):
        return [compact_schema(item) for item in schema]  # type: ignore[misc]
    return schema
