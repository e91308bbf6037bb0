"""The review card as a confirmation channel, between the guard's two others (form and token).

For a client that renders MCP Apps, a call the model makes that needs a confirmation (a guarded send,
delete or admin change, and a confirmable edit whose plan asks: server/registry.py) returns `confirmation_required` with
the plan, rendered by `ui://msgflash/review`; its single-use token travels only in the result's `_meta`
(which hosts hand to the view, not to the model), so only a person's click on Approve can redeem it.
Approve calls the app-only tool `app_approve`, which repeats the exact call with the token through the
ordinary guarded path: the guard re-checks the token's binding and the plan digest, exactly as for a
token the model would send. A changed plan comes back as a new card, with what changed.

Never a dead end. The same guarded call made again with identical arguments (the card was not seen, the
host cannot relay the card's click, or the person would rather confirm in the conversation) asks in a form
when the client can show one, else takes the plain token path: the model gets the token, to use only after
the person agreed in the conversation. A card whose confirmation went stale (expired, or the server
restarted) re-plans through `app_refresh` or `app_approve` (extension.py) into a fresh card.
Clients without Apps never reach this module: their tools and results are those of the plain server.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from mcp.server.apps import client_supports_apps
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import CallToolRequestParams, CallToolResult

from ..canonical import canonical_json
from ..core.results import ToolOutput, render
from ..wire import json_object

CONFIRM_META = "io.msgflash/confirm"  # result `_meta` key of the card's confirmation (token, tool, arguments)
SHOWN_LIMIT = 512  # cards remembered for the form fallback (per server process, oldest forgotten first)


def on_card(ctx: ServerRequestContext[Any, Any]) -> ServerRequestContext[Any, Any]:
    """`ctx` with its connection telling the guard it confirms through the card (`Connection.channel`): the
    guard then takes its token path (the card) instead of asking in a form, whatever the client can show."""
    return replace(ctx, lifespan_context=replace(ctx.lifespan_context, channel="card"))


def can_show_form(ctx: ServerRequestContext[Any, Any]) -> bool:
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.elicitation is not None)


def call_key(ctx: ServerRequestContext[Any, Any], tool: str, arguments: dict[str, Any]) -> str:
    """One guarded call of one connection: the tool and its canonical arguments."""
    connection = getattr(ctx.lifespan_context, "connection_id", None) or str(id(ctx.session))
    return hashlib.sha256("\x1f".join([connection, tool, canonical_json(arguments)]).encode()).hexdigest()


class ShownCards:
    """Which guarded calls already got a card, so that the same call again falls back to the form."""

    def __init__(self, limit: int = SHOWN_LIMIT) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def add(self, key: str) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self._limit:
            self._keys.popitem(last=False)

    def take(self, key: str) -> bool:
        """True (and forget it) when this call already got a card."""
        if key not in self._keys:
            return False
        del self._keys[key]
        return True


def as_card(
    result: Any, tool: str, arguments: dict[str, Any], *, effect: str, form_fallback: bool, note: str | None = None
) -> Any:
    """A `confirmation_required` result with its token moved out of what the model reads, into `_meta`.

    `effect` (send, delete, admin) tells the card how to dress Approve: a delete is not a green send.
    `note`: why the person sees this card again (the card shows it above the plan)."""
    content = json_object(result.structured_content) if isinstance(result, CallToolResult) else None
    if content is None:
        return result
    structured = dict(content)
    token: object = structured.pop("confirm_token", None)
    if structured.get("status") != "confirmation_required" or not isinstance(token, str):
        return result
    action = (json_object(structured.get("preview")) or {}).get("action") or tool
    again = f"calling {tool} again with identical arguments"
    other_way = f"{again} asks them in a form" if form_fallback else (
        f"{again} returns a confirm_token, to use only after they agree in the conversation"
    )
    structured["summary"] = (
        f"Shown to the user as a review card, nothing was done yet: {action}. The user approves or cancels in the "
        f"card; wait for their decision. If they say the card cannot confirm, or want to confirm here, {other_way}."
    )
    if note:
        structured["note"] = note
    card = render(ToolOutput.model_validate(structured))
    arguments = {k: v for k, v in arguments.items() if k != "confirm_token"}
    confirmation = {"token": token, "tool": tool, "arguments": arguments, "effect": effect}
    card.meta = {**(result.meta or {}), CONFIRM_META: confirmation}
    return card


async def intercept(
    params: CallToolRequestParams,
    ctx: ServerRequestContext[Any, Any],
    call_next: CallNext,
    *,
    guarded: Mapping[str, str],
    shown: ShownCards,
) -> HandlerResult:
    """The `tools/call` interceptor: guarded calls of Apps clients get the card; every other call passes through."""
    if params.name not in guarded or not client_supports_apps(ctx):
        return await call_next(ctx)
    arguments = dict(params.arguments or {})
    # A token the model holds (another channel gave it) or a modern-era continuation round: the guard decides alone.
    continuation = bool(params.input_responses or params.request_state)
    if arguments.get("confirm_token") or continuation:
        return await call_next(ctx)
    form = can_show_form(ctx)
    key = call_key(ctx, params.name, arguments)
    if shown.take(key):
        return await call_next(ctx)  # the same call again: the form, or the token for the conversation
    result = await call_next(on_card(ctx))
    card = as_card(result, params.name, arguments, effect=guarded[params.name], form_fallback=form)
    if card is not result:
        shown.add(key)
    return card
