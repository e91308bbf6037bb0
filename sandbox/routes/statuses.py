"""WhatsApp statuses (stories): text or image, plan-gated, consume the outbound quota."""

from __future__ import annotations

from typing import Any

from .. import quotas
from .. import seed as S
from ..errors import ApiError, invalid
from ..store import Ctx
from ..util import F, is_hex_color, is_public_url, new_id, provider_id, validate
from .base import MISSING, Call, RouteSpec, route

ROUTES: list[RouteSpec] = []
SPEC = {
    "instanceId": F("uuid", required=True),
    "type": F("enum", required=True, enum=("text", "image")),
    "content": F("string", required=True, min_len=1, max_len=4096),
    "caption": F("string", max_len=1024),
    "backgroundColor": F("string", max_len=7),
}


STATUS = {"instanceId": S.PERSONAL_CONNECTED_INSTANCE_ID, "type": "text", "content": "x"}  # for the contract test


@route(ROUTES, "POST", "/statuses", 201,
       example=Call({"instanceId": S.PERSONAL_CONNECTED_INSTANCE_ID, "type": "text", "content": "Nouveautés !",
                     "backgroundColor": "#00a884"}),
       errors={
           "STATUSES_NOT_AVAILABLE_ON_PLAN": Call(STATUS, account={"plan": "starter"}),
           "NOT_FOUND": Call({**STATUS, "instanceId": MISSING}),
           "MONTHLY_OUTBOUND_QUOTA_EXCEEDED": Call(STATUS, account={"usage": {"statusesCount": 5000}}),
           "PROVIDER_ERROR": Call({**STATUS, "instanceId": S.PERSONAL_DISCONNECTED_INSTANCE_ID}),
       })
def publish(ctx: Ctx) -> dict[str, Any]:
    body = validate(ctx.body, SPEC)
    details = []
    if body["type"] == "image" and not is_public_url(body["content"]):
        details.append({"field": "content", "message": "Expected a public image URL for type=image"})
    if "backgroundColor" in body and not is_hex_color(body["backgroundColor"]):
        details.append({"field": "backgroundColor", "message": "Expected a hex colour such as #00a884"})
    if details:
        raise invalid(details)
    quotas.require_feature(ctx.db, "statuses")
    instance = ctx.get("instances", body["instanceId"], "Instance")
    if instance["status"] != "connected":
        # Our choice: the provider refuses to publish from a disconnected number.
        raise ApiError("PROVIDER_ERROR", "The provider rejected the status: instance is not connected")
    quotas.check_outbound(ctx.db, ctx.user_id, ctx.now)
    quotas.bump(ctx.db, ctx.user_id, ctx.now, "statuses")
    return {"instanceId": instance["id"], "providerMessageId": provider_id(new_id())}
