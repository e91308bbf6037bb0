"""The two resolvers of a mutating tool call, wired as the SDK's resolver DAG.

    bind(ctx, **tool args)                   -> Bound  (pure: no elicitation; the CallContext + Plan)
    confirm(ctx, bound=Resolve(bind), token) -> Decision | Elicit[ConfirmForm]
    tool body(..., bound=Resolve(bind), decision=Resolve(confirm))

The SDK runs a resolver once per call round and hands the same object to every consumer
(`resolve.py`'s `_resolve` cache), so the guard decides on, and the body executes, the very plan and
binding made here. On the 2026-07-28 era resolvers re-run on every round; the elicitation text
carries the workspace and the plan digest, so a plan or workspace that changed between rounds is a
different question and the SDK asks again instead of accepting the old answer.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

from ..errors import MsgFlashError
from ..guard import ConfirmForm, Decision
from ..guard.confirm import question_key, round_key
from ..guard.plan import Plan
from ..registry import ToolSpec
from .audit_step import audit, audit_call
from .context import CallContext, bind_call, connection_of, modern_era, principal_of
from .outcome import error_name

KW = inspect.Parameter.KEYWORD_ONLY
_CALL_ARGS = ("workspace", "confirm_token")  # arguments of the pipeline, not of the tool


@dataclass(frozen=True)
class Bound:
    """One call round's binding and, for mutating tools, its plan."""

    call: CallContext
    args: Mapping[str, Any]  # the tool's own validated arguments (no workspace / confirm_token)
    requested: str | None  # the `workspace` argument as given (part of what a token is bound to)
    input: BaseModel  # the typed, frozen arguments the planner read
    plan: Plan | None  # None only when `replay` is set
    replay: Decision | None = None  # a token already used by this caller for these arguments: its result


def tool_args(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k not in _CALL_ARGS}


def binding_args(args: Mapping[str, Any], requested: str | None) -> dict[str, Any]:
    """What a token binds besides the plan: the arguments as the model wrote them, workspace included."""
    return {**args, "workspace": requested}


async def build_plan(call: CallContext, input: BaseModel, scrub: Callable[[str], str]) -> Plan:
    """The plan of this call from live data (no write). Used by `bind` and again just before a write."""
    planner = call.spec.planner
    assert planner is not None  # every mutating tool has one (registry.Toolset.tool)
    try:
        return await planner(call, input)
    except MsgFlashError as exc:
        raise ToolError("could not compute what this would do, nothing was sent: " + scrub(exc.for_model())) from None


def make_bind(spec: ToolSpec, arg_names: list[str]) -> Any:
    """`bind` for one tool: its signature names the tool's arguments so the SDK passes them by name."""

    async def bind(**kwargs: Any) -> Bound:
        ctx: Context = kwargs.pop("ctx")
        connection = connection_of(ctx)
        runtime = connection.runtime
        principal = principal_of(ctx, connection)
        args = tool_args(kwargs)
        path = "dry-run" if runtime.settings.dry_run else ("token" if kwargs.get("confirm_token") else "none")
        call: CallContext | None = None
        requested = kwargs.get("workspace")
        token = kwargs.get("confirm_token")
        outcome = "error: invalid"
        try:
            call = await bind_call(connection, spec, requested, principal, ctx.report_progress)
            assert spec.input is not None  # every mutating tool has one (registry.Toolset.tool)
            input = spec.input.model_validate(args)
            # A token is checked before planning: refusals cost no API call, and a used one returns its first
            # result without re-planning (the object it acted on may be gone by now).
            if token and not runtime.settings.dry_run:
                outcome = "error: refused"
                replay = await runtime.guard.check_token(spec, token, binding_args(args, requested), principal)
                if replay is not None:
                    return Bound(call=call, args=args, requested=requested, input=input, plan=None, replay=replay)
                outcome = "error: invalid"
            if ctx.input_responses and not runtime.settings.dry_run:  # a 2026-07-28 round answering a question
                key = round_key(principal, spec.name, ctx.request_state, ctx.input_responses)
                replay = await runtime.guard.round_replay(key)
                if replay is not None:
                    return Bound(call=call, args=args, requested=requested, input=input, plan=None, replay=replay)
            plan = await build_plan(call, input, runtime.scrubber.text)
        except (MsgFlashError, ToolError) as exc:
            # A call refused here never reaches the tool body: audit it now (every mutating call is one line).
            if isinstance(exc, MsgFlashError):
                outcome = f"error: {error_name(exc)}"
            await audit(runtime, spec, workspace=call.workspace_name if call else None, args=args,
                        confirmation=path, outcome=outcome, principal=principal)
            if isinstance(exc, MsgFlashError):
                raise ToolError(runtime.scrubber.text(exc.for_model())) from None
            raise
        return Bound(call=call, args=args, requested=requested, input=input, plan=plan)

    params = [inspect.Parameter("ctx", KW, annotation=Context)]
    params += [inspect.Parameter(name, KW) for name in arg_names]
    bind.__signature__ = inspect.Signature(params, return_annotation=Bound)  # type: ignore[attr-defined]
    bind.__annotations__ = {"ctx": Context, "return": Bound}
    bind.__name__ = bind.__qualname__ = f"bind_{spec.name}"
    return bind


def make_confirm(spec: ToolSpec, bind: Any) -> Any:
    """`confirm` for one tool: the guard's decision on the bound plan (may ask the person)."""

    async def confirm(**kwargs: Any) -> Decision | Elicit[ConfirmForm]:
        ctx: Context = kwargs["ctx"]
        bound: Bound = kwargs["bound"]
        runtime = connection_of(ctx).runtime
        call = bound.call
        if bound.replay is not None:
            return bound.replay
        assert bound.plan is not None
        try:
            decision = await runtime.guard.decide(
                spec, ctx, bound.plan, args=binding_args(bound.args, bound.requested), principal=call.principal,
                confirm_token=kwargs.get("confirm_token"),
            )
            if isinstance(decision, Elicit) and not ctx.input_responses and modern_era(ctx):
                await runtime.guard.new_question(question_key(call.principal, spec.name, decision.message))
            return decision
        except ToolError:
            # Refused by the guard (policy, bad/expired/foreign token): audited, then surfaced.
            path = "dry-run" if runtime.settings.dry_run else ("token" if kwargs.get("confirm_token") else "none")
            await audit_call(runtime, call, bound.args, confirmation=path, outcome="error: refused")
            raise

    params = [
        inspect.Parameter("ctx", KW, annotation=Context),
        inspect.Parameter("bound", KW, annotation=Annotated[Bound, Resolve(bind)]),
    ]
    if spec.takes_token:
        params.append(inspect.Parameter("confirm_token", KW))
    returns = Decision | Elicit[ConfirmForm]
    confirm.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    confirm.__annotations__ = {"ctx": Context, "bound": Annotated[Bound, Resolve(bind)], "return": returns}
    confirm.__name__ = confirm.__qualname__ = f"confirm_{spec.name}"
    return confirm
