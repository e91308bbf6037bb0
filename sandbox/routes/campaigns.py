"""Campaigns: create (scheduled), get, stats, pause, resume.  Runs, resolution and stats live in
`campaign_runs` (recipients enqueued at CAMPAIGN_PACE per second, lazily on the sandbox clock)."""

from __future__ import annotations

from typing import Any

from .. import campaign_runs, quotas
from .. import seed as S
from ..campaign_runs import campaign_stats
from ..errors import ApiError, invalid, not_found
from ..lifecycle import safety_for
from ..store import Ctx
from ..util import F, is_uuid, new_id, parse_iso, public, raise_if, require, validate
from .base import MISSING, UNKNOWN, Call, Req, RouteSpec, route
from .content import BUTTONS_SPEC, CAMPAIGN_TYPES, CAPTION_TYPES, check_direct_fields
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


SELECTOR_KEYS = {"all": (), "tags": ("value",), "explicit": ("value",), "group": ("groupId",)}


def _check_selector(sel: dict[str, Any], details: list[dict[str, Any]]) -> None:
    """§8.1's selector, strictly: a key the selector's type does not use is refused, never stored and echoed."""
    kind = sel.get("type")
    if kind not in SELECTOR_KEYS:
        details.append({"field": "recipients.type", "message": "One of all, tags, explicit, group"})
        return
    for name in sorted(set(sel) - {"type", *SELECTOR_KEYS[kind]}):
        details.append({"field": f"recipients.{name}", "message": f"Not used with type={kind}"})
    value = sel.get("value")
    if kind in ("tags", "explicit"):
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            details.append({"field": "recipients.value", "message": f"At least one {'tag' if kind == 'tags' else 'contact id'} required"})
        elif kind == "explicit" and not all(is_uuid(v) for v in value):
            details.append({"field": "recipients.value", "message": "Expected contact UUIDs"})
        # inferred(explicit-cap): §8.1 states no cap on explicit ids; the sandbox sets none (the client caps
        # at 10,000, the bulk-operation cap of §10.6/§11.3, as its own choice).
    if kind == "group" and not is_uuid(sel.get("groupId")):
        details.append({"field": "recipients.groupId", "message": "A group UUID is required for type=group"})


# Direct-content fields other than `type`: none of them may come with templateId (§8.1, one content mode).
DIRECT_FIELDS = ("body", "mediaUrl", "title", "description", "footer", "buttons")


def _check_content(body: dict[str, Any], details: list[dict[str, Any]]) -> None:
    mtype = body.get("type")
    if (mtype is None) == (body.get("templateId") is None):
        details.append({"field": "templateId", "message": "Provide exactly one content mode: templateId or type"})
    if body.get("templateId") is not None:
        for name in DIRECT_FIELDS:
            if name in body:
                details.append({"field": name, "message": "Not used with templateId (the template supplies the content)"})
        return
    if mtype is None:
        return
    if mtype == "text":
        require("body" in body, "body", "Required for type=text", details)
    if "body" in body and mtype != "text" and mtype not in CAPTION_TYPES:  # §8.1: a caption "for some media"
        details.append({"field": "body", "message": f"Not used with type={mtype}" + ("; use description" if mtype == "buttons" else "")})
    check_direct_fields(body, mtype, details)


def render_campaign(ctx: Ctx, camp: dict[str, Any], full: bool = True) -> dict[str, Any]:
    out = public(camp)
    out["stats"] = campaign_stats(ctx.db, camp, full)
    return out


def _instance(ctx: Ctx, camp: dict[str, Any]) -> dict[str, Any]:
    return ctx.find("instances", camp["instanceId"]) or {"status": "disconnected"}


# Calls for the contract test (sandbox/routes/base.py): dates are after its clock, 2026-04-10.
PC = S.PERSONAL_CONNECTED_INSTANCE_ID
SCHEDULED = S.SCHEDULED_CAMPAIGN_ID
CAMPAIGN = {"instanceId": PC, "name": "c", "schedule": "2026-05-01T00:00:00Z", "recipients": {"type": "all"},
            "type": "text", "body": "b"}


@route(ROUTES, "POST", "/campaigns", 201,
       example=Call({"instanceId": PC, "name": "Promo Black Friday", "schedule": "2026-04-12T10:00:00.000Z",
                     "repeat": "noe", "recipients": {"type": "all"}, "templateId": S.PROMO_TEMPLATE_ID,
                     "variables": {"code": "BF20"}}),
       errors={
           "VALIDATION_ERROR": Call({**CAMPAIGN, "templateId": S.PROMO_TEMPLATE_ID}),
           "CAMPAIGNS_NOT_AVAILABLE_ON_PLAN": Call(CAMPAIGN, account={"plan": "free"}),
           "NOT_FOUND": Call({**CAMPAIGN, "instanceId": MISSING}),
           "MONTHLY_OUTBOUND_QUOTA_EXCEEDED": Call(CAMPAIGN, account={"usage": {"messagesCount": 5000}}),
       })
def create(ctx: Ctx) -> dict[str, Any]:
    body = validate(ctx.body, CREATE_SPEC)
    details: list[dict[str, Any]] = []
    _check_content(body, details)
    start = parse_iso(body["schedule"])
    if start is None:
        details.append({"field": "schedule", "message": "Expected an ISO 8601 date-time"})
    _check_selector(body["recipients"], details)
    raise_if(details)
    quotas.require_feature(ctx.db, "campaigns")
    instance = ctx.get("instances", body["instanceId"], "Instance")
    if body.get("templateId"):
        ctx.get("templates", body["templateId"], "Template")
    if body["recipients"]["type"] == "group" and ctx.find("groups", body["recipients"]["groupId"]) is None:
        raise not_found("Group")
    if body.get("variables"):
        check_variables(body["variables"])
    # inferred(campaign-empty-selection): a selection that reaches no contact now is refused at create,
    # whatever the resolution time (the reference refuses "an empty campaign" without saying which kind).
    if not campaign_runs.resolve(ctx.db, ctx.ws, body["recipients"]):
        raise invalid([{"field": "recipients", "message": "The selection resolves to no contact"}])
    quotas.check_outbound(ctx.db, ctx.user_id, ctx.now)
    assert start is not None
    # inferred(campaign-past-schedule): a past `schedule` is accepted and the campaign starts at once
    # (§8.1 is silent; a client must not rely on either a refusal or a delay).
    repeat = body.get("repeat", "none")
    content = {k: body.get(k) for k in ("templateId", "type", "body", "mediaUrl", *campaign_runs.BUTTONS_FIELDS)}
    camp = campaign_runs.new_campaign(
        ctx.db, cid=new_id(), ws=ctx.ws, user_id=ctx.user_id, instance_id=instance["id"], name=body["name"],
        content=content, schedule=start, repeat="none" if repeat == "noe" else repeat, recipients=body["recipients"],
        variables=body.get("variables"), created=ctx.now, resolution=ctx.sandbox.config.resolution)
    ctx.wake(campaign_runs.insert_campaign(ctx.db, camp))
    ctx.created_id = camp["id"]
    out = render_campaign(ctx, camp, full=False)
    out["safety"] = safety_for(instance)
    return out


@route(ROUTES, "GET", "/campaigns/{id}", example=Call(id=SCHEDULED), errors={
    "NOT_FOUND": UNKNOWN, "CAMPAIGNS_NOT_AVAILABLE_ON_PLAN": Call(id=SCHEDULED, account={"plan": "free"})})
def get_campaign(ctx: Ctx, id: str) -> dict[str, Any]:
    quotas.require_feature(ctx.db, "campaigns")  # inferred(campaign-get-plan-gate): listed for this route only
    camp = ctx.get("campaigns", id, "Campaign")
    return render_campaign(ctx, camp)


@route(ROUTES, "GET", "/campaigns/{id}/stats", example=Call(id=SCHEDULED), errors={"NOT_FOUND": UNKNOWN})
def stats(ctx: Ctx, id: str) -> dict[str, Any]:
    camp = ctx.get("campaigns", id, "Campaign")
    return {"campaignId": camp["id"], "status": camp["status"], "stats": campaign_stats(ctx.db, camp)}


@route(ROUTES, "POST", "/campaigns/{id}/pause", example=Call(id=SCHEDULED),
       errors={"BAD_REQUEST": Call(id=S.FINISHED_CAMPAIGN_ID), "NOT_FOUND": UNKNOWN})
def pause(ctx: Ctx, id: str) -> dict[str, Any]:
    camp = ctx.get("campaigns", id, "Campaign")
    if camp["status"] not in ("scheduled", "running"):  # inferred(campaign-pausable): §8.3 lists no statuses
        raise ApiError("BAD_REQUEST", f"Campaign cannot be paused while {camp['status']}")
    campaign_runs.pause(camp, ctx.now)
    campaign_runs.save_campaign(ctx.db, camp)
    return render_campaign(ctx, camp)


@route(ROUTES, "POST", "/campaigns/{id}/resume", example=Call(id=SCHEDULED, first=(Req("POST", "/campaigns/{id}/pause"),)),
       errors={"BAD_REQUEST": Call(id=SCHEDULED), "NOT_FOUND": UNKNOWN})
def resume(ctx: Ctx, id: str) -> dict[str, Any]:
    camp = ctx.get("campaigns", id, "Campaign")
    if camp["status"] != "paused":
        raise ApiError("BAD_REQUEST", f"Only a paused campaign can be resumed (status: {camp['status']})")
    campaign_runs.resume(ctx.db, camp, ctx.now)
    ctx.wake(campaign_runs.save_campaign(ctx.db, camp))
    out = render_campaign(ctx, camp)
    out["safety"] = safety_for(_instance(ctx, camp))
    return out
