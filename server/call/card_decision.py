"""The review card's decisions on the confirmation it holds (server/apps: `app_approve`, `app_cancel`).

Both check the token first, exactly as the guard checks one the model sends (it exists, it was issued for
this tool, these arguments and this caller, it has not expired), so a card's decision is never taken on a
token that does not exist, and nothing is audited for one:
- `check_card_token`: before Approve repeats the call through the ordinary guarded path;
- `cancel_card`: the person declined; the token is used up (a later Approve of the same card replays the
  decline instead of acting) and the decision is the round's one audit line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from ..core.results import ToolOutput
from ..guard import Decision
from ..guard.confirm import Presented
from ..registry import ToolSpec
from .audit_step import audited_round
from .binding import binding_args, own_args, requested_workspace
from .context import connection_of
from .outcome import not_acted
from .pipeline import build_tool
from .principal import Caller, caller_of
from .validation import readable_validation_error


@dataclass(frozen=True)
class CardCall:
    """The call a card stands for, as the guard binds it."""

    caller: Caller
    own: dict[str, Any]  # the tool's own arguments, validated (what the audit records)
    binding: dict[str, Any]  # what the token is bound to besides the plan


def card_call(ctx: Context, spec: ToolSpec, arguments: dict[str, Any]) -> CardCall:
    """`arguments` validated by the tool's own argument model (a ToolError names what is wrong)."""
    tool = build_tool(spec)
    try:
        args = tool.fn_metadata.arg_model.model_validate({k: v for k, v in arguments.items() if k != "confirm_token"})
    except ValidationError as exc:
        raise ToolError(readable_validation_error(spec.name, exc, tool.parameters)) from None
    own = own_args(spec, args)  # pyright: ignore[reportArgumentType]  # the built tool's model is a ToolInput
    return CardCall(
        caller_of(ctx, connection_of(ctx)),
        own,
        binding_args(own, requested_workspace(args)),  # pyright: ignore[reportArgumentType]
    )


async def check_card_token(ctx: Context, spec: ToolSpec, arguments: dict[str, Any], token: str) -> Presented | Decision:
    """The card's token for this call: `Presented` (usable), a replay Decision (already used), or the guard's
    refusal (StaleToken when it is gone, a ToolError when it belongs to another call or caller)."""
    call = card_call(ctx, spec, arguments)
    return await connection_of(ctx).runtime.guard.check_token(spec, token, call.binding, call.caller.principal)


async def cancel_card(ctx: Context, spec: ToolSpec, arguments: dict[str, Any], token: str) -> ToolOutput:
    """The person cancelled the card: the token is checked and used up, then the decision is audited once."""
    runtime = connection_of(ctx).runtime
    call = card_call(ctx, spec, arguments)
    guard = runtime.guard
    cancelled = await guard.cancel(spec, token, call.binding, call.caller.principal)  # refusals: no audit line
    async with audited_round(runtime, spec, call.caller) as record:
        record.bound(call.own, "card")
        if isinstance(cancelled, Decision):  # already used (approved, or cancelled before): that answer stands
            output = not_acted(spec, cancelled, None)
        else:
            output = not_acted(spec, Decision("declined", "card", answer="card"), None)
            await guard.save_result(cancelled.token_hash, output.model_dump(mode="json"))
        record.finish(output.status)
    return output
