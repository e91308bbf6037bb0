"""Workspaces: which account a call acts in (personal or a team). Always on."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..server.auth import roles
from ..server.call.context import CallContext
from ..server.call.principal import ANONYMOUS
from ..server.core.errors import WorkspaceError
from ..server.core.results import Reply
from ..server.registry import Effect, Example, NoArgs, ToolInput, Toolset

toolset = Toolset("workspace", "Personal and team workspaces.", always_on=True)


@toolset.tool(None, Effect.READ)
async def list_workspaces(call: CallContext, args: NoArgs) -> Reply:
    """List configured workspaces (personal, teams) and which one is active."""
    workspaces = call.workspaces
    active = await workspaces.active_name(call.principal)
    person = roles.signed_in(call.settings)
    rows: list[dict[str, object]] = []
    for name in workspaces.names:
        # A signed-in person sees only the workspaces they hold a role in, and that role (server/auth/roles.py).
        role = await call.roles.role_in(person, name) if person is not None else None
        if person is not None and role is None:
            continue
        rows.append({
            "name": name,
            "kind": workspaces.get(name).kind,
            "team_id": workspaces.get(name).team_id,
            "active": name == active,
            # Billing and account tools always use the personal key, whatever is active.
            "billing_tools": workspaces.personal is not None,
            **({"role": role.value} if role is not None else {}),
        })
    shown = ", ".join(
        f"{r['name']}{' (active)' if r['active'] else ''}{' [' + str(r['role']) + ']' if 'role' in r else ''}"
        for r in rows
    )
    sandbox = " [sandbox]" if workspaces.sandbox else ""
    return Reply(f"{len(rows)} workspace(s){sandbox}: {shown}", rows)


class SwitchInput(ToolInput):
    workspace: Annotated[str, Field(description="'personal' or a team name from list_workspaces")]


@toolset.tool(
    None, Effect.READ, title="Switch workspace", session_state=True,
    example=Example({"workspace": "personal"}),
)
async def switch_workspace(call: CallContext, args: SwitchInput) -> Reply:
    """Make a workspace active for the following calls of this connection. For one call in another
    workspace, pass that tool's `workspace` argument instead."""
    workspace, workspaces = args.workspace, call.workspaces
    person = roles.signed_in(call.settings)
    if person is not None and await call.roles.role_in(person, workspaces.get(workspace).name) is None:
        raise WorkspaceError(
            f"not switched: you have no role in workspace {workspaces.get(workspace).name}, so you cannot act in it; "
            "list_workspaces shows the workspaces you have a role in"
        )
    if call.principal == ANONYMOUS:
        # Tokenless, sessionless HTTP: every such client is this one principal, so a stored choice would
        # be every client's (server/call/principal.py). Nothing is stored.
        chosen = workspaces.get(workspace)
        return Reply(
            f"Not switched: this HTTP connection has no session and no bearer token, so the server cannot tell "
            f"its calls from other clients'. Pass workspace={chosen.name!r} on each call instead "
            "(or the operator sets MSGFLASH_HTTP_TOKEN)",
            {"active": None, "requested": chosen.name, "stored": False},
        )
    was = await workspaces.active_name(call.principal)
    # Stored even when already active: an active default becomes this connection's explicit choice.
    chosen = await workspaces.switch(workspace, call.principal)
    label = workspaces.label(chosen)
    if chosen.name == was:
        return Reply(f"Workspace {label} is already active: nothing changed",
                     {"active": chosen.name, "kind": chosen.kind, "stored": True, "changed": False})
    return Reply(f"Active workspace is now {label}. For a one-off call elsewhere, pass `workspace` on that call instead",
                 {"active": chosen.name, "kind": chosen.kind, "stored": True, "changed": True})
