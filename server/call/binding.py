"""The two resolvers of a mutating tool call, wired as the SDK's resolver DAG.

    bind(ctx, args)                          -> Bound  (the CallContext, Plan and the guard's one decision)
    confirm(ctx, args, bound=Resolve(bind))  -> Decision | Elicit[ConfirmForm]  (the SDK asks the question)
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

import anyio
from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError

from ..auth.roles import RoleRefused
from ..auth.scopes import ScopeRefused
from ..core.errors import MsgFlashError
from ..guard import ConfirmForm, Decision, can_elicit_form
from ..guard.confirm import Presented, answer_key, question_key, round_key, with_reference
from ..guard.plan import Plan
from ..registry import ToolInput, ToolSpec, spec_of
from ..runtime import Connection
from .audit_step import current_round
from .context import CallContext, bind_call, connection_of
from .era import modern_era
from .outcome import unexpected_failure


@dataclass(frozen=True)
class Bound:
    """One call round's binding, its plan and the guard's one decision on it."""

    call: CallContext
    args: Mapping[str, Any]  # the tool's own validated arguments (no workspace / confirm_token), for the audit
    requested: str | None  # the `workspace` argument as given (part of what a token is bound to)
    input: ToolInput  # the validated arguments the planner read
    plan: Plan | None  # None only for a replay (the first result stands; nothing was planned)
    decision: Decision | Elicit[ConfirmForm]  # what may happen, or the question for the person
    answer: str | None = None  # a 2026-07-28 question's `answer_key`: what an accepted answer claims, once
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
    """The call's binding, plan and guard decision (no elicitation yet). Its tool is the one whose argument
    model `args` is. A confirm token is read once here (`check_token`) and handed to the decision."""
    spec = spec_of(args)
    connection = connection_of(ctx)
    runtime = connection.runtime
    guard = runtime.guard
    record = current_round()
    principal = record.principal
    own = own_args(spec, args)
    requested = requested_workspace(args)
    token = confirm_token(args)
    dry_run = runtime.settings.dry_run
    record.bound(own, "dry-run" if dry_run else ("token" if token else "none"))
    modern = modern_era(ctx)
    try:
        try:
            call = await bind_call(connection, spec, requested, principal, ctx.report_progress)
        except RoleRefused as refused:  # audited as refused by role: nothing was planned, asked or sent
            record.workspace = refused.workspace
            record.role = refused.have.value if refused.have is not None else "none"
            record.failing = "denied: role"
            raise
        except ScopeRefused:  # audited as refused by scope, before any workspace was resolved
            record.failing = "denied: scope"
            raise
        record.workspace = call.workspace_name
        record.role = call.role.value if call.role is not None else None
        binding = binding_args(own, requested)
        presented: str | Presented | None = None
        # A token is checked before planning: refusals cost no API call, and a used one returns its first
        # result without re-planning (the object it acted on may be gone by now).
        if token and not dry_run:
            record.failing = "error: refused"
            checked = await guard.check_token(spec, token, binding, principal)
            if isinstance(checked, Decision):
                return Bound(call=call, args=own, requested=requested, input=args, plan=None, decision=checked)
            presented = checked
            record.failing = "error: invalid"
        if ctx.input_responses and modern and not dry_run:  # a 2026-07-28 round answering a question
            replay = await guard.round_replay(round_key(principal, spec.name, ctx.request_state, ctx.input_responses))
            if replay is not None:
                return Bound(call=call, args=own, requested=requested, input=args, plan=None, decision=replay)
        generation = await runtime.write_locks.generation(call.workspace_name)
        plan = await build_plan(call, args, runtime.scrubber.text)
        record.failing = "error: refused"  # the guard refuses by policy or token from here
        decision = await guard.decide(spec, can_ask(ctx, connection), plan, args=binding, principal=principal,
                                      confirm_token=presented)
        record.failing = "error: invalid"
    except MsgFlashError as exc:
        record.failed_with(exc)
        raise ToolError(runtime.scrubber.text(exc.for_model())) from None
    except (ToolError, anyio.get_cancelled_exc_class()):
        raise
    except Exception as exc:  # a bug while binding or planning: nothing was sent, and the reader is told so
        record.failing = f"error: {type(exc).__name__}"
        raise unexpected_failure(spec, exc, runtime.scrubber, write_started=False) from None
    if isinstance(decision, Elicit) and modern:
        if ctx.input_responses and not dry_run:
            # A re-sent round whose answer a concurrent copy claimed while this one was planning: that copy's
            # result, as the check before planning gives. Asked again instead, the person would see a new
            # reference for what is already done, and a second yes would act twice.
            replay = await guard.round_replay(round_key(principal, spec.name, ctx.request_state, ctx.input_responses))
            if replay is not None:
                return Bound(call=call, args=own, requested=requested, input=args, plan=None, decision=replay)
        # The era's rounds carry no nonce: each fresh question gets a reference, and its answer acts once.
        asked = question_key(principal, spec.name, decision.message)
        reference = await guard.ask(
            asked, fresh=not ctx.input_responses, answer_of=lambda ref: answer_key(principal, spec.name, ref)
        )
        return Bound(call=call, args=own, requested=requested, input=args, plan=plan,
                     decision=Elicit(with_reference(decision.message, reference), ConfirmForm),
                     answer=answer_key(principal, spec.name, reference), generation=generation)
    return Bound(call=call, args=own, requested=requested, input=args, plan=plan, decision=decision,
                 generation=generation)


def can_ask(ctx: Context, connection: Connection) -> bool:
    """A form can reach a person on this request, through this channel: never through the review card, which
    confirms with a token kept out of the model's reach (server/apps/card.py)."""
    return connection.channel != "card" and can_elicit_form(ctx)


async def confirm(ctx: Context, args: ToolInput, bound: Annotated[Bound, Resolve(bind)]) -> Decision | Elicit[ConfirmForm]:
    """The bound decision; a question is asked by the SDK (a form, or a 2026-07-28 round)."""
    return bound.decision
