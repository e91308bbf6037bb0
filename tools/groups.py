"""Contact groups (under /api/v1/contacts/groups) and their members."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field, StringConstraints

from ..server.api import given
from ..server.call.context import CallContext
from ..server.core.results import Preview, Reply
from ..server.guard.plan import Plan
from ..server.registry import DELETE, GET, POST, PUT, Effect, Example, Seed, ToolInput, Toolset, single
from ..server.untrusted import one_line, quote_untrusted
from ._people import SAMPLE, people
from ._responses import Group, GroupPage, MemberPage
from ._routes import GROUP, GROUP_MEMBERS
from ._types import Cursor, GroupId, Limit
from .contacts import ContactIds, TagSelector, is_job, queued_summary, read_contacts, resolve_selector

toolset = Toolset("groups", "Contact groups and their members.")


# Limits match the sandbox (the reference documents none): name 1-100, description up to 500.
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Field(description="Group name")
]
Description = Annotated[str, StringConstraints(max_length=500), Field(description="Short description")]
Color = Annotated[
    str,
    StringConstraints(pattern=r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"),
    Field(description="Hex colour, e.g. #F59E0B"),
]
Search = Annotated[
    str, StringConstraints(min_length=1, max_length=100), Field(description="Name or description contains")
]

MAX_NAMED = 10  # contacts a tag-selected add names in its result


def _label(group: dict[str, Any]) -> str:
    return f"{quote_untrusted(group.get('name') or '?', 60)} ({group.get('contactCount', 0)} members)"


def _group_body(name: str | None, description: str | None, color: str | None) -> dict[str, Any]:
    return given({"name": name, "description": description, "color": color})


class ListGroupsInput(ToolInput):
    limit: Limit | None = None
    cursor: Cursor | None = None
    search: Search | None = None


@toolset.tool(GET("/api/v1/contacts/groups"), Effect.READ, output=GroupPage)
async def list_groups(call: CallContext, args: ListGroupsInput) -> Reply:
    """List or search contact groups with their member counts."""
    data = await call.api(query={"limit": args.limit, "cursor": args.cursor, "search": args.search})
    groups = data.get("groups") or []
    more = " (more: pass next_cursor)" if data.get("nextCursor") else ""
    return Reply(
        f"{len(groups)} of {data.get('total', len(groups))} group(s){more}", data, next_cursor=data.get("nextCursor")
    )


class GroupRef(ToolInput):
    group_id: GroupId


@toolset.tool(GROUP, Effect.READ, output=Group, example=Example({"group_id": Seed("VIP_GROUP_ID")}))
async def get_group(call: CallContext, args: GroupRef) -> Reply:
    """One contact group by id."""
    data = await call.api(path={"groupId": args.group_id})
    return Reply(f"Group {_label(data)}", data)


class CreateGroupInput(ToolInput):
    name: Name
    description: Description | None = None
    color: Color | None = None


@toolset.tool(
    POST("/api/v1/contacts/groups"), Effect.WRITE,
    plan=single(lambda args: f"Create group {quote_untrusted(args.name, 60)}"),
    example=Example({"name": "Clients VIP 2"}),
)
async def create_group(call: CallContext, args: CreateGroupInput) -> Reply:
    """Create an empty contact group; then add_group_members."""
    data = await call.send_plan()
    return Reply(f"Created group {quote_untrusted(data.get('name') or '?', 60)}, id {data.get('id')}", data)


class UpdateGroupInput(ToolInput):
    group_id: GroupId
    name: Name | None = None
    description: Description | None = None
    color: Color | None = None


def _update_group_action(args: UpdateGroupInput) -> str:
    """The PUT of the fields given; a call that changes nothing is refused (nothing is sent)."""
    change = _group_body(args.name, args.description, args.color)
    if not change:
        raise ToolError("nothing to update: give at least one of name, description, color")
    return f"Update group {args.group_id} ({', '.join(change)})"


@toolset.tool(
    PUT("/api/v1/contacts/groups/{groupId}"), Effect.WRITE, plan=single(_update_group_action),
    example=Example({"group_id": Seed("VIP_GROUP_ID"), "name": "VIP 2"}),
)
async def update_group(call: CallContext, args: UpdateGroupInput) -> Reply:
    """Rename a group or change its description or colour; omitted fields keep their value."""
    data = await call.send_plan()
    request = call.request
    return Reply(f"Updated group {_label(data)} ({', '.join(request.json)})", data)


class GroupInput(ToolInput):
    group_id: GroupId


async def plan_delete_group(call: CallContext, input: GroupInput) -> Plan:
    """Which group goes and how many members it has (the contacts themselves stay)."""
    group_id: str = input.group_id
    group = await call.api.call(GROUP, path={"groupId": group_id})
    page = await call.api.call(GROUP_MEMBERS, path={"groupId": group_id}, query={"limit": SAMPLE})
    count = int(group.get("contactCount") or page.get("total") or 0)
    _, who = people(page.get("members") or [], count)
    preview = Preview(
        action=f"Delete group {_label(group)}; the contacts themselves are kept",
        details={"group": one_line(group.get("name") or "", 80), "members": count, "who": who, "id": group_id},
    )
    return call.plan_from(preview, path={"groupId": group_id})


@toolset.tool(
    DELETE("/api/v1/contacts/groups/{groupId}"), Effect.DELETE, plan=plan_delete_group,
    example=Example({"group_id": Seed("LEADS_GROUP_ID")}),
)
async def delete_group(call: CallContext, args: GroupInput) -> Reply:
    """Delete a group (its contacts are kept)."""
    data = await call.send_plan()
    request = call.request
    assert request.path is not None
    return Reply(f"Deleted group {request.path['groupId']}", data)


class AddMembersInput(ToolInput):
    group_id: GroupId
    contact_ids: ContactIds | None = None
    tags: TagSelector | None = None


def _tagged(tags: Sequence[str] | None) -> str:
    return f" tagged {', '.join(repr(t) for t in tags)}" if tags else ""


async def plan_add_group_members(call: CallContext, input: AddMembersInput) -> Plan:
    """The POST with explicit ids: a tag selector is resolved here (the reads the tool always made), so
    the request carries exactly the contacts found. No contact tagged: a plan of no request."""
    tags = list(input.tags) if input.tags is not None else None
    contact_ids = list(input.contact_ids) if input.contact_ids is not None else None
    ids, selection = await resolve_selector(call, contact_ids, tags, verb="added")
    details: dict[str, Any] = {"tags": tags} if tags else {}
    if selection is not None:
        details |= {"selected": selection.who(MAX_NAMED), "selectedCount": len(ids)}
        if not selection.contacts:  # nothing to send: the body says so instead of posting an empty list
            preview = Preview(action=f"Add nobody: {selection.describe()}", details={**details, "nobody": selection.describe()})
            return replace(call.plan_from(preview), requests=())
    preview = Preview(action=f"Add {len(ids)} contact(s){_tagged(tags)} to group {input.group_id}", details=details)
    return call.plan_from(preview, path={"groupId": input.group_id}, json={"contactIds": ids})


@toolset.tool(
    POST("/api/v1/contacts/groups/{groupId}/members"), Effect.WRITE, plan=plan_add_group_members,
    example=Example({"group_id": Seed("VIP_GROUP_ID"), "contact_ids": [Seed("AWA_CONTACT_ID")]}),
)
async def add_group_members(call: CallContext, args: AddMembersInput) -> Reply:
    """Add contacts to a group, by ids or by tags; 100+ contacts return a bulk job."""
    plan = call.planned
    selected = {key: plan.details[key] for key in ("selected", "selectedCount") if key in plan.details}
    if not plan.requests:
        return Reply(f"Nothing added: {plan.details['nobody']}", {"added": 0, "total": 0, "selected": []})
    data = await call.send_plan()
    ids: list[str] = call.request.json["contactIds"]
    which = _tagged(args.tags)
    if is_job(data):
        return Reply(queued_summary(data, f"add {len(ids)} contacts{which} to the group"), data | selected)
    return Reply(
        f"Added {data.get('added')} of {data.get('total', len(ids))}{which}; "
        f"{data.get('alreadyInGroup')} already in group, {data.get('notFound')} not found",
        data | selected,
    )


class RemoveMembersInput(ToolInput):
    group_id: GroupId
    contact_ids: ContactIds


async def plan_remove_group_members(call: CallContext, input: RemoveMembersInput) -> Plan:
    """Who leaves which group (named from the first few ids; the contacts themselves stay)."""
    group_id: str = input.group_id
    group = await call.api.call(GROUP, path={"groupId": group_id})
    ids = list(dict.fromkeys(input.contact_ids))
    found, missing = await read_contacts(call.api, ids[:SAMPLE])
    line, who = people(found, len(ids))
    preview = Preview(
        action=f"Remove {len(ids)} contact(s) from group {_label(group)} (the contacts are kept): {line}",
        details={"group": one_line(group.get("name") or "", 80), "who": who, "id": group_id},
    )
    if missing:
        preview.warnings.append(f"{len(missing)} of the first {min(len(ids), SAMPLE)} id(s) match no contact")
    return call.plan_from(preview, path={"groupId": group_id}, json={"contactIds": ids})


@toolset.tool(
    DELETE("/api/v1/contacts/groups/{groupId}/members"), Effect.WRITE, destructive=True, plan=plan_remove_group_members,
    example=Example({"group_id": Seed("VIP_GROUP_ID"), "contact_ids": [Seed("AWA_CONTACT_ID")]}),
)
async def remove_group_members(call: CallContext, args: RemoveMembersInput) -> Reply:
    """Remove contacts from a group (contacts are kept); 100+ ids return a bulk job."""
    data = await call.send_plan()
    count = len(call.request.json["contactIds"])
    if is_job(data):
        return Reply(queued_summary(data, f"remove {count} contacts from the group"), data)
    return Reply(f"Removed {data.get('removed')} of {count}; {data.get('notInGroup')} were not in the group", data)


class ListMembersInput(ToolInput):
    group_id: GroupId
    limit: Limit | None = None
    cursor: Cursor | None = None


@toolset.tool(GROUP_MEMBERS, Effect.READ, output=MemberPage, example=Example({"group_id": Seed("VIP_GROUP_ID")}))
async def list_group_members(call: CallContext, args: ListMembersInput) -> Reply:
    """List the contacts in a group."""
    data = await call.api(path={"groupId": args.group_id}, query={"limit": args.limit, "cursor": args.cursor})
    members = data.get("members") or []
    more = " (more: pass next_cursor)" if data.get("nextCursor") else ""
    return Reply(f"{len(members)} member(s){more}", data, next_cursor=data.get("nextCursor"))
