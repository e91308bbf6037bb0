"""Contact groups: list (cursor, search), CRUD, members (sync < 100 ids, else async job)."""

from __future__ import annotations

import sqlite3
from typing import Any

from .. import seed as S
from ..errors import ApiError, invalid
from ..lifecycle import add_member, remove_member
from ..quotas import limits
from ..store import Ctx, dumps, loads
from ..util import (
    F,
    decode_cursor,
    encode_cursor,
    is_hex_color,
    iso,
    like_contains,
    new_id,
    query_int,
    query_search,
    validate,
)
from .base import MISSING, UNKNOWN, Call, RouteSpec, route

ROUTES: list[RouteSpec] = []
SPEC = {
    "name": F("string", required=True, min_len=1, max_len=100),
    "description": F("string", max_len=500),
    "color": F("string", max_len=7),
}
UPDATE_SPEC = {"name": F("string", min_len=1, max_len=100), "description": F("string", max_len=500), "color": F("string", max_len=7)}
IDS_SPEC = {"contactIds": F("uuid[]", required=True, min_items=1, max_items=10_000)}


def group_out(ctx: Ctx, g: dict[str, Any]) -> dict[str, Any]:
    n = ctx.db.execute("SELECT count(*) FROM group_members WHERE group_id = ?", (g["id"],)).fetchone()[0]
    return {"id": g["id"], "name": g["name"], "description": g.get("description"), "color": g.get("color"),
            "contactCount": n, "createdAt": g["createdAt"]}


def _color(body: dict[str, Any]) -> None:
    if "color" in body and not is_hex_color(body["color"]):
        raise invalid([{"field": "color", "message": "Expected a hex colour such as #F59E0B"}])


def _conflict() -> ApiError:
    return ApiError("CONFLICT", "A group with this name already exists", [{"field": "name", "message": "Already used"}])


@route(ROUTES, "GET", "/contacts/groups")
def list_groups(ctx: Ctx) -> dict[str, Any]:
    limit = query_int(ctx.query, "limit", 50, 100)
    search = query_search(ctx.query)
    where, args = "ws = ?", list[Any]([ctx.ws])
    if search:
        like = like_contains(search)
        where += " AND (name_lc LIKE ? ESCAPE '\\' OR lower(json_extract(data, '$.description')) LIKE ? ESCAPE '\\')"
        args += [like, like]
    total = ctx.db.execute(f"SELECT count(*) FROM groups WHERE {where}", args).fetchone()[0]
    if ctx.query.get("cursor"):
        rid, _ = decode_cursor(ctx.query["cursor"])
        if not rid.isdigit():
            raise invalid([{"field": "cursor", "message": "Invalid cursor"}])
        where += " AND rid > ?"
        args.append(int(rid))
    rows = ctx.db.execute(f"SELECT rid, id, data FROM groups WHERE {where} ORDER BY rid LIMIT ?", [*args, limit + 1]).fetchall()
    has_more = len(rows) > limit
    rows = rows[:limit]
    return {"groups": [group_out(ctx, loads(r["data"])) for r in rows], "total": total, "limit": limit,
            "nextCursor": encode_cursor(rows[-1]["rid"], rows[-1]["id"]) if has_more else None, "hasMore": has_more}


@route(ROUTES, "POST", "/contacts/groups", 201,
       example=Call({"name": "Clients VIP", "description": "...", "color": "#F59E0B"}),
       errors={
           "VALIDATION_ERROR": Call({"name": "x", "color": "yellow"}),
           "MAX_CONTACT_GROUPS_REACHED": Call({"name": "x"}, account={"plan": "free"}),
       })
def create(ctx: Ctx) -> dict[str, Any]:
    body = validate(ctx.body, SPEC)
    _color(body)
    cap = limits(ctx.db).get("maxContactGroups")
    count = ctx.db.execute("SELECT count(*) FROM groups WHERE ws = ?", (ctx.ws,)).fetchone()[0]
    if cap is not None and count >= cap:
        raise ApiError("MAX_CONTACT_GROUPS_REACHED", f"Your plan allows {cap} contact groups")
    g = {"id": new_id(), "name": body["name"], "description": body.get("description"), "color": body.get("color"),
         "createdAt": iso(ctx.now), "updatedAt": iso(ctx.now)}
    try:
        ctx.db.execute("INSERT INTO groups (id, ws, name_lc, data) VALUES (?, ?, ?, ?)", (g["id"], ctx.ws, g["name"].lower(), dumps(g)))
    except sqlite3.IntegrityError:
        raise _conflict() from None
    ctx.created_id = g["id"]
    return group_out(ctx, g)


@route(ROUTES, "GET", "/contacts/groups/{groupId}", example=Call(id=S.VIP_GROUP_ID), errors={"NOT_FOUND": UNKNOWN})
def get_group(ctx: Ctx, groupId: str) -> dict[str, Any]:
    return group_out(ctx, ctx.get("groups", groupId, "Group"))


@route(ROUTES, "PUT", "/contacts/groups/{groupId}", example=Call({"description": "Updated"}, id=S.VIP_GROUP_ID),
       errors={
           "NOT_FOUND": Call({"name": "x"}, id=MISSING),
           "VALIDATION_ERROR": Call({"name": ""}, id=S.VIP_GROUP_ID),
           "CONFLICT": Call({"name": "Leads"}, id=S.VIP_GROUP_ID),
       })
def update(ctx: Ctx, groupId: str) -> dict[str, Any]:
    g = ctx.get("groups", groupId, "Group")
    body = validate(ctx.body, UPDATE_SPEC)
    _color(body)
    g.update(body)
    g["updatedAt"] = iso(ctx.now)
    try:
        ctx.db.execute("UPDATE groups SET name_lc = ?, data = ? WHERE id = ?", (g["name"].lower(), dumps(g), groupId))
    except sqlite3.IntegrityError:
        raise _conflict() from None
    return group_out(ctx, g)


@route(ROUTES, "DELETE", "/contacts/groups/{groupId}", example=Call(id=S.VIP_GROUP_ID), errors={"NOT_FOUND": UNKNOWN})
def delete(ctx: Ctx, groupId: str) -> dict[str, Any]:
    ctx.get("groups", groupId, "Group")
    ctx.db.execute("DELETE FROM group_members WHERE group_id = ?", (groupId,))  # contacts themselves are kept
    ctx.db.execute("DELETE FROM groups WHERE id = ?", (groupId,))
    return {"id": groupId, "deleted": True}


@route(ROUTES, "GET", "/contacts/groups/{groupId}/members", example=Call(id=S.VIP_GROUP_ID),
       errors={"NOT_FOUND": UNKNOWN})
def members(ctx: Ctx, groupId: str) -> dict[str, Any]:
    ctx.get("groups", groupId, "Group")
    limit = query_int(ctx.query, "limit", 50, 100)
    sql, args = ("SELECT m.rid, c.data, m.added_at FROM group_members m JOIN contacts c ON c.id = m.contact_id "
                 "WHERE m.group_id = ?"), list[Any]([groupId])
    if ctx.query.get("cursor"):
        rid, _ = decode_cursor(ctx.query["cursor"])
        if not rid.isdigit():
            raise invalid([{"field": "cursor", "message": "Invalid cursor"}])
        sql += " AND m.rid > ?"
        args.append(int(rid))
    rows = ctx.db.execute(sql + " ORDER BY m.rid LIMIT ?", [*args, limit + 1]).fetchall()
    has_more = len(rows) > limit
    rows = rows[:limit]
    out = []
    for r in rows:
        c = loads(r["data"])
        out.append({"id": c["id"], "name": c["name"], "phone": c["phone"], "tags": c.get("tags", []), "addedAt": r["added_at"]})
    return {"members": out, "nextCursor": encode_cursor(rows[-1]["rid"], out[-1]["id"]) if has_more else None, "hasMore": has_more}


@route(ROUTES, "POST", "/contacts/groups/{groupId}/members",
       example=Call({"contactIds": [S.contact_id("+33612345001"), S.AWA_CONTACT_ID]}, id=S.VIP_GROUP_ID),
       errors={
           "NOT_FOUND": Call({"contactIds": [MISSING]}, id=MISSING),
           "VALIDATION_ERROR": Call({"contactIds": ["not-a-uuid"]}, id=S.VIP_GROUP_ID),
       })
def add_members(ctx: Ctx, groupId: str) -> Any:
    from .bulk_jobs import ASYNC_THRESHOLD, start_job

    ctx.get("groups", groupId, "Group")
    ids: list[str] = list(dict.fromkeys(validate(ctx.body, IDS_SPEC)["contactIds"]))
    if len(ids) >= ASYNC_THRESHOLD:
        return 202, start_job(ctx, "add_to_group", ids, groupId)
    summary = {"added": 0, "alreadyInGroup": 0, "notFound": 0}
    for cid in ids:
        summary[add_member(ctx.db, ctx.ws, groupId, cid, ctx.now)] += 1
    return {**summary, "total": len(ids)}


@route(ROUTES, "DELETE", "/contacts/groups/{groupId}/members",
       example=Call({"contactIds": [S.AWA_CONTACT_ID, S.contact_id("+33612345001")]}, id=S.VIP_GROUP_ID),
       errors={
           "NOT_FOUND": Call({"contactIds": [MISSING]}, id=MISSING),
           "VALIDATION_ERROR": Call({"ids": [MISSING]}, id=S.VIP_GROUP_ID),
       })
def remove_members(ctx: Ctx, groupId: str) -> Any:
    from .bulk_jobs import ASYNC_THRESHOLD, start_job

    ctx.get("groups", groupId, "Group")
    ids: list[str] = list(dict.fromkeys(validate(ctx.body, IDS_SPEC)["contactIds"]))
    if len(ids) >= ASYNC_THRESHOLD:
        return 202, start_job(ctx, "remove_from_group", ids, groupId)
    summary = {"removed": 0, "notInGroup": 0}
    for cid in ids:
        summary[remove_member(ctx.db, groupId, cid)] += 1
    return summary
