"""Campaigns: create (scheduled), get, stats, pause, resume.  Progress is computed lazily by
lifecycle.advance_campaign (recipients enqueued at CAMPAIGN_PACE per second)."""

from __future__ import annotations

from typing import Any

from .. import quotas
from ..errors import ApiError, invalid, not_found
from ..lifecycle import campaign_next_at, campaign_stats, safety_for, save_campaign
from ..store import Ctx, dumps, loads
from ..util import F, is_uuid, iso, new_id, parse_iso, public, raise_if, require, validate
from .base import RouteSpec, route
from .content import BUTTONS_SPEC, CAMPAIGN_TYPES, check_buttons, check_media
from .messages import check_variables

ROUTES: list[RouteSpec] = []

CREATE_SPEC: dict[str, F] = {
    "instanceId": F("uuid", required=True),
    "name": F("string", required=True, min_len=1, max_len=200),
    "schedule": F("string", required=True),
    "repeat": F("enum", enum=("none", "noe", "daily", "weekly")),
    "recipients": F("object", required=True),
    "templateId": F("uuid"),
    "variables": F("object"),
    "type": F("enum", enum=CAMPAIGN_TYPES),
    "body": F("string", min_len=1, max_len=4096),
    "mediaUrl": F("string"),
    **BUTTONS_SPEC,
}


def _recipients(ctx: Ctx, sel: dict[str, Any], details: list[dict[str, Any]]) -> list[str]:
    kind = sel.get("type")
    unknown = set(sel) - {"type", "value", "groupId"}
    for name in sorted(unknown):
        details.append({"field": f"recipients.{name}", "message": "Unknown field"})
    if kind not in ("all", "tags", "explicit", "group"):
        details.append({"field": "recipients.type", "message": "One of all, tags, explicit, group"})
        return []
    value = sel.get("value")
    if kind in ("tags", "explicit"):
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            details.append({"field": "recipients.value", "message": f"At least one {'tag' if kind == 'tags' else 'contact id'} required"})
            return []
        if kind == "explicit" and not all(is_uuid(v) for v in value):
            details.append({"field": "recipients.value", "message": "Expected contact UUIDs"})
            return []
    if kind == "group" and not is_uuid(sel.get("groupId")):
        details.append({"field": "recipients.groupId", "message": "A group UUID is required for type=group"})
        return []
    if details:
        return []
    rows = ctx.db.execute("SELECT id, data FROM contacts WHERE ws = ? ORDER BY rid", (ctx.ws,)).fetchall()
    if kind == "all":
        return [r["id"] for r in rows]
    if kind == "tags":
        wanted = set(value or [])
        return [r["id"] for r in rows if wanted & set(loads(r["data"]).get("tags") or [])]
    if kind == "explicit":
        known = {r["id"] for r in rows}
        return [cid for cid in dict.fromkeys(value or []) if cid in known]
    group = ctx.find("groups", sel["groupId"])
    if group is None:
        raise not_found("Group")
    return [r["contact_id"] for r in ctx.db.execute(
        "SELECT contact_id FROM group_members WHERE group_id = ? ORDER BY rid", (group["id"],))]


def render_campaign(ctx: Ctx, camp: dict[str, Any], full: bool = True) -> dict[str, Any]:
    out = public(camp)
    out["stats"] = campaign_stats(ctx.db, camp, full)
    return out


def _instance(ctx: Ctx, camp: dict[str, Any]) -> dict[str, Any]:
    return ctx.find("instances", camp["instanceId"]) or {"status": "disconnected"}


@route(ROUTES, "POST", "/campaigns", 201)
def create(ctx: Ctx) -> dict[str, Any]:
    body = validate(ctx.body, CREATE_SPEC)
    details: list[dict[str, Any]] = []
    mtype = body.get("type")
    if (mtype is None) == (body.get("templateId") is None):
        details.append({"field": "templateId", "message": "Provide exactly one content mode: templateId or type"})
    if mtype == "text":
        require("body" in body, "body", "Required for type=text", details)
    if mtype is not None:
        check_media(body, mtype, details)
    if mtype == "buttons":
        check_buttons(body, details)
    start = parse_iso(body["schedule"])
    if start is None:
        details.append({"field": "schedule", "message": "Expected an ISO 8601 date-time"})
    recips = _recipients(ctx, body["recipients"], details)
    raise_if(details)
    quotas.require_feature(ctx.db, "campaigns")
    instance = ctx.get("instances", body["instanceId"], "Instance")
    if body.get("templateId"):
        ctx.get("templates", body["templateId"], "Template")
    if body.get("variables"):
        check_variables(body["variables"])
    if not recips:
        raise invalid([{"field": "recipients", "message": "The selection resolves to no contact"}])
    quotas.check_outbound(ctx.db, ctx.user_id, ctx.now)
    assert start is not None
    cid = new_id()
    repeat = body.get("repeat", "none")
    camp: dict[str, Any] = {
        "id": cid, "userId": ctx.user_id, "instanceId": instance["id"], "name": body["name"],
        "templateId": body.get("templateId"), "type": mtype, "body": body.get("body"), "mediaUrl": body.get("mediaUrl"),
        "schedule": iso(start), "repeat": "none" if repeat == "noe" else repeat, "status": "scheduled",
        "recipients": body["recipients"], "templateVariables": body.get("variables"),
        "stats": {"planned": len(recips), "processingStartedAt": None, "lastEnqueuedAt": None, "completedAt": None, "cancelledAt": None},
        "createdAt": iso(ctx.now), "updatedAt": iso(ctx.now),
        "_ws": ctx.ws, "_schedule": start, "_recipients": recips, "_enq": 0, "_anchor": start, "_anchor_n": 0,
    }
    if mtype == "buttons":
        camp["content"] = {k: body.get(k) for k in ("title", "description", "footer", "buttons")}
    ctx.db.execute("INSERT INTO campaigns (id, ws, status, next_at, data) VALUES (?, ?, ?, ?, ?)",
                   (cid, ctx.ws, "scheduled", campaign_next_at(camp), dumps(camp)))
    ctx.wake(campaign_next_at(camp))
    ctx.created_id = cid
    out = render_campaign(ctx, camp, full=False)
    out["safety"] = safety_for(instance)
    return out


@route(ROUTES, "GET", "/campaigns/{id}")
def get_campaign(ctx: Ctx, id: str) -> dict[str, Any]:
    quotas.require_feature(ctx.db, "campaigns")  # listed (inferred) for this route only
    camp = ctx.get("campaigns", id, "Campaign")
    return render_campaign(ctx, camp)


@route(ROUTES, "GET", "/campaigns/{id}/stats")
def stats(ctx: Ctx, id: str) -> dict[str, Any]:
    camp = ctx.get("campaigns", id, "Campaign")
    return {"campaignId": camp["id"], "status": camp["status"], "stats": campaign_stats(ctx.db, camp)}


@route(ROUTES, "POST", "/campaigns/{id}/pause")
def pause(ctx: Ctx, id: str) -> dict[str, Any]:
    camp = ctx.get("campaigns", id, "Campaign")
    if camp["status"] not in ("scheduled", "running"):
        raise ApiError("BAD_REQUEST", f"Campaign cannot be paused while {camp['status']}")
    camp["status"] = "paused"
    camp["updatedAt"] = iso(ctx.now)
    save_campaign(ctx.db, camp)
    return render_campaign(ctx, camp)


@route(ROUTES, "POST", "/campaigns/{id}/resume")
def resume(ctx: Ctx, id: str) -> dict[str, Any]:
    camp = ctx.get("campaigns", id, "Campaign")
    if camp["status"] != "paused":
        raise ApiError("BAD_REQUEST", f"Only a paused campaign can be resumed (status: {camp['status']})")
    if ctx.now < camp["_schedule"]:
        camp["status"] = "scheduled"  # resumed before its start: it waits for the schedule again
    else:
        camp["status"] = "running"
        camp["_anchor"] = ctx.now
        camp["_anchor_n"] = camp["_enq"]
        camp["stats"]["processingStartedAt"] = camp["stats"].get("processingStartedAt") or iso(ctx.now)
    camp["updatedAt"] = iso(ctx.now)
    ctx.wake(save_campaign(ctx.db, camp))
    out = render_campaign(ctx, camp)
    out["safety"] = safety_for(_instance(ctx, camp))
    return out
