"""Contact groups (under /api/v1/contacts/groups) and their members."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field, StringConstraints

from ..server.api import Api
from ..server.registry import DELETE, GET, POST, PUT, Effect, Toolset
from ..server.results import Preview, Reply
from ..server.untrusted import one_line, quote_untrusted
from ._people import SAMPLE, people
from ._responses import Group, GroupPage, MemberPage
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

GROUP = GET("/api/v1/contacts/groups/{groupId}")
GROUP_MEMBERS = GET("/api/v1/contacts/groups/{groupId}/members")
MAX_NAMED = 10  # contacts a tag-selected add names in its result


def _label(group: dict[str, Any]) -> str:
    return f"{quote_untrusted(group.get('name') or '?', 60)} ({group.get('contactCount', 0)} members)"


def _group_body(name: str | None, description: str | None, color: str | None) -> dict[str, Any]:
    values = {"name": name, "description": description, "color": color}
    return {key: value for key, value in values.items() if value is not None}


@toolset.tool(GET("/api/v1/contacts/groups"), Effect.READ, output=GroupPage)
async def list_groups(
    api: Api, limit: Limit | None = None, cursor: Cursor | None = None, search: Search | None = None
) -> Reply:
    """List or search contact groups with their member counts."""
    data = await api(query={"limit": limit, "cursor": cursor, "search": search})
    groups = data.get("groups") or []
    more = " (more: pass next_cursor)" if data.get("nextCursor") else ""
    return Reply(
        f"{len(groups)} of {data.get('total', len(groups))} group(s){more}", data, next_cursor=data.get("nextCursor")
    )


@toolset.tool(GROUP, Effect.READ, output=Group)
async def get_group(api: Api, group_id: GroupId) -> Reply:
    """One contact group by id."""
    data = await api(path={"groupId": group_id})
    return Reply(f"Group {_label(data)}", data)


@toolset.tool(POST("/api/v1/contacts/groups"), Effect.WRITE)
async def create_group(
    api: Api, name: Name, description: Description | None = None, color: Color | None = None
) -> Reply:
    """Create an empty contact group; then add_group_members."""
    data = await api(json=_group_body(name, description, color))
    return Reply(f"Created group {quote_untrusted(data.get('name') or '?', 60)}, id {data.get('id')}", data)


@toolset.tool(PUT("/api/v1/contacts/groups/{groupId}"), Effect.WRITE)
async def update_group(
    api: Api,
    group_id: GroupId,
    name: Name | None = None,
    description: Description | None = None,
    color: Color | None = None,
) -> Reply:
    """Rename a group or change its description or colour; omitted fields keep their value."""
    change = _group_body(name, description, color)
    if not change:
        raise ToolError("nothing to update: give at least one of name, description, color")
    data = await api(path={"groupId": group_id}, json=change)
    return Reply(f"Updated group {_label(data)} ({', '.join(change)})", data)


async def preview_delete_group(api: Api, group_id: str) -> Preview:
    group = await api.call(GROUP, path={"groupId": group_id})
    page = await api.call(GROUP_MEMBERS, path={"groupId": group_id}, query={"limit": SAMPLE})
    count = int(group.get("contactCount") or page.get("total") or 0)
    _, who = people(page.get("members") or [], count)
    return Preview(
        action=f"Delete group {_label(group)}; the contacts themselves are kept",
        details={"group": one_line(group.get("name") or "", 80), "members": count, "who": who, "id": group_id},
    )


@toolset.tool(DELETE("/api/v1/contacts/groups/{groupId}"), Effect.DELETE, preview=preview_delete_group)
async def delete_group(api: Api, group_id: GroupId) -> Reply:
    """Delete a group (its contacts are kept)."""
    data = await api(path={"groupId": group_id})
    return Reply(f"Deleted group {group_id}", data)


@toolset.tool(POST("/api/v1/contacts/groups/{groupId}/members"), Effect.WRITE)
async def add_group_members(
    api: Api, group_id: GroupId, contact_ids: ContactIds | None = None, tags: TagSelector | None = None
) -> Reply:
    """Add contacts to a group, by ids or by tags; 100+ contacts return a bulk job."""
    ids, selection = await resolve_selector(api, contact_ids, tags, verb="added")
    selected: dict[str, Any] = {}
    if selection is not None:
        if not selection.contacts:
            return Reply(f"Nothing added: {selection.describe()}", {"added": 0, "total": 0, "selected": []})
        selected = {"selected": selection.who(MAX_NAMED), "selectedCount": len(ids)}
    data = await api(path={"groupId": group_id}, json={"contactIds": ids})
    which = f" tagged {', '.join(repr(t) for t in tags)}" if tags else ""
    if is_job(data):
        return Reply(queued_summary(data, f"add {len(ids)} contacts{which} to the group"), data | selected)
    return Reply(
        f"Added {data.get('added')} of {data.get('total', len(ids))}{which}; "
        f"{data.get('alreadyInGroup')} already in group, {data.get('notFound')} not found",
        data | selected,
    )


async def preview_remove_group_members(api: Api, group_id: str, contact_ids: list[str]) -> Preview:
    group = await api.call(GROUP, path={"groupId": group_id})
    ids = list(dict.fromkeys(contact_ids))
    found, missing = await read_contacts(api, ids[:SAMPLE])
    line, who = people(found, len(ids))
    preview = Preview(
        action=f"Remove {len(ids)} contact(s) from group {_label(group)} (the contacts are kept): {line}",
        details={"group": one_line(group.get("name") or "", 80), "who": who, "id": group_id},
    )
    if missing:
        preview.warnings.append(f"{len(missing)} of the first {min(len(ids), SAMPLE)} id(s) match no contact")
    return preview


@toolset.tool(
    DELETE("/api/v1/contacts/groups/{groupId}/members"), Effect.WRITE, destructive=True,
    preview=preview_remove_group_members,
)
async def remove_group_members(api: Api, group_id: GroupId, contact_ids: ContactIds) -> Reply:
    """Remove contacts from a group (contacts are kept); 100+ ids return a bulk job."""
    data = await api(path={"groupId": group_id}, json={"contactIds": contact_ids})
    if is_job(data):
        return Reply(queued_summary(data, f"remove {len(contact_ids)} contacts from the group"), data)
    return Reply(
        f"Removed {data.get('removed')} of {len(contact_ids)}; {data.get('notInGroup')} were not in the group", data
    )


@toolset.tool(GROUP_MEMBERS, Effect.READ, output=MemberPage)
async def list_group_members(
    api: Api, group_id: GroupId, limit: Limit | None = None, cursor: Cursor | None = None
) -> Reply:
    """List the contacts in a group."""
    data = await api(path={"groupId": group_id}, query={"limit": limit, "cursor": cursor})
    members = data.get("members") or []
    more = " (more: pass next_cursor)" if data.get("nextCursor") else ""
    return Reply(f"{len(members)} member(s){more}", data, next_cursor=data.get("nextCursor"))
