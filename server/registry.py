"""The one declaration per tool, and everything derived from it.

A tool is declared once in `tools/<group>.py`:

    toolset = Toolset("contacts", "Contacts of the workspace.")

    class ContactArgs(ToolInput):
        contact_id: ContactId

    @toolset.tool(GET("/api/v1/contacts/{id}"), Effect.READ)
    async def get_contact(call: CallContext, args: ContactArgs) -> Reply:
        '''One contact by id.'''
        data = await call.api(path={"id": args.contact_id})
        return Reply(f"Contact {data['name']}", data)

Every tool has that one shape, `(call, args) -> Reply`: `args` is its argument model, which the SDK
validates (server/call/pipeline.py); `call` is the call's binding (server/call/context.py). A write
also declares `plan=`, its planner `(call, args) -> Plan`; its body sends `call.plan`. A write that
reads nothing and sends its arguments as they are declares the default, `plan=single(action)`: the one
request is derived from its route and argument model (`Single`).

From the route and the effect follow: the MCP annotations (all four hints), whether a
confirmation guard runs (SEND/DELETE/ADMIN), the retry class (reads retry freely, mutations only
what provably never left), read-only filtering, which credential the request carries (routes in
declared `personal=True` always use the personal key; everything else the resolved workspace's key and
`X-Team-Id`), and whether the tool takes a `workspace` argument. Nothing else restates them.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase
from mcp.types import ToolAnnotations
from pydantic import BaseModel, ConfigDict

from .api import given
from .api.route import DELETE, GET, POST, PUT, Route
from .audit import kept_fields
from .wire import camel, snake

if TYPE_CHECKING:
    from .core.results import Reply
    from .guard.plan import Plan

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


# `fn(call, args) -> Reply`. A write's planner `plan(call, args) -> Plan` decides everything the call will
# do (no request is sent); its body then sends exactly `call.plan.requests`.
# The first argument is a `server.call.context.CallContext`, which is built from a ToolSpec: named here
# only in words, so the declaration stays below the call path that uses it (no import circle).
ToolFn = Callable[[Any, Any], Awaitable["Reply"]]
PlanFn = Callable[[Any, Any], Awaitable["Plan"]]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    toolset: str
    route: Route | None  # None: a tool of the server itself (workspaces)
    effect: Effect
    description: str
    fn: ToolFn
    title: str
    input: type[ToolInput]  # its arguments (the `args` of `fn`): what the model sees and the SDK validates
    output: type[BaseModel] | None = None  # the `data` it returns, as a lenient model; None: no outputSchema
    planner: PlanFn | None = None  # writes: arguments + live data -> the frozen Plan
    destructive: bool | None = None  # override of the effect's hint (remove_group_members)
    session_state: bool = False  # changes only this server's session (switch_workspace): not read-only, harmless
    # A WRITE tool whose plan may ask for a confirmation (Plan.confirm_reason: an edit that changes what a
    # pending campaign sends): it takes confirm_token like a guarded tool; most of its calls are not asked.
    confirmable: bool = False
    # Its data holds no text written by third parties (billing, quotas, instance state): the result is
    # not sanitised and carries no untrusted note, which stays meaningful where it does appear.
    own_data: bool = False
    # Reaches everyone who has the sending number, not a list of recipients (statuses): the recipient
    # allow-list cannot name who it reaches (server/guard/policy.py).
    broadcast: bool = False
    view: str | None = None  # the `ui://` view that shows a read's result (server/apps/views.py); guarded tools show the card
    example: Example = field(default_factory=lambda: Example())  # a valid call on the embedded sandbox

    @property
    def audit_kept(self) -> frozenset[str]:
        """The arguments whose values the audit records verbatim: those of a type marked `Kept` (server/audit.py)."""
        return kept_fields(self.input)

    @property
    def third_party(self) -> bool:
        """Its result may carry third-party text: the untrusted note and sanitiser apply (server/call/outcome)."""
        return self.route is not None and not self.own_data

    @property
    def workspace_scoped(self) -> bool:
        """Takes an optional `workspace` argument (every API route except personal-only ones)."""
        return self.route is not None and self.route.workspace_scoped

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



@dataclass(frozen=True)
class Seed:
    """An example value: the id of an object the embedded sandbox seeds, by its name in sandbox/seed.py."""

    name: str


@dataclass(frozen=True)
class Made:
    """An example value: a field of the data the example's `first` call answered (what it created)."""

    key: str


@dataclass(frozen=True)
class Later:
    """An example value: this many days after the sandbox's now, in ISO 8601 (a schedule in the future)."""

    days: float


@dataclass(frozen=True)
class Example:
    """A valid call of the tool on the embedded sandbox, declared with the tool. The tests call every tool
    with it (tests/examples.py resolves Seed, Made and Later): the audit line of each mutating tool, the
    output schemas, the endpoint recipe. A tool without required arguments may leave it out: `{}` is valid.
    """

    args: Mapping[str, Any] = field(default_factory=dict[str, Any])
    first: tuple[str, Mapping[str, Any]] | None = None  # a call that makes what `args` refers to (Made)


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
        plan: PlanFn | None = None,
        destructive: bool | None = None,
        session_state: bool = False,
        confirmable: bool = False,
        own_data: bool = False,
        broadcast: bool = False,
        view: str | None = None,
        example: Example | None = None,
    ) -> Callable[[ToolFn], ToolFn]:
        if effect.mutating != (plan is not None):
            # The preview, the confirmation and the request all come from the plan: no other way to write.
            raise ValueError("a mutating tool declares plan= (what it will send, frozen before it is sent); a read none")

        def register(fn: ToolFn) -> ToolFn:
            description = inspect.cleandoc(fn.__doc__ or "")
            if not description:
                raise ValueError(f"tool {fn.__name__} needs a docstring: it is the tool description")
            model = argument_model(fn)
            planner = plan.bound(fn.__name__, route, model) if isinstance(plan, Single) else plan
            self.specs.append(
                ToolSpec(
                    name=fn.__name__,
                    toolset=self.name,
                    route=route,
                    effect=effect,
                    description=description,
                    fn=fn,
                    title=title or fn.__name__.replace("_", " ").capitalize(),
                    input=model,
                    output=output,
                    planner=planner,
                    destructive=destructive,
                    session_state=session_state,
                    confirmable=confirmable,
                    own_data=own_data,
                    broadcast=broadcast,
                    view=view,
                    example=example or Example(),
                )
            )
            return fn

        return register


class ToolInput(ArgModelBase):
    """The arguments of a tool, as one frozen model: `fn(call, args)` and its planner read the instance.

    The SDK validates a call's arguments with this model (its `fn_metadata.arg_model`) and hands the
    tool function the keyword arguments of `model_dump_one_level`: here the one validated instance,
    as `args`, instead of its fields one by one. So nothing validates twice and nothing rebuilds it."""

    # Built where it is used, not at import: only the tool's arguments model (pipeline.arguments_model, a
    # subclass) is ever validated or turned into a schema, so the declared class itself is never built.
    # Measured, not assumed: building the 43 declared classes at import adds ~25 ms of CPU to start-up
    # (importing tools/, median of 12 interleaved runs: 146 ms deferred, 170 ms built) for nothing.
    model_config = ConfigDict(frozen=True, defer_build=True)
    # The tool a call's arguments belong to: set on the arguments model the pipeline makes for each tool,
    # so the call path shared by every tool learns its tool from the validated arguments (`spec_of`).
    tool_spec: ClassVar[ToolSpec | None] = None

    def model_dump_one_level(self) -> dict[str, Any]:
        return {"args": self}


def spec_of(args: ToolInput) -> ToolSpec:
    spec = type(args).tool_spec
    if spec is None:
        raise RuntimeError(f"{type(args).__name__} is not the arguments model of a built tool")
    return spec


class NoArgs(ToolInput):
    """A tool without arguments of its own."""


def argument_model(fn: ToolFn) -> type[ToolInput]:
    """The model `fn` annotates its `args` with (tool modules postpone annotations: evaluated here, once).

    Only `args` is evaluated, in the function's module: `typing.get_type_hints` would evaluate every
    annotation of all ~60 tools (CallContext, Reply...) for nothing, ~4 ms of every start-up."""
    model = inspect.get_annotations(fn).get("args")
    if isinstance(model, str):
        model = eval(model, getattr(fn, "__globals__", {}))  # a name the tool's own module imports
    if not (isinstance(model, type) and issubclass(model, ToolInput)):
        raise ValueError(f"tool {fn.__name__} takes (call: CallContext, args: <a ToolInput model>)")
    return model


@dataclass(frozen=True)
class Single:
    """The default planner: a write that reads nothing and sends one request to its own route, restated
    from its arguments. Declared `plan=single(action)`; the rest is derived once, when the tool is declared:

    - each path parameter from the field it names (`{groupId}` from `group_id`), `{id}` from the one
      `*_id` field;
    - the JSON body from every other field, camelCased, the ones given (None means omitted); a model with
      no other field sends no body;
    - the preview's one line from `action(args)`, which may also refuse the call (ToolError) before
      anything is planned.
    """

    action: Callable[[Any], str]
    path: Mapping[str, str] = field(default_factory=dict[str, str])  # path parameter -> field
    body: Mapping[str, str] | None = None  # JSON key -> field; None: no body

    def bound(self, tool: str, route: Route | None, model: type[ToolInput]) -> Single:
        """This planner with its path and body read from `route` and `model`; a parameter no field names
        fails here, at declaration, not on a call."""
        if route is None:
            raise ValueError(f"tool {tool}: single() plans a request to the tool's route, and it has none")
        fields = list(model.model_fields)
        path = {param: _path_field(tool, param, fields) for param in route.params}
        rest = [name for name in fields if name not in path.values()]
        body = {camel(name): name for name in rest} if rest else None
        return Single(self.action, path, body)

    async def __call__(self, call: Any, args: ToolInput) -> Plan:
        """`call` is the call's `CallContext` (named in words, as for `PlanFn`)."""
        action = self.action(args)
        path = {param: str(getattr(args, name)) for param, name in self.path.items()} or None
        json = given({key: getattr(args, name) for key, name in self.body.items()}) if self.body is not None else None
        return call.plan_from(action, path=path, json=json)


def single(action: Callable[[Any], str]) -> Single:
    """The default planner of a write that reads nothing: its preview says `action(args)` (see `Single`)."""
    return Single(action)


def _path_field(tool: str, param: str, fields: list[str]) -> str:
    named = snake(param)
    if named in fields:
        return named
    ids = [name for name in fields if name.endswith("_id")]
    if param == "id" and len(ids) == 1:
        return ids[0]
    raise ValueError(f"tool {tool}: no argument gives the path parameter {{{param}}} (name it {named})")


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
    "Effect",
    "Example",
    "Later",
    "Made",
    "NoArgs",
    "Route",
    "Seed",
    "Single",
    "ToolInput",
    "ToolSpec",
    "Toolset",
    "UnknownToolset",
    "select",
    "single",
]
