"""The two resolvers of a mutating tool call, wired as the SDK's resolver DAG.

    bind(ctx, args)                          -> Bound  (pure: no elicitation; the CallContext + Plan)
    confirm(ctx, args, bound=Resolve(bind))  -> Decision | Elicit[ConfirmForm]
    tool body(ctx, args, bound=Resolve(bind), decision=Resolve(confirm))

`args` is the tool's validated argument model, the one instance the SDK hands every consumer by
name. The SDK runs a resolver once per call round and hands the same object to every consumer
(`resolve.py`'s `_resolve` cache), so the guard decides on, and the body executes, the very plan and
binding made here. On the 2026-07-28 era resolvers re-run on every round; the elicitation text
carries the workspace and the plan digest, so a plan or workspace that changed between rounds is a
different question and the SDK asks again instead of accepting the old answer.

Both serve every mutating tool: `args` is an instance of the tool's own argument model, which names its
tool (`registry.spec_of`). Annotations are evaluated where the resolvers are defined (no postponed
annotations in this module), as the SDK reads them.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError

from ..errors import MsgFlashError
from ..guard import ConfirmForm, Decision
from ..guard.confirm import question_key, round_key
from ..guard.plan import Plan
from ..registry import ToolInput, ToolSpec, spec_of
from .audit_step import audit, audit_call
from .context import CallContext, bind_call, connection_of, principal_of
from .era import modern_era
from .outcome import error_name


@dataclass(frozen=True)
class Bound:
    """One call round's binding and, for mutating tools, its plan."""

    call: CallContext
    args: Mapping[str, Any]  # the tool's own validated arguments (no workspace / confirm_token), for the audit
    requested: str | None  # the `workspace` argument as given (part of what a token is bound to)
    input: ToolInput  # the validated arguments the planner read
    plan: Plan | None  # None only when `replay` is set
    replay: Decision | None = None  # a token already used by this caller for these arguments: its result
    # The workspace's write count when planning began (guard/write_lock.py): the write rebuilds its plan
    # under the lock only if another write finished since. None: always rebuild.
    generation: int | None = None


def own_args(spec: ToolSpec, args: ToolInput) -> dict[str, Any]:
    """The tool's own arguments (its declared model's fields, not the pipeline's workspace / confirm_token)."""
    return {name: getattr(args, name) for name in spec.input.model_fields}


def requested_workspace(args: ToolInput) -> str | None:
    """The `workspace` argument as given (a field only workspace-scoped tools have: server/call/pipeline.py)."""
    return getattr(args, "workspace", None)


def confirm_token(args: ToolInput) -> str | None:
    """The `confirm_token` argument (a field only tools that take one have)."""
    return getattr(args, "confirm_token", None)


def binding_args(args: Mapping[str, Any], requested: str | None) -> dict[str, Any]:
    """What a token binds besides the plan: the arguments as the model wrote them, workspace included."""
    return {**args, "workspace": requested}


async def build_plan(call: CallContext, input: ToolInput, scrub: Callable[[str], str]) -> Plan:
    """The plan of this call from live data (no write). Used by `bind` and again just before a write."""
    planner = call.spec.planner
    assert planner is not None  # every mutating tool has one (registry.Toolset.tool)
    try:
        return await planner(call, input)
    except MsgFlashError as exc:
        raise ToolError("could not compute what this would do, nothing was sent: " + scrub(exc.for_model())) from None


async def bind(ctx: Context, args: ToolInput) -> Bound:
    """The call's binding and plan (no elicitation). Its tool is the one whose argument model `args` is."""
    spec = spec_of(args)
    connection = connection_of(ctx)
    runtime = connection.runtime
    principal = principal_of(ctx, connection)
    own = own_args(spec, args)
    requested = requested_workspace(args)
    token = confirm_token(args)
    path = "dry-run" if runtime.settings.dry_run else ("token" if token else "none")
    call: CallContext | None = None
    outcome = "error: invalid"
    try:
        call = await bind_call(connection, spec, requested, principal, ctx.report_progress)
        # A token is checked before planning: refusals cost no API call, and a used one returns its first
        # result without re-planning (the object it acted on may be gone by now).
        if token and not runtime.settings.dry_run:
            outcome = "error: refused"
            replay = await runtime.guard.check_token(spec, token, binding_args(own, requested), principal)
            if replay is not None:
                return Bound(call=call, args=own, requested=requested, input=args, plan=None, replay=replay)
            outcome = "error: invalid"
        if ctx.input_responses and not runtime.settings.dry_run:  # a 2026-07-28 round answering a question
            key = round_key(principal, spec.name, ctx.request_state, ctx.input_responses)
            replay = await runtime.guard.round_replay(key)
            if replay is not None:
                return Bound(call=call, args=own, requested=requested, input=args, plan=None, replay=replay)
        generation = await runtime.write_locks.generation(call.workspace_name)
        plan = await build_plan(call, args, runtime.scrubber.text)
    except (MsgFlashError, ToolError) as exc:
        # A call refused here never reaches the tool body: audit it now (every mutating call is one line).
        if isinstance(exc, MsgFlashError):
            outcome = f"error: {error_name(exc)}"
        await audit(runtime, spec, workspace=call.workspace_name if call else None, args=own,
                    confirmation=path, outcome=outcome, principal=principal)
        if isinstance(exc, MsgFlashError):
            raise ToolError(runtime.scrubber.text(exc.for_model())) from None
        raise
    return Bound(call=call, args=own, requested=requested, input=args, plan=plan, generation=generation)


async def confirm(ctx: Context, args: ToolInput, bound: Annotated[Bound, Resolve(bind)]) -> Decision | Elicit[ConfirmForm]:
    """The guard's decision on the bound plan (may ask the person)."""
    call = bound.call
    spec = call.spec
    runtime = connection_of(ctx).runtime
    if bound.replay is not None:
        return bound.replay
    assert bound.plan is not None
    token = confirm_token(args)
    try:
        decision = await runtime.guard.decide(
            spec, ctx, bound.plan, args=binding_args(bound.args, bound.requested), principal=call.principal,
            confirm_token=token,
        )
        if isinstance(decision, Elicit) and not ctx.input_responses and modern_era(ctx):
            await runtime.guard.new_question(question_key(call.principal, spec.name, decision.message))
        return decision
    except ToolError:
        # Refused by the guard (policy, bad/expired/foreign token): audited, then surfaced.
        path = "dry-run" if runtime.settings.dry_run else ("token" if token else "none")
        await audit_call(runtime, call, bound.args, confirmation=path, outcome="error: refused")
        raise
