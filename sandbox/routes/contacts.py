"""Contacts: cursor list (search, sort), CRUD, bulk delete (sync < 100 ids, else async job), groups of a contact."""

from __future__ import annotations

import sqlite3
from typing import Any

from .. import seed as S
from ..errors import ApiError, invalid
from ..lifecycle import delete_contact
from ..store import Ctx, dumps, loads
from ..util import (
    F,
    decode_cursor,
    e164,
    encode_cursor,
    iso,
    like_contains,
    new_id,
    parse_iso,
    public,
    query_int,
    query_search,
    validate,
)
from .base import MISSING, UNKNOWN, Call, RouteSpec, route
from .bulk_jobs import ASYNC_THRESHOLD, start_job
from .groups import group_out

ROUTES: list[RouteSpec] = []
SORTS = ("createdAt_desc", "name_asc")
SPEC = {
    "name": F("string", required=True, min_len=1, max_len=200),
    "phone": F("string", required=True, max_len=32),
    "tags": F("string[]", max_items=100),
    "meta": F("object"),
}
UPDATE_SPEC = {
    "name": F("string", min_len=1, max_len=200),
    "phone": F("string", max_len=32),
    "tags": F("string[]", max_items=100),
    "meta": F("object"),
}
IDS_SPEC = {"contactIds": F("uuid[]", required=True, min_items=1, max_items=10_000)}


def _list_item(c: dict[str, Any]) -> dict[str, Any]:
    return {k: c.get(k) for k in ("id", "name", "phone", "tags", "temperature", "createdAt", "updatedAt")}


def _phone(value: str) -> str:
    phone = e164(value)
    if phone is None:
        raise invalid([{"field": "phone", "message": "Expected a valid E.164 number such as +33612345678"}])
    return phone


def _clean_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in tags if t.strip()))


@route(ROUTES, "GET", "/contacts", errors={"VALIDATION_ERROR": Call(query="limit=101")})
def list_contacts(ctx: Ctx) -> dict[str, Any]:
    q = ctx.query
    limit = query_int(q, "limit", 50, 100)
    search = query_search(q)
    sort = q.get("sort") or "createdAt_desc"
    if sort not in SORTS:
        raise invalid([{"field": "sort", "message": "One of createdAt_desc, name_asc"}])
    where = "ws = ?"
    args: list[Any] = [ctx.ws]
    if search:
        like = like_contains(search)
        where += " AND (name_lc LIKE ? ESCAPE '\\' OR phone LIKE ? ESCAPE '\\')"
        args += [like, like]
    total = ctx.db.execute(f"SELECT count(*) FROM contacts WHERE {where}", args).fetchone()[0]
    page_where, page_args = where, list(args)
    if q.get("cursor"):
        value, cid = decode_cursor(q["cursor"])
        # The cursor encodes the sort tuple; a createdAt cursor is a timestamp, a name cursor is not.
        looks_like_time = parse_iso(value) is not None
        if (sort == "createdAt_desc") != looks_like_time:
            raise invalid([{"field": "cursor", "message": "Cursor was issued for another sort order"}])
        if sort == "createdAt_desc":
            page_where += " AND (created_at < ? OR (created_at = ? AND id < ?))"
        else:
            page_where += " AND (name_lc > ? OR (name_lc = ? AND id > ?))"
        page_args += [value, value, cid]
    order = "created_at DESC, id DESC" if sort == "createdAt_desc" else "name_lc ASC, id ASC"
    rows = ctx.db.execute(f"SELECT data, created_at, name_lc, id FROM contacts WHERE {page_where} ORDER BY {order} LIMIT ?",
                          [*page_args, limit + 1]).fetchall()
    has_more = len(rows) > limit
    rows = rows[:limit]
    cursor = None
    if has_more:
        last = rows[-1]
        cursor = encode_cursor(last["created_at"] if sort == "createdAt_desc" else last["name_lc"], last["id"])
    return {"contacts": [_list_item(loads(r["data"])) for r in rows], "total": total, "limit": limit, "sort": sort,
            "nextCursor": cursor, "hasMore": has_more}


def _insert(ctx: Ctx, c: dict[str, Any]) -> None:
    try:
        ctx.db.execute("INSERT INTO contacts (id, ws, phone, name_lc, created_at, data) VALUES (?, ?, ?, ?, ?, ?)",
                       (c["id"], ctx.ws, c["phone"], c["name"].lower(), c["createdAt"], dumps(c)))
    except sqlite3.IntegrityError:
        raise ApiError("CONFLICT", "A contact with this phone number already exists",
                       [{"field": "phone", "message": "Already used by another contact"}]) from None


def create_contact(ctx: Ctx, name: str, phone: str, tags: list[str], meta: dict[str, Any]) -> dict[str, Any]:
    c = {"id": new_id(), "name": name, "phone": phone, "tags": _clean_tags(tags), "temperature": None, "meta": meta,
         "createdAt": iso(ctx.now), "updatedAt": iso(ctx.now)}
    _insert(ctx, c)
    return c


@route(ROUTES, "POST", "/contacts", 201,
       example=Call({"name": "Awa Doe", "phone": "+33612345100", "tags": ["vip"]}),
       errors={
           "VALIDATION_ERROR": Call({"name": "x", "phone": "0612345678"}),
           "CONFLICT": Call({"name": "Twin", "phone": "+33612345000"}),
       })
def create(ctx: Ctx) -> dict[str, Any]:
    body = validate(ctx.body, SPEC)
    c = create_contact(ctx, body["name"].strip() or body["name"], _phone(body["phone"]), body.get("tags", []), body.get("meta", {}))
    ctx.created_id = c["id"]
    return public(c)


@route(ROUTES, "GET", "/contacts/{id}", example=Call(id=S.AWA_CONTACT_ID), errors={"NOT_FOUND": UNKNOWN})
def get_contact(ctx: Ctx, id: str) -> dict[str, Any]:
    return public(ctx.get("contacts", id, "Contact"))


@route(ROUTES, "PUT", "/contacts/{id}",
       example=Call({"tags": ["vip", "customer"], "meta": {"city": "Lyon"}}, id=S.AWA_CONTACT_ID),
       errors={"NOT_FOUND": Call({"name": "x"}, id=MISSING), "VALIDATION_ERROR": Call({"tags": "vip"}, id=S.AWA_CONTACT_ID)})
def update(ctx: Ctx, id: str) -> dict[str, Any]:
    c = ctx.get("contacts", id, "Contact")
    body = validate(ctx.body, UPDATE_SPEC)
    if "phone" in body:
        body["phone"] = _phone(body["phone"])
    if "tags" in body:
        body["tags"] = _clean_tags(body["tags"])  # replaces the whole list
    c.update(body)  # meta replaces the whole object
    c["updatedAt"] = iso(ctx.now)
    try:
        ctx.db.execute("UPDATE contacts SET phone = ?, name_lc = ?, data = ? WHERE id = ?",
                       (c["phone"], c["name"].lower(), dumps(c), id))
    except sqlite3.IntegrityError:
        raise ApiError("CONFLICT", "A contact with this phone number already exists",
                       [{"field": "phone", "message": "Already used by another contact"}]) from None
    return public(c)


@route(ROUTES, "DELETE", "/contacts/{id}", example=Call(id=S.AWA_CONTACT_ID), errors={"NOT_FOUND": UNKNOWN})
def delete(ctx: Ctx, id: str) -> dict[str, Any]:
    ctx.get("contacts", id, "Contact")
    delete_contact(ctx.db, ctx.ws, id)
    return {"id": id, "deleted": True}


@route(ROUTES, "POST", "/contacts/bulk-delete", example=Call({"contactIds": [S.AWA_CONTACT_ID, MISSING]}),
       errors={"VALIDATION_ERROR": Call({"contactIds": []})})
def bulk_delete(ctx: Ctx) -> Any:
    ids: list[str] = list(dict.fromkeys(validate(ctx.body, IDS_SPEC)["contactIds"]))
    if len(ids) >= ASYNC_THRESHOLD:
        return 202, start_job(ctx, "bulk_delete_contacts", ids, None)
    deleted, missing = 0, []
    for cid in ids:
        if delete_contact(ctx.db, ctx.ws, cid):
            deleted += 1
        else:
            missing.append(cid)
    return {"requested": len(ids), "deleted": deleted, "notFound": missing}


@route(ROUTES, "GET", "/contacts/{id}/groups", example=Call(id=S.AWA_CONTACT_ID), errors={"NOT_FOUND": UNKNOWN})
def contact_groups(ctx: Ctx, id: str) -> list[dict[str, Any]]:
    ctx.get("contacts", id, "Contact")
    rows = ctx.db.execute(
        "SELECT g.data FROM groups g JOIN group_members m ON m.group_id = g.id WHERE m.contact_id = ? AND g.ws = ? ORDER BY g.rid",
        (id, ctx.ws)).fetchall()
    return [group_out(ctx, loads(r["data"])) for r in rows]
