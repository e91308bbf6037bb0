"""`MsgflashApps`: the MCP Apps extension of this server (views, app-only tools, the card channel).

Passed to `MCPServer(extensions=[...])` by `build_server`; `stamp_views` marks the model-facing tools that
have a view, and `hide_from_plain_clients` (visibility.py) keeps all of it out of sight of clients that did
not negotiate Apps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from mcp.server.apps import Apps, Visibility, client_supports_apps
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools.base import Tool
from mcp.types import CallToolRequestParams, CallToolResult, ToolAnnotations
from pydantic import Field

from ..call.card_decision import cancel_card, check_card_token
from ..core.results import render
from ..guard import StaleToken
from ..registry import ToolSpec
from .card import ShownCards, as_card, call_key, intercept, on_card
from .views import LEGACY_URI_KEY, REVIEW, VIEWS, view_meta, view_of, view_resource

ToolName = Annotated[str, Field(description="The guarded tool the card shows")]
Arguments = Annotated[dict[str, Any], Field(description="Its arguments, exactly as previewed")]
Token = Annotated[str, Field(description="The card's confirmation")]

APP_ONLY: list[Visibility] = ["app"]  # `_meta.ui.visibility`: hosts never offer these tools to the model


def stamp_views(tools: Iterable[Tool], specs: Iterable[ToolSpec]) -> list[Tool]:
    """The tools with the view's URI in `_meta` (both keys, `view_meta`) on those that have a view (`view_of`
    their spec): every tool a person may have to confirm (the card) and the reports. Stamped on copies: built tools are shared by
    every server of the process."""
    views = {spec.name: view_of(spec) for spec in specs}
    stamped: list[Tool] = []
    for tool in tools:
        uri = views.get(tool.name)
        if uri is not None:
            tool = tool.model_copy(update={"meta": {**(tool.meta or {}), **view_meta(uri)}})
        stamped.append(tool)
    return stamped


class MsgflashApps(Apps):
    def __init__(self, confirmable: Mapping[str, ToolSpec]) -> None:
        """`confirmable`: each tool whose call may need a person's confirmation (guarded sends, deletes and admin
        changes, and the edits whose plan may ask: `ToolSpec.takes_token`). On an Apps host every one of those
        confirmations goes through the card, edits included: no token reaches the model first."""
        super().__init__()
        self.specs = confirmable
        # Each with its effect (send, delete, admin, write): the card dresses Approve by it.
        self.guarded = {name: spec.effect.value for name, spec in confirmable.items()}
        self.shown = ShownCards()
        for view in VIEWS:
            self.add_resource(view_resource(view))
        if confirmable:  # a read-only configuration has nothing to approve
            self._register_decisions()

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        return await intercept(params, ctx, call_next, guarded=self.guarded, shown=self.shown)

    def check(self, ctx: Context, tool: str) -> ToolSpec:
        if not client_supports_apps(ctx):
            raise ToolError("this tool belongs to the review card of MCP Apps hosts")
        spec = self.specs.get(tool)
        if spec is None:
            raise ToolError(f"{tool!r} is not a tool that needs confirmation here")
        return spec

    async def replan(self, ctx: Context, tool: str, arguments: dict[str, Any], note: str | None = None) -> CallToolResult:
        """The guarded call planned afresh on the token path (never a form: the card is where the person is),
        as a new card. Sends nothing: the new card needs its own Approve."""
        inner = Context(request_context=on_card(ctx.request_context), mcp_server=ctx.mcp_server,
                        input_params=CallToolRequestParams(name=tool, arguments=arguments))
        result = await ctx.mcp_server.call_tool(tool, arguments, inner)
        if not isinstance(result, CallToolResult):
            raise ToolError("this action needs another answer; nothing was sent. Ask the assistant for a new preview")
        card = as_card(result, tool, arguments, effect=self.guarded[tool], form_fallback=False, note=note)
        if card is not result:  # the model's identical call now takes the conversation's path, as after any card
            self.shown.add(call_key(ctx.request_context, tool, arguments))
        return card

    def _register_decisions(self) -> None:
        annotations = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True,
                                      open_world_hint=True)
        legacy = {LEGACY_URI_KEY: REVIEW}  # Apps.tool writes `_meta.ui`; the older hosts' key beside it

        @self.tool(resource_uri=REVIEW, visibility=APP_ONLY, meta=legacy, name="app_approve",
                   title="Approve (review card)", annotations=annotations,
                   description="The person approved the review card: run the previewed call with its confirmation.")
        async def app_approve(tool: ToolName, arguments: Arguments, confirm_token: Token, ctx: Context) -> CallToolResult:
            spec = self.check(ctx, tool)
            try:
                # The token first, as the guard checks it: a gone one re-plans into a fresh card, a foreign one is
                # refused; neither reaches the call (nor its audit line).
                await check_card_token(ctx, spec, arguments, confirm_token)
                call = {**arguments, "confirm_token": confirm_token}
                # The ordinary guarded path, as if the model had sent the token: binding, digest and single use
                # are the guard's, again, at the moment of acting.
                inner = Context(request_context=ctx.request_context, mcp_server=ctx.mcp_server,
                                input_params=CallToolRequestParams(name=tool, arguments=call))
                result = await ctx.mcp_server.call_tool(tool, call, inner)
            except ToolError as exc:
                if not stale(exc):
                    raise
                return await self.replan(ctx, tool, arguments, STALE_NOTE)
            if not isinstance(result, CallToolResult):
                raise ToolError("this action needs another answer; nothing was sent. Ask the assistant for a new preview")
            return as_card(result, tool, arguments, effect=self.guarded[tool], form_fallback=False)  # a changed plan

        @self.tool(resource_uri=REVIEW, visibility=APP_ONLY, meta=legacy, name="app_refresh",
                   title="Review again (review card)", annotations=READ_ONLY,
                   description="The card has no usable confirmation: plan the same call again as a new card. Sends nothing.")
        async def app_refresh(tool: ToolName, arguments: Arguments, ctx: Context) -> CallToolResult:
            self.check(ctx, tool)
            return await self.replan(ctx, tool, {k: v for k, v in arguments.items() if k != "confirm_token"})

        @self.tool(resource_uri=REVIEW, visibility=APP_ONLY, meta=legacy, name="app_cancel",
                   title="Cancel (review card)",
                   annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True,
                                               open_world_hint=False),
                   description="The person cancelled the review card: nothing is sent; the decision is audited.")
        async def app_cancel(tool: ToolName, arguments: Arguments, confirm_token: Token, ctx: Context) -> CallToolResult:
            # Checked like Approve's (a token that does not exist is refused, and leaves no audit line), then
            # used up: the card's Approve can no longer act on it.
            return render(await cancel_card(ctx, self.check(ctx, tool), arguments, confirm_token))


STALE_NOTE = ("The earlier confirmation had expired (or the server restarted), so nothing was sent. This is the plan "
              "as it stands now: check it and approve again.")
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)


def stale(exc: BaseException) -> bool:
    """The guard found the token gone (anywhere in the chain of causes the SDK's wrapping keeps)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, StaleToken):
            return True
        seen = seen.__cause__
    return False

