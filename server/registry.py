"""The one declaration per tool, and everything derived from it.

A tool is declared once in `tools/<group>.py`:

    toolset = Toolset("contacts", "Contacts of the workspace.")

    @toolset.tool(GET("/api/v1/contacts/{id}"), Effect.READ)
    async def get_contact(api: Api, id: ContactId) -> Reply:
        '''One contact by id.'''
        data = await api(path={"id": id})
        return Reply(f"Contact {data['name']}", data)

From the route and the effect follow: the MCP annotations (all four hints), whether a
confirmation guard runs (SEND/DELETE/ADMIN), the retry class (reads retry freely, mutations only
what provably never left), read-only filtering, which credential the request carries (routes in
declared `personal=True` always use the personal key; everything else the resolved workspace's key and
`X-Team-Id`), and whether the tool takes a `workspace` argument. Nothing else restates them.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from mcp.types import ToolAnnotations
from pydantic import BaseModel, ConfigDict

from .api.route import DELETE, GET, POST, PUT, Route

if TYPE_CHECKING:
    from .api import Api
    from .call.context import CallContext
    from .guard.plan import Plan
    from .results import Reply

class Effect(StrEnum):
    READ = "read"  # no side effect
    WRITE = "write"  # reversible create/update
    SEND = "send"  # reaches real people
    DELETE = "delete"  # loses data
    ADMIN = "admin"  # changes where data flows (webhooks)

    @property
    def guarded(self) -> bool:
        """Needs a confirmation that shows its blast radius before the request leaves."""
        return self in (Effect.SEND, Effect.DELETE, Effect.ADMIN)

    @property
    def mutating(self) -> bool:
        return self is not Effect.READ


ToolFn = Callable[..., Awaitable["Reply"]]
# A planned tool: `plan(call, input) -> Plan` decides everything the call will do (no request is sent);
# the tool function `fn(call, plan) -> Reply` sends exactly `plan.requests`.
PlanFn = Callable[["CallContext", Any], Awaitable["Plan"]]  # Any: each planner takes its own input model


@dataclass(frozen=True)
class ToolSpec:
    name: str
    toolset: str
    route: Route | None  # None: a tool of the server itself (workspaces)
    effect: Effect
    description: str
    fn: ToolFn
    title: str
    output: type[BaseModel] | None = None  # the `data` it returns, as a lenient model; None: no outputSchema
    input: type[BaseModel] | None = None  # planned tools: the typed, frozen arguments (the parameters)
    planner: PlanFn | None = None  # planned tools: arguments + live data -> the frozen Plan
    destructive: bool | None = None  # override of the effect's hint (remove_group_members)
    session_state: bool = False  # changes only this server's session (switch_workspace): not read-only, harmless
    # A WRITE tool whose plan may ask for a confirmation (Plan.confirm_reason: an edit that changes what a
    # pending campaign sends): it takes confirm_token like a guarded tool; most of its calls are not asked.
    confirmable: bool = False
    # Its data holds no text written by third parties (billing, quotas, instance state): the result is
    # not sanitised and carries no untrusted note, which stays meaningful where it does appear.
    own_data: bool = False

    @property
    def third_party(self) -> bool:
        """Its result may carry third-party text: the untrusted note and sanitiser apply (server/call/outcome)."""
        return self.route is not None and not self.own_data

    @property
    def workspace_scoped(self) -> bool:
        """Takes an optional `workspace` argument (every API route except personal-only ones)."""
        return self.route is not None and not self.route.personal_only

    @property
    def guarded(self) -> bool:
        return self.effect.guarded

    @property
    def takes_token(self) -> bool:
        """Has a `confirm_token` argument: guarded tools, and confirmable ones whose plan may need it."""
        return self.effect.guarded or self.confirmable

    def annotations(self) -> ToolAnnotations:
        effect = self.effect
        read_only = effect is Effect.READ and not self.session_state
        destructive = self.destructive if self.destructive is not None else effect.guarded
        method = self.route.method if self.route else "GET"
        # PUT/DELETE repeat to the same end state; POST creates or sends again.
        idempotent = read_only or self.session_state or method in ("PUT", "DELETE")
        return ToolAnnotations(
            title=self.title,
            read_only_hint=read_only,
            destructive_hint=False if read_only else destructive,
            idempotent_hint=idempotent,
            open_world_hint=self.route is not None,
        )

    def parameters(self) -> list[inspect.Parameter]:
        """The model-facing parameters: the input model's fields for planned tools, else the function's own
        minus the injected `api`."""
        if self.input is not None:
            return input_parameters(self.input)
        signature = inspect.signature(self.fn, eval_str=True)  # tool modules use postponed annotations
        return [param for name, param in signature.parameters.items() if name != "api"]


@dataclass
class Toolset:
    name: str
    description: str
    always_on: bool = False
    specs: list[ToolSpec] = field(default_factory=list[ToolSpec])

    def tool(
        self,
        route: Route | None,
        effect: Effect,
        *,
        title: str | None = None,
        output: type[BaseModel] | None = None,
        input: type[BaseModel] | None = None,
        plan: PlanFn | None = None,
        destructive: bool | None = None,
        session_state: bool = False,
        confirmable: bool = False,
        own_data: bool = False,
    ) -> Callable[[ToolFn], ToolFn]:
        if (input is None) != (plan is None):
            raise ValueError("a planned tool declares both input= (its typed arguments) and plan=")
        if effect.mutating and plan is None:
            # The preview, the confirmation and the request all come from the plan: no other way to write.
            raise ValueError("a mutating tool declares input= and plan= (what it will send, frozen before it is sent)")

        def register(fn: ToolFn) -> ToolFn:
            description = inspect.cleandoc(fn.__doc__ or "")
            if not description:
                raise ValueError(f"tool {fn.__name__} needs a docstring: it is the tool description")
            self.specs.append(
                ToolSpec(
                    name=fn.__name__,
                    toolset=self.name,
                    route=route,
                    effect=effect,
                    description=description,
                    fn=fn,
                    title=title or fn.__name__.replace("_", " ").capitalize(),
                    output=output,
                    input=input,
                    planner=plan,
                    destructive=destructive,
                    session_state=session_state,
                    confirmable=confirmable,
                    own_data=own_data,
                )
            )
            return fn

        return register


class ToolInput(BaseModel):
    """The typed arguments of a mutating tool, as its planner reads them (`Toolset.tool(input=...)`).

    Frozen: the plan is made from them once. Extra keys are refused. Validation is built on the first
    call, not at import: the MCP argument model made from these fields validates what the model sends
    first, and start-up (spawn -> tools/list) should not pay for a second schema per tool."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


def input_parameters(model: type[BaseModel]) -> list[inspect.Parameter]:
    """Keyword parameters equivalent to a pydantic model's fields (same JSON schema as a signature)."""
    from typing import Annotated

    params: list[inspect.Parameter] = []
    for name, info in model.model_fields.items():
        default = inspect.Parameter.empty if info.is_required() else info.default
        params.append(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[info.annotation, info])
        )
    return params


class UnknownToolset(ValueError):
    pass


def select(
    toolsets: Iterable[Toolset], *, enabled: list[str] | None, read_only: bool
) -> list[ToolSpec]:
    """The tools of one configuration, in a stable order. Read-only wins over everything."""
    toolsets = list(toolsets)
    known = {toolset.name for toolset in toolsets}
    if enabled is not None:
        unknown = sorted(set(enabled) - known)
        if unknown:
            raise UnknownToolset(
                f"unknown toolset(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}"
            )
    chosen: list[ToolSpec] = []
    for toolset in toolsets:
        if enabled is not None and toolset.name not in enabled and not toolset.always_on:
            continue
        for spec in toolset.specs:
            if read_only and spec.effect is not Effect.READ and not toolset.always_on:
                continue
            chosen.append(spec)
    return chosen


__all__ = [
    "DELETE",
    "GET",
    "POST",
    "PUT",
    "Api",
    "Effect",
    "Route",
    "ToolInput",
    "ToolSpec",
    "Toolset",
    "UnknownToolset",
    "select",
]
