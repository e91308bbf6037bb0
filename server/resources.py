"""Resources and completions: read-only views a client can attach to a conversation.

Every read goes through the same `ApiClient`, workspace resolution, rate limiter and scrubber as
the tools (`call.bind_route`), in the caller's active workspace. Static resources get no
`Context` from the SDK, so a middleware (`remember_connection`) makes the lifespan `Connection`
of the current request reachable through a context variable.

Output is JSON: `{"workspace": ..., "data": ..., "note": ...}`. Keys never appear (they live in
headers only, and the scrubber runs over everything); third-party text is sanitised like tool data.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from typing import Any

from mcp.server import MCPServer
from mcp.server.context import CallNext, ServerRequestContext
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import Completion, CompletionArgument, CompletionContext, PromptReference, ResourceTemplateReference

from ..tools._routes import CAMPAIGN, MESSAGES
from ..tools.billing import BILLING_USAGE  # personal key only: plan, limits, features, usage
from ..tools.campaigns import CAMPAIGN_STATS, RECORD_SOURCE, recorded_campaigns
from ..tools.instances import INSTANCE_STATE, INSTANCES
from ..tools.opt_outs import opt_out_rows
from ..tools.templates import TEMPLATE, TEMPLATES
from .auth import roles
from .call import bind_route, principal_of
from .core.errors import ApiError, MsgFlashError
from .core.results import UNTRUSTED_NOTE
from .registry import Route
from .runtime import Connection
from .untrusted import sanitize
from .wire import json_list, json_object

log = logging.getLogger("msgflash_mcp.resources")

JSON = "application/json"
MAX_COMPLETIONS = 100  # the protocol's cap on completion values


TEMPLATE_URI = "msgflash://templates/{template_id}"
CAMPAIGN_STATS_URI = "msgflash://campaigns/{campaign_id}/stats"

_connection: ContextVar[Connection | None] = ContextVar("msgflash_connection", default=None)


async def remember_connection(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
    """Middleware: expose this request's lifespan `Connection` to resources and completions."""
    connection = ctx.lifespan_context if isinstance(ctx.lifespan_context, Connection) else None
    token = _connection.set(connection)
    try:
        return await call_next(ctx)
    finally:
        _connection.reset(token)


def current_connection() -> Connection:
    connection = _connection.get()
    if connection is None:
        raise ResourceError("the server is not connected yet; retry")
    return connection


def _dump(connection: Connection, label: str | None, data: Any, *, third_party: bool = True) -> str:
    out: dict[str, Any] = {"workspace": label, "data": sanitize(data) if third_party else data}
    if third_party:
        out["note"] = UNTRUSTED_NOTE
    return json.dumps(connection.runtime.scrubber.data(out), ensure_ascii=False, indent=2, default=str)


async def _read(route: Route, path: dict[str, str] | None = None, query: dict[str, Any] | None = None) -> str:
    """GET one route in the caller's active workspace and render it; API errors become resource errors."""
    connection = current_connection()
    scrub = connection.runtime.scrubber.text
    try:
        api = await bind_route(connection, route)
        data = await api(path=path, query=query)
    except ApiError as exc:
        if exc.status == 404:
            raise ResourceNotFoundError(scrub(exc.for_model())) from None
        raise ResourceError(scrub(exc.for_model())) from None
    except MsgFlashError as exc:
        raise ResourceError(scrub(exc.for_model())) from None
    return _dump(connection, api.label, data)


async def workspaces_resource() -> str:
    """Configured workspaces (personal, teams): name, kind, which one is active. Never keys."""
    connection = current_connection()
    workspaces = connection.runtime.workspaces
    active = await workspaces.active_name(principal_of(None, connection))
    person = roles.signed_in(connection.runtime.settings)  # a signed-in person sees only their workspaces
    table = roles.table(connection.runtime)
    rows = [
        {"name": name, "kind": workspaces.get(name).kind, "active": name == active}
        for name in workspaces.names
        if person is None or await table.role_in(person, name) is not None
    ]
    return json.dumps({"sandbox": workspaces.sandbox, "workspaces": rows}, indent=2)


async def instances_resource() -> str:
    """Linked WhatsApp numbers of the active workspace, each with its live provider state."""
    connection = current_connection()
    scrub = connection.runtime.scrubber.text
    try:
        api = await bind_route(connection, INSTANCES)
        instances: list[dict[str, Any]] = list(await api() or [])
        for instance in instances[:25]:  # a handful in practice; bounded so one read stays cheap
            try:
                instance["state"] = await api.call(INSTANCE_STATE, path={"id": str(instance.get("id"))})
            except ApiError as exc:
                instance["state"] = {"error": exc.code}
    except MsgFlashError as exc:
        raise ResourceError(scrub(exc.for_model())) from None
    return _dump(connection, api.label, instances)


async def usage_resource() -> str:
    """Plan, limits, features and this period's usage of the account (uses the personal key)."""
    return await _read(BILLING_USAGE)


async def template_resource(template_id: str) -> str:
    """One message template of the active workspace by id (text is third-party content)."""
    return await _read(TEMPLATE, path={"id": template_id})


async def campaign_stats_resource(campaign_id: str) -> str:
    """Delivery statistics of one campaign of the active workspace."""
    return await _read(CAMPAIGN_STATS, path={"id": campaign_id})


async def campaigns_resource() -> str:
    """Campaigns created through this server in the active workspace (its local record; the API cannot list
    campaigns), newest first, with the live status of the newest few."""
    connection = current_connection()
    try:
        api = await bind_route(connection, CAMPAIGN)
        rows = await recorded_campaigns(connection.runtime.campaigns, api, live=True)
    except MsgFlashError as exc:
        raise ResourceError(connection.runtime.scrubber.text(exc.for_model())) from None
    return _dump(connection, api.label, {"campaigns": rows, "source": RECORD_SOURCE})


async def opt_outs_resource() -> str:
    """Numbers of the active workspace that opted out (wrote STOP etc., or were added); sends leave them out.
    Reading it first records opt-outs written since the last scan of inbound messages."""
    connection = current_connection()
    try:
        api = await bind_route(connection, MESSAGES)
        data = await opt_out_rows(api, connection.runtime.opt_outs)
    except MsgFlashError as exc:
        raise ResourceError(connection.runtime.scrubber.text(exc.for_model())) from None
    return _dump(connection, api.label, data)


async def campaign_ids(prefix: str) -> list[str]:
    """Ids from the campaign record of the active workspace whose id starts with, or name contains, `prefix`."""
    connection = current_connection()
    api = await bind_route(connection, CAMPAIGN)
    rows = await recorded_campaigns(connection.runtime.campaigns, api, 100, live=False)
    needle = prefix.lower()
    by_id = [r["id"] for r in rows if r["id"].lower().startswith(needle)]
    by_name = [r["id"] for r in rows if needle and needle in str(r["name"]).lower()]
    return list(dict.fromkeys(by_id + by_name))


async def template_ids(prefix: str) -> list[str]:
    """Template ids of the active workspace whose id starts with, or whose name contains, `prefix`."""
    connection = current_connection()
    api = await bind_route(connection, TEMPLATES)
    page = await api(query={"page": 1, "limit": 100})
    listed = json_list((json_object(page) or {}).get("templates")) or json_list(page) or []
    rows = [row for item in listed if (row := json_object(item)) is not None]
    needle = prefix.lower()
    by_id = [str(t["id"]) for t in rows if str(t.get("id", "")).lower().startswith(needle)]
    by_name = [str(t["id"]) for t in rows if needle and needle in str(t.get("name", "")).lower()]
    return list(dict.fromkeys(by_id + by_name))


def register_resources(server: MCPServer[Any]) -> None:
    server.middleware.append(remember_connection)
    server.resource("msgflash://workspaces", name="workspaces", title="Workspaces", mime_type=JSON)(
        workspaces_resource
    )
    server.resource("msgflash://instances", name="instances", title="WhatsApp instances", mime_type=JSON)(
        instances_resource
    )
    server.resource("msgflash://usage", name="usage", title="Usage and limits", mime_type=JSON)(usage_resource)
    server.resource(TEMPLATE_URI, name="template", title="Message template", mime_type=JSON)(template_resource)
    server.resource(CAMPAIGN_STATS_URI, name="campaign_stats", title="Campaign statistics", mime_type=JSON)(
        campaign_stats_resource
    )
    server.resource(
        "msgflash://campaigns", name="campaigns", title="Campaigns created through this server", mime_type=JSON
    )(campaigns_resource)
    server.resource("msgflash://opt-outs", name="opt_outs", title="Opted-out numbers", mime_type=JSON)(
        opt_outs_resource
    )

    @server.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        """Template ids, campaign ids (from the local record: the API lists no campaigns) and workspace names."""
        try:
            if isinstance(ref, ResourceTemplateReference) and ref.uri == TEMPLATE_URI and argument.name == "template_id":
                values = await template_ids(argument.value)
            elif (isinstance(ref, ResourceTemplateReference) and ref.uri == CAMPAIGN_STATS_URI
                  and argument.name == "campaign_id"):
                values = await campaign_ids(argument.value)  # from the local record: the API lists none
            elif isinstance(ref, PromptReference) and argument.name == "workspace":
                names = current_connection().runtime.workspaces.names
                values = [name for name in names if name.startswith(argument.value)]
            else:
                return None
        except (MsgFlashError, ResourceError) as exc:
            log.info("completion for %s failed: %s", argument.name, type(exc).__name__)
            return None  # a completion never fails the client: no suggestions instead
        return Completion(values=values[:MAX_COMPLETIONS], total=len(values), has_more=len(values) > MAX_COMPLETIONS)
