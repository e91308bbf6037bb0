"""Turns a `ToolSpec` into an MCP tool: its argument model, its schema and the wiring of its call path.

Path of a call: the arguments, validated by the SDK with the tool's argument model before anything
runs (`arguments_model`: the declared `ToolInput` plus `workspace` / `confirm_token`) -> `binding.bind`
(the one CallContext and, for mutating tools, the frozen Plan) -> `binding.confirm` (the guard; a
`Resolve` dependency on `bind`, so elicitation works on both protocol eras) -> `execution`
(re-check, act exactly once, outcome) -> `results.render` (sanitised, scrubbed `ToolOutput`). The whole
round of a write, resolvers included, runs inside `audit_step.audited_round` (`AuditedTool`): one line per
round, whatever happens. Read tools skip the resolvers: they bind once in the body.

Every tool runs one of two shared call paths, `read` or `write`, made into an SDK tool once
(`Tool.from_function`) and copied per tool with its name, description, annotations and arguments model:
so no function signature is generated, and the resolvers are analysed once, not per tool. Annotations are
evaluated where the functions are defined (no postponed annotations in this module), as the SDK reads them.
"""

from collections.abc import Iterable
from functools import cache
from typing import Annotated, Any, cast

from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import CallToolResult, InputRequiredResult
from pydantic import Field, create_model

from ..guard import ConfirmForm
from ..registry import ToolInput, ToolSpec, spec_of
from .audit_step import audited_round
from .binding import Bound, bind, confirm
from .compaction import compact_schema
from .context import bind_route, connection_of, principal_of
from .execution import run_mutating, run_read
from .principal import caller_of
from .published import schemas
from .validation import ReadableArgumentsTool

# Undescribed on purpose: server instructions say once what it means (app.instructions), instead of
# ~350 tokens of the same words on every tool (bench/footprint.py).
WorkspaceArg = Annotated[str | None, Field()]
# Also described once: in the instructions and in the confirmation_required answer that hands it out.
ConfirmTokenArg = Annotated[str | None, Field()]


# A built tool is a pure function of its spec, and the runtime reaches each call through the MCP context.
# So a process builds each tool once, and every later server (tests build hundreds; embedders and HTTP
# replicas rebuild per configuration) reuses it. Keyed by identity: a spec made anew is built anew.
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

    Always a subclass made here: it names its tool (`registry.spec_of`), and the declared model's docstring
    (for readers of the code) never becomes a schema description the model pays for."""
    extra: dict[str, Any] = {}
    if spec.workspace_scoped:
        extra["workspace"] = (WorkspaceArg, None)
    if spec.takes_token:
        extra["confirm_token"] = (ConfirmTokenArg, None)
    model = create_model(f"{spec.name}_arguments", __base__=spec.input, **extra)
    model.tool_spec = spec
    return model


# The two call paths every tool shares; `args` is the tool's validated arguments model, which names the tool.


async def read(ctx: Context, args: Any) -> CallToolResult:
    return await run_read(spec_of(args), ctx, args)


async def write(
    ctx: Context,
    args: Any,
    bound: Annotated[Bound, Resolve(bind)],
    decision: Annotated[ElicitationResult[ConfirmForm], Resolve(confirm)],
) -> CallToolResult:
    return await run_mutating(bound.call.spec, ctx, bound, decision)


class AuditedTool(ReadableArgumentsTool):
    """The write path's SDK tool: the whole round (resolvers and body) is one audited step (audit_step)."""

    async def run(self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False) -> Any:
        spec = cast(type[ToolInput], self.fn_metadata.arg_model).tool_spec  # set by `arguments_model`
        assert spec is not None
        connection = connection_of(context)
        async with audited_round(connection.runtime, spec, caller_of(context, connection)) as record:
            result = await super().run(arguments, context, convert_result)
            record.asking = isinstance(result, InputRequiredResult)  # a question: the answering round records
            return result


@cache
def _shared(mutating: bool) -> Tool:
    """The SDK's tool for one of the two call paths (its context parameter and resolvers), made once."""
    if mutating:
        return AuditedTool.from_function(write, structured_output=False)
    return ReadableArgumentsTool.from_function(read, structured_output=False)


def _build_tool(spec: ToolSpec) -> Tool:
    """The shared call path under the tool's name, description and annotations, with its own arguments model:
    the SDK validates a call's arguments with `fn_metadata.arg_model` and hands the instance on as `args`
    (ToolInput.model_dump_one_level)."""
    model = arguments_model(spec)
    # Published, not generated here (server/call/published.py): the model, built by the first call, validates.
    # Each tool declares the schema of its own data, or none (server/output_schemas.py).
    input_schema, output_schema = schemas(spec, model)
    return _shared(spec.effect.mutating).model_copy(
        update={
            "name": spec.name,
            "title": spec.title,
            "description": spec.description,
            "annotations": spec.annotations(),
            "parameters": input_schema,
            "fn_metadata": FuncMetadata(arg_model=model, output_schema=output_schema),
        }
    )


__all__ = ["arguments_model", "bind_route", "build_tool", "build_tools", "compact_schema", "connection_of",
           "principal_of"]
