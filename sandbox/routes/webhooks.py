"""Webhooks: list (never the secret), create (secret shown once), delete."""

from __future__ import annotations

import secrets
from typing import Any

from .. import quotas
from .. import seed as S
from ..errors import ApiError, invalid
from ..store import Ctx, dumps, loads
from ..util import F, is_public_url, iso, new_id, public, validate
from .base import UNKNOWN, Call, Req, RouteSpec, route

ROUTES: list[RouteSpec] = []
EVENTS = ("instance.connected", "instance.disconnected", "message.sent", "message.delivered", "message.read",
          "message.failed", "message.received")
SPEC = {"url": F("string", required=True, max_len=2048), "events": F("string[]", required=True, min_items=1, max_items=50)}


HOOK = {"url": "https://e.com/h", "events": ["message.sent"]}  # for the contract test's calls


@route(ROUTES, "GET", "/webhooks", errors={"WEBHOOKS_NOT_AVAILABLE_ON_PLAN": Call(account={"plan": "free"})})
def list_webhooks(ctx: Ctx) -> list[dict[str, Any]]:
    quotas.require_feature(ctx.db, "webhooks")
    rows = ctx.db.execute("SELECT data FROM webhooks WHERE ws = ? ORDER BY rid", (ctx.ws,))
    return [public(loads(r["data"])) for r in rows]


@route(ROUTES, "POST", "/webhooks", 201,
       example=Call({"url": "https://example.com/webhooks/msgflash", "events": ["message.delivered", "message.failed", "message.read"]}),
       errors={
           "VALIDATION_ERROR": Call({"url": "http://insecure.example.com/h", "events": ["message.sent"]}),
           "WEBHOOKS_NOT_AVAILABLE_ON_PLAN": Call(HOOK, account={"plan": "free"}),
           "MAX_WEBHOOK_ENDPOINTS_REACHED": Call(HOOK, first=tuple(
               Req("POST", "/webhooks", {**HOOK, "url": f"https://e.com/{i}"}) for i in range(9))),  # 1 seeded + 9
       })
def create(ctx: Ctx) -> dict[str, Any]:
    body = validate(ctx.body, SPEC)
    details = []
    if not is_public_url(body["url"], https_only=True):
        details.append({"field": "url", "message": "Expected an https:// URL"})
    for i, ev in enumerate(body["events"]):
        if ev not in EVENTS:
            details.append({"field": f"events[{i}]", "message": "One of " + ", ".join(EVENTS)})
    if details:
        raise invalid(details)
    quotas.require_feature(ctx.db, "webhooks")
    cap = quotas.limits(ctx.db)["maxWebhookEndpoints"]
    count = ctx.db.execute("SELECT count(*) FROM webhooks WHERE ws = ?", (ctx.ws,)).fetchone()[0]
    if cap is not None and count >= cap:
        raise ApiError("MAX_WEBHOOK_ENDPOINTS_REACHED", f"Your plan allows {cap} webhook endpoints")
    secret = "whsec_" + secrets.token_hex(24)
    hook = {"id": new_id(), "url": body["url"], "events": list(dict.fromkeys(body["events"])), "active": True,
            "createdAt": iso(ctx.now), "_secret": secret}
    ctx.db.execute("INSERT INTO webhooks (id, ws, data) VALUES (?, ?, ?)", (hook["id"], ctx.ws, dumps(hook)))
    ctx.created_id = hook["id"]
    out = public(hook)
    out["secret"] = secret  # shown once; union of the two documented shapes
    return out


@route(ROUTES, "DELETE", "/webhooks/{id}", example=Call(id=S.DEMO_WEBHOOK_ID), errors={"NOT_FOUND": UNKNOWN})
def delete(ctx: Ctx, id: str) -> dict[str, Any]:
    ctx.get("webhooks", id, "Webhook")
    ctx.db.execute("DELETE FROM webhooks WHERE id = ?", (id,))
    return {"id": id, "deleted": True}
