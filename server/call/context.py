"""The one binding of a tool call: who calls, in which workspace, with which credential, at what time.

`CallContext` is made exactly once per tool-call round (`bind_call`) and handed, as the same frozen
object, to the planner, the guard, the tool body and the audit step. Nothing re-resolves the
workspace later, so a `switch_workspace` landing mid-call only affects calls that start after it.

Other modules use:
- `bind_call(connection, spec, requested, principal, progress)` -> CallContext (tool calls);
- `bind_route(connection, route, requested, principal)` -> Api (resources, completions, doctor);
- `principal_of(ctx, connection)`, `connection_of(ctx)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from ..api import Api
from ..auth import roles, scopes
from ..campaign_record import CampaignRecord
from ..clock import Clock
from ..core.credentials import Workspace
from ..core.results import Preview
from ..core.settings import Role
from ..core.workspaces import Workspaces
from ..guard.plan import Plan, PlannedRequest, from_preview
from ..opt_outs import OptOutStore
from ..registry import Route, ToolSpec
from ..runtime import Connection
from .principal import principal_of  # who is calling (token hash, HTTP session, connection)

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context

    from ..core.settings import Settings

Progress = Callable[[float, float | None, str | None], Awaitable[None]]


@dataclass(frozen=True)
class CallContext:
    """Everything one tool call is bound to, and all a tool body may use. Frozen: every step sees the
    same binding (a write's body gets it with `plan` set: `with_plan`)."""

    spec: ToolSpec
    principal: str
    workspace: Workspace | None  # None only for the server's own tools (workspace switching)
    api: Api  # bound to `workspace`'s credential (personal-only routes: the personal key)
    now: datetime  # read once from the runtime's clock
    clock: Clock  # the runtime's: a body that waits (following a job) sleeps through it
    settings: Settings
    workspaces: Workspaces  # the server's table (the workspace tools list and switch it)
    campaigns: CampaignRecord  # the campaigns created through this server (server/campaign_record.py)
    opt_outs: OptOutStore  # the numbers each workspace must not message (server/opt_outs.py)
    roles: roles.RoleTable  # who holds which role (signed-in people: server/auth/roles.py)
    progress: Progress | None = None  # the caller's progress callback (None: nobody listens)
    plan: Plan | None = None  # a write's body: the plan the guard let through; None before and for reads
    role: Role | None = None  # the signed-in caller's role in `workspace` (None: no roles apply)

    def with_plan(self, plan: Plan) -> CallContext:
        return replace(self, plan=plan)

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Progress notification to the caller (a no-op without a progress token)."""
        if self.progress is not None:
            await self.progress(progress, total, message)

    @property
    def label(self) -> str | None:
        """How results name the workspace ("personal (sandbox)"); None for server-only tools."""
        return self.api.label if self.workspace else None

    @property
    def workspace_name(self) -> str | None:
        return self.workspace.name if self.workspace else None

    async def send(self, request: PlannedRequest) -> Any:
        """Send one planned request exactly as planned, with this call's credential."""
        return await self.api.call(
            request.route,
            path=dict(request.path) if request.path is not None else None,
            query=dict(request.query) if request.query is not None else None,
            json=request.json,
        )

    @property
    def planned(self) -> Plan:
        """The plan a write's body sends (set by `with_plan`)."""
        if self.plan is None:
            raise RuntimeError(f"{self.spec.name}: a write's body runs with its plan")
        return self.plan

    @property
    def request(self) -> PlannedRequest:
        """The one request of a one-request plan (a write's body)."""
        (request,) = self.planned.requests
        return request

    async def send_plan(self) -> Any:
        """The body of a one-request write: send the planned request, return the API's data."""
        return await self.send(self.request)

    def plan_from(
        self, preview: Preview | str, *, path: Mapping[str, str] | None = None, json: Any = None, **parts: Any
    ) -> Plan:
        """The plan of one request to this tool's own route, its informational lines from `preview` (or
        just its action line)."""
        if isinstance(preview, str):
            preview = Preview(action=preview)
        route = self.spec.route
        if route is None:
            raise RuntimeError(f"{self.spec.name} has no route to plan")
        return from_preview(
            preview,
            tool=self.spec.name,
            broadcast=self.spec.broadcast,
            workspace=self.workspace_name,
            label=self.label,
            requests=(PlannedRequest(route, path=path, json=json),),
            **parts,
        )


def connection_of(ctx: Context) -> Connection:
    return cast(Connection, ctx.request_context.lifespan_context)


async def bind_route(
    connection: Connection, route: Route | None, requested: str | None = None, principal: str | None = None
) -> Api:
    """An `Api` for `route`, bound to the call's credentials. The caller's workspace (argument, active,
    default) is resolved only for a route that acts in one; the key each request carries, the personal
    one for a personal-only route, is the credentials' decision (core/credentials.py), and `api.workspace`
    is the one its own route carries. Resources, completions and doctor bind here, tool calls through `bind_call`."""
    api = await _bind_api(connection, route, requested, principal or principal_of(None, connection))
    if api.workspace is not None:  # the workspace whose key it carries: a signed-in reader needs viewer there
        runtime = connection.runtime
        await roles.require_viewer(runtime.settings, roles.table(runtime), api.workspace.name)
    return api


async def _bind_api(connection: Connection, route: Route | None, requested: str | None, principal: str) -> Api:
    workspaces = connection.runtime.workspaces
    scoped = route is not None and route.workspace_scoped  # the server's own tools reach no API route
    chosen = await workspaces.resolve(requested, principal) if scoped else None
    return Api(connection.api, route, workspaces.credentials(chosen))


async def bind_call(
    connection: Connection,
    spec: ToolSpec,
    requested: str | None,
    principal: str,
    progress: Progress | None = None,
) -> CallContext:
    """The call's one binding. Raises WorkspaceError for an unknown/ambiguous workspace, ToolError when a
    signed-in caller's token lacks the tool's scope (before any workspace, plan or confirmation), and
    RoleRefused when their role in the resolved workspace does not cover the tool (before any plan or
    confirmation, so a confirmation is redeemed only while its role still holds)."""
    runtime = connection.runtime
    scopes.require(spec, runtime.settings)
    api = await _bind_api(connection, spec.route, requested, principal)
    table = roles.table(runtime)
    role = await roles.require(spec, runtime.settings, table, api.workspace.name if api.workspace else None)
    return CallContext(
        spec=spec, principal=principal, workspace=api.workspace, api=api, now=runtime.clock.now(), clock=runtime.clock,
        settings=runtime.settings, roles=table, role=role,
        workspaces=runtime.workspaces, campaigns=runtime.campaigns, opt_outs=runtime.opt_outs, progress=progress,
    )
