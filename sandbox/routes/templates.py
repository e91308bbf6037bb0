"""Templates: page-based list, CRUD, preview."""

from __future__ import annotations

import math
from typing import Any

from .. import campaign_runs
from .. import seed as S
from ..errors import ApiError
from ..store import Ctx, dumps, loads
from ..templating import extract, render
from ..util import F, is_public_url, iso, new_id, public, query_int, raise_if, validate
from .base import MISSING, UNKNOWN, Call, RouteSpec, route
from .messages import check_variables

ROUTES: list[RouteSpec] = []
TEMPLATE_TYPES = ("text", "image", "video", "audio", "document")
SPEC = {
    "name": F("string", required=True, min_len=1, max_len=200),
    "type": F("enum", required=True, enum=TEMPLATE_TYPES),
    "body": F("string", max_len=4096),
    "mediaUrl": F("string"),
}
UPDATE_SPEC = {k: F(f.kind, enum=f.enum, min_len=f.min_len, max_len=f.max_len) for k, f in SPEC.items()}


def _check(t: dict[str, Any]) -> None:
    details: list[dict[str, Any]] = []
    if t["type"] == "text" and not t.get("body"):
        details.append({"field": "body", "message": "Required for type=text"})
    if t["type"] != "text":
        if not t.get("mediaUrl"):
            details.append({"field": "mediaUrl", "message": f"Required for type={t['type']}"})
        elif not is_public_url(t["mediaUrl"]):
            details.append({"field": "mediaUrl", "message": "Expected a public http(s) URL"})
    raise_if(details)
    t["variables"] = extract(t.get("body"))


@route(ROUTES, "GET", "/templates")
def list_templates(ctx: Ctx) -> dict[str, Any]:
    page = query_int(ctx.query, "page", 1, 1_000_000)
    limit = query_int(ctx.query, "limit", 20, 100)
    total = ctx.db.execute("SELECT count(*) FROM templates WHERE ws = ?", (ctx.ws,)).fetchone()[0]
    rows = ctx.db.execute("SELECT data FROM templates WHERE ws = ? ORDER BY rid DESC LIMIT ? OFFSET ?",
                          (ctx.ws, limit, (page - 1) * limit))
    return {"templates": [public(loads(r["data"])) for r in rows], "total": total, "page": page,
            "totalPages": math.ceil(total / limit)}


@route(ROUTES, "POST", "/templates", 201,
       example=Call({"name": "Relance panier", "type": "text", "body": "Hello {{contact.firstName}}"}),
       errors={
           "VALIDATION_ERROR": Call({"name": "x", "type": "image", "body": "no media"}),
           "TEMPLATE_INVALID": Call({"name": "x", "type": "text", "body": "Hi {{ foo.bar }}"}),
       })
def create(ctx: Ctx) -> dict[str, Any]:
    body = validate(ctx.body, SPEC)
    t = {"id": new_id(), "name": body["name"], "type": body["type"], "body": body.get("body"),
         "mediaUrl": body.get("mediaUrl"), "variables": [], "createdAt": iso(ctx.now), "updatedAt": iso(ctx.now)}
    _check(t)
    ctx.db.execute("INSERT INTO templates (id, ws, data) VALUES (?, ?, ?)", (t["id"], ctx.ws, dumps(t)))
    ctx.created_id = t["id"]
    return public(t)


@route(ROUTES, "GET", "/templates/{id}", example=Call(id=S.PROMO_TEMPLATE_ID), errors={"NOT_FOUND": UNKNOWN})
def get_template(ctx: Ctx, id: str) -> dict[str, Any]:
    return public(ctx.get("templates", id, "Template"))


@route(ROUTES, "PUT", "/templates/{id}",
       example=Call({"body": "Hi {{contact.firstName}}, code {{custom.code}}"}, id=S.PROMO_TEMPLATE_ID),
       errors={
           "NOT_FOUND": Call({"name": "x"}, id=MISSING),
           "VALIDATION_ERROR": Call({"type": "sticker"}, id=S.PROMO_TEMPLATE_ID),
           "TEMPLATE_INVALID": Call({"body": "Hi {{contact.first name}}"}, id=S.PROMO_TEMPLATE_ID),
       })
def update(ctx: Ctx, id: str) -> dict[str, Any]:
    t = ctx.get("templates", id, "Template")
    body = validate(ctx.body, UPDATE_SPEC)  # partial update: omitted fields keep their value
    t.update(body)
    _check(t)
    t["updatedAt"] = iso(ctx.now)
    ctx.save("templates", t)
    return public(t)


@route(ROUTES, "DELETE", "/templates/{id}", example=Call(id=S.PROMO_TEMPLATE_ID), errors={"NOT_FOUND": UNKNOWN})
def delete(ctx: Ctx, id: str) -> dict[str, Any]:
    ctx.get("templates", id, "Template")
    # inferred(template-in-use): §9.3 documents no answer for deleting a template that a pending campaign
    # renders; the sandbox refuses with the documented 409 CONFLICT (never a blank or failed send later).
    in_use = campaign_runs.uses_template(ctx.db, ctx.ws, id)
    if in_use:
        raise ApiError("CONFLICT", f"Template is used by {len(in_use)} pending campaign(s)",
                       [{"field": "campaignId", "message": cid} for cid in in_use[:10]])
    ctx.db.execute("DELETE FROM templates WHERE id = ?", (id,))
    return {"id": id, "deleted": True}


@route(ROUTES, "POST", "/templates/{id}/preview",
       example=Call({"contactId": S.AWA_CONTACT_ID, "variables": {"code": "PROMO10"}}, id=S.PROMO_TEMPLATE_ID),
       errors={
           "NOT_FOUND": Call({}, id=MISSING),
           "TEMPLATE_CONTEXT_UNAVAILABLE": Call({"contactId": MISSING}, id=S.PROMO_TEMPLATE_ID),
       })
def preview(ctx: Ctx, id: str) -> dict[str, Any]:
    t = ctx.get("templates", id, "Template")
    body = validate(ctx.body, {"instanceId": F("uuid"), "contactId": F("uuid"), "variables": F("object")})
    variables = body.get("variables") or {}
    check_variables(variables)
    contact = instance = None
    if "contactId" in body:
        contact = ctx.find("contacts", body["contactId"])
        if contact is None:
            raise ApiError("TEMPLATE_CONTEXT_UNAVAILABLE", "Contact context unavailable",
                           [{"field": "contactId", "message": "No such contact in this workspace"}])
    if "instanceId" in body:
        instance = ctx.find("instances", body["instanceId"])
        if instance is None:
            raise ApiError("TEMPLATE_CONTEXT_UNAVAILABLE", "Instance context unavailable",
                           [{"field": "instanceId", "message": "No such instance in this workspace"}])
    rendered, missing = render(t.get("body") or "", ctx.db, contact=contact, instance=instance,
                               user_id=ctx.user_id, variables=variables)
    return {"rendered": rendered, "variables": t["variables"], "missingVariables": missing, "valid": not missing}
