"""The tool body's half of a call: act on the guard's decision with the bound plan, once.

- proceed: the write holds its workspace's write lock (guard/write_lock.py) from the last plan check
  through the request, so no other write of this server lands in between. The plan is rebuilt from
  live data under the lock when a person was asked during this very call (the pre-2026-07-28 form,
  which can take minutes) or when another write finished since it was built. Same digest -> send
  exactly the plan's requests. Different -> send nothing and ask again with what changed (or, if the
  person can no longer be asked, say so and let the model call again).
- an accepted 2026-07-28 answer is claimed in the shared store first (`Bound.answer`: one per question
  asked): whatever round carries it again, re-sent verbatim or after fresh asks, gets the first result
  back instead of a second send.
- pending / dry run / declined / replay: nothing is sent; the envelope says why.
The round's record (audit_step) learns the outcome here; its one audit line is written when the round ends.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from mcp.server.mcpserver import AcceptedElicitation, Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import BaseModel

from ..core.errors import MsgFlashError
from ..core.results import Reply, ToolOutput, render
from ..guard import ConfirmForm, Decision, can_elicit_form, digest
from ..guard.confirm import round_key
from ..guard.plan import Plan, changes
from ..guard.write_lock import WriteBusy
from ..observability import annotate
from ..registry import ToolInput, ToolSpec
from ..runtime import Runtime
from .audit_step import current_round
from .binding import Bound, binding_args, build_plan, requested_workspace
from .context import bind_call, connection_of, principal_of
from .era import modern_era
from .outcome import acted, api_failure, api_id, log, not_acted, unexpected_failure

# How many times a person is asked again when the plan keeps changing under one call.
MAX_REASKS = 2


def decision_of(answer: Any) -> Decision:
    if isinstance(answer, AcceptedElicitation):
        data: object = cast("AcceptedElicitation[BaseModel]", answer).data
        if isinstance(data, Decision):
            return data
        if isinstance(data, ConfirmForm) and data.confirm:
            return Decision("proceed", "elicited")
        return Decision("declined", "elicited", answer="unticked")
    return Decision("declined", "elicited", answer=str(getattr(answer, "action", "cancel")))


async def run_read(spec: ToolSpec, ctx: Context, args: ToolInput) -> CallToolResult:
    """A read (or server-only) tool: bind once, call, render. No resolver, no plan."""
    connection = connection_of(ctx)
    runtime = connection.runtime
    try:
        call = await bind_call(
            connection, spec, requested_workspace(args), principal_of(ctx, connection), ctx.report_progress
        )
        annotate(principal=call.principal, tool=spec.name, workspace=call.workspace_name,
                 role=call.role.value if call.role is not None else None)
        reply = await spec.fn(call, args)
    except MsgFlashError as exc:
        raise api_failure(exc, runtime.scrubber) from None
    except ToolError:
        raise
    except Exception as exc:
        raise unexpected_failure(spec, exc, runtime.scrubber, write_started=False) from None
    output = acted(reply, call.label, third_party=spec.third_party)
    return render(output, runtime.scrubber.data)


async def run_mutating(spec: ToolSpec, ctx: Context, bound: Bound, answer: Any) -> CallToolResult:
    """The body of a write: act on the guard's decision with the bound plan, at most once. Every outcome is
    told to the round's record (audit_step), which writes the one audit line when the round ends."""
    runtime = connection_of(ctx).runtime
    record = current_round()
    decision = decision_of(answer)
    if decision.kind == "proceed" and decision.plan is None and bound.plan is not None:
        decision = Decision("proceed", decision.path, bound.plan, token_hash=decision.token_hash)
    record.confirmation = decision.path
    claim = decision.token_hash
    if decision.kind == "proceed" and decision.path == "elicited" and bound.answer is not None:
        # 2026-07-28: the answer to this question acts once, on every replica
        record.failing = "error: refused"
        claim = bound.answer
        replay = await runtime.guard.claim_answer(
            spec.name, bound.answer, round_key(record.principal, spec.name, ctx.request_state, ctx.input_responses)
        )
        decision = replay or decision
        record.failing = "error: invalid"
    output: ToolOutput | None = None
    if decision.kind == "proceed":
        output, decision = await _write(spec, ctx, runtime, bound, decision)
    if output is None:
        output = not_acted(spec, decision, bound.call.label)
        record.finish(output.status)
        return render(output, runtime.scrubber.data)
    if claim:  # keep the result for replays of this token / accepted answer
        try:
            await runtime.guard.save_result(claim, output.model_dump(mode="json"))
        except Exception as exc:  # the action happened: a store hiccup must not turn it into an error
            log.error("%s: keeping the result for replays failed: %s", spec.name,
                      runtime.scrubber.text(f"{type(exc).__name__}: {exc}"))
    record.finish(output.status, api_id(output.data))
    return render(output, runtime.scrubber.data)


async def _write(
    spec: ToolSpec, ctx: Context, runtime: Runtime, bound: Bound, decision: Decision
) -> tuple[ToolOutput | None, Decision]:
    """Act on a `proceed`, holding the workspace's write lock from the last plan check through the write
    (guard/write_lock.py), so no other write of this server lands between them. (None, decision) when
    nothing was sent: the plan changed, and `decision` says what happens instead.

    Under the lock the plan is rebuilt from live data when a person confirmed it during this very call
    (the pre-2026-07-28 form, which can take minutes) or when another write finished since it was built.
    Same digest -> send exactly that plan. Different -> release the lock, then ask again or say what changed."""
    call = bound.call
    record = current_round()
    confirmed = decision.plan or bound.plan
    assert confirmed is not None
    legacy_form = decision.path == "elicited" and not modern_era(ctx)
    seen = None if legacy_form else bound.generation
    acting = False
    try:
        for _ in range(MAX_REASKS + 1):
            async with runtime.write_locks.hold(call.workspace_name, seen=seen) as held:
                fresh = await build_plan(call, bound.input, runtime.scrubber.text) if held.stale else confirmed
                if fresh.digest == confirmed.digest:
                    decision = replace(decision, plan=fresh)
                    acting = True
                    held.writing()
                    return await _act(spec, runtime, bound, fresh), decision
            seen = None if legacy_form else held.generation
            decision = await _changed(spec, ctx, runtime, bound, decision, confirmed, fresh, legacy_form)
            if decision.kind != "proceed":
                return None, decision
            confirmed = decision.plan or fresh
    except ToolError as exc:  # refused before anything left (policy, lock busy); `_act` keeps its own outcome
        if not acting:
            record.failing = "error: busy" if isinstance(exc, WriteBusy) else "error: refused"
        raise
    return None, Decision("pending", decision.path, confirmed, changes=["the plan kept changing while being confirmed"])


async def _changed(
    spec: ToolSpec, ctx: Context, runtime: Runtime, bound: Bound, decision: Decision, confirmed: Plan, fresh: Plan,
    legacy_form: bool,
) -> Decision:
    """What happens when the live plan differs from the one decided on (outside the lock: it may ask)."""
    runtime.guard.refuse_by_policy(fresh)
    lines = changes(confirmed.decisive(), fresh)
    args = binding_args(bound.args, bound.requested)
    if decision.path in ("none", "off"):  # nobody confirmed it: the guard decides on the new plan, never asking here
        again = await runtime.guard.decide(spec, False, fresh, args=args, principal=bound.call.principal,
                                           confirm_token=None)
        assert isinstance(again, Decision)
        return replace(again, changes=lines) if again.kind == "pending" else again
    if decision.path == "token":  # a new token for the new plan; the redeemed one is spent
        return await runtime.guard.mint(spec, fresh, digest(spec.name, args, "", bound.call.principal), lines)
    if not (legacy_form and can_elicit_form(ctx)):
        return Decision("pending", decision.path, fresh, changes=lines)
    answer = decision_of(await ctx.elicit(fresh.as_text(lines), ConfirmForm))
    if answer.kind != "proceed":
        return answer
    return Decision("proceed", "elicited", fresh)


async def _act(spec: ToolSpec, runtime: Runtime, bound: Bound, plan: Plan) -> ToolOutput:
    call = bound.call
    record = current_round()
    try:  # from here on a request that changes something may leave: an unforeseen failure is a doubt
        reply: Reply = await spec.fn(call.with_plan(plan), bound.input)
    except MsgFlashError as exc:
        record.failed_with(exc)
        raise api_failure(exc, runtime.scrubber) from None
    except ToolError:  # the tool refused its arguments (e.g. nothing to update): "error: invalid"
        raise
    except Exception as exc:
        record.failing = f"error: {type(exc).__name__}"
        raise unexpected_failure(spec, exc, runtime.scrubber, write_started=True) from None
    return acted(reply, call.label, third_party=spec.third_party)


__all__ = ["decision_of", "run_mutating", "run_read"]
