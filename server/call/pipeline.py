"""Turns a `ToolSpec` into an MCP tool: its argument model, its schema and the wiring of its call path.

Path of a call: the arguments, validated by the SDK with the tool's argument model before anything
runs (`arguments_model`: the declared `ToolInput` plus `workspace` / `confirm_token`) -> `binding.bind`
(the one CallContext and, for mutating tools, the frozen Plan) -> `binding.confirm` (the guard; a
`Resolve` dependency on `bind`, so elicitation works on both protocol eras) -> `execution`
(re-check, act exactly once, outcome) -> `results.render` (sanitised, scrubbed `ToolOutput`) ->
`audit_step`. Read tools skip the resolvers: they bind once in the body.

Annotations are evaluated where the functions are defined (no postponed annotations in this module):
the tool functions name their own resolvers in `Resolve(...)`.
"""

from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import CallToolResult
from pydantic import Field, create_model

from ..guard import ConfirmForm
from ..output_schemas import output_schema_for
from ..registry import ToolInput, ToolSpec
from .binding import Bound, make_resolvers
from .context import bind_route, connection_of, principal_of
from .execution import run_mutating, run_read
from .validation import ReadableArgumentsTool

# Undescribed on purpose: server instructions say once what it means (app.instructions), instead of
# ~350 tokens of the same words on every tool (bench/footprint.py).
WorkspaceArg = Annotated[str | None, Field()]
# Also described once: in the instructions and in the confirmation_required answer that hands it out.
ConfirmTokenArg = Annotated[str | None, Field()]


# A built tool is a pure function of its spec: its closures hold the spec, and the runtime reaches each
# call through the MCP context. So a process builds each tool once, and every later server (tests build
# hundreds; embedders and HTTP replicas rebuild per configuration) reuses it. Keyed by identity: a spec
# made anew is built anew.
_built: dict[int, tuple[ToolSpec, Tool]] = {}


def build_tools(specs: Iterable[ToolSpec]) -> list[Tool]:
    return [build_tool(spec) for spec in specs]


def build_tool(spec: ToolSpec) -> Tool:
    """The MCP tool of `spec` (built on first use, then shared: tools carry no per-server state)."""
    hit = _built.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    tool = _build_tool(spec)
    _built[id(spec)] = (spec, tool)
    return tool


def arguments_model(spec: ToolSpec) -> type[ToolInput]:
    """What the model may send: the tool's own arguments, then the pipeline's `workspace` and `confirm_token`.

    Always a subclass made here, so the declared model's docstring (for readers of the code) never becomes
    a schema description the model pays for."""
    extra: dict[str, Any] = {}
    if spec.workspace_scoped:
        extra["workspace"] = (WorkspaceArg, None)
    if spec.takes_token:
        extra["confirm_token"] = (ConfirmTokenArg, None)
    return create_model(f"{spec.name}_arguments", __base__=spec.input, **extra)


def tool_function(spec: ToolSpec) -> Callable[..., Awaitable[CallToolResult]]:
    """What the SDK calls: `args` (the validated model) and, for a write, the resolvers' binding and decision."""
    if spec.effect.mutating:
        bind, confirm = make_resolvers(spec)

        async def write(
            ctx: Context,
            args: ToolInput,
            bound: Annotated[Bound, Resolve(bind)],
            decision: Annotated[ElicitationResult[ConfirmForm], Resolve(confirm)],
        ) -> CallToolResult:
            return await run_mutating(spec, ctx, bound, decision)

        return write

    async def read(ctx: Context, args: ToolInput) -> CallToolResult:
        return await run_read(spec, ctx, args)

    return read


def _build_tool(spec: ToolSpec) -> Tool:
    call = tool_function(spec)
    call.__name__ = call.__qualname__ = spec.name
    tool = ReadableArgumentsTool.from_function(call, name=spec.name, title=spec.title, description=spec.description,
                                               annotations=spec.annotations(), structured_output=False)
    # The SDK validates the arguments with the tool's own model and passes the instance on as `args`
    # (ToolInput.model_dump_one_level); what `from_function` made of the bare `args` parameter is replaced.
    model = arguments_model(spec)
    tool.fn_metadata = FuncMetadata(arg_model=model, output_schema=output_schema_for(spec.output))
    tool.parameters = compact_schema(model.model_json_schema(by_alias=True))
    return tool


__all__ = ["arguments_model", "bind_route", "build_tool", "build_tools", "compact_schema", "connection_of",
           "principal_of"]


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
