"""Instances: read-only (created and connected in the dashboard)."""

from __future__ import annotations

from typing import Any

from .. import seed as S
from ..keys import TEAM_ID
from ..lifecycle import safety_for
from ..store import Ctx, loads
from ..util import public
from .base import UNKNOWN, Call, RouteSpec, route

ROUTES: list[RouteSpec] = []
PROVIDER_STATE = {"connected": "open", "connecting": "connecting", "disconnected": "close"}


def get_instance(ctx: Ctx, instance_id: str) -> dict[str, Any]:
    return ctx.get("instances", instance_id, "Instance")


@route(ROUTES, "GET", "/instances")
def list_instances(ctx: Ctx) -> list[dict[str, Any]]:
    rows = ctx.db.execute("SELECT data FROM instances WHERE ws = ? ORDER BY rid", (ctx.ws,))
    return [public(loads(r["data"])) for r in rows]


@route(ROUTES, "GET", "/instances/{id}", example=Call(id=S.PERSONAL_CONNECTED_INSTANCE_ID),
       errors={"NOT_FOUND": Call(id=TEAM_ID)})
def get_one(ctx: Ctx, id: str) -> dict[str, Any]:
    return public(get_instance(ctx, id))


@route(ROUTES, "GET", "/instances/{id}/state", example=Call(id=S.PERSONAL_CONNECTED_INSTANCE_ID),
       errors={"NOT_FOUND": Call(id=S.TEAM_INSTANCE_ID)})  # another workspace's instance
def state(ctx: Ctx, id: str) -> dict[str, Any]:
    inst = get_instance(ctx, id)
    return {"instanceId": inst["id"], "status": inst["status"], "providerState": PROVIDER_STATE.get(inst["status"], "close")}


@route(ROUTES, "GET", "/instances/{id}/health", example=Call(id=S.PERSONAL_CONNECTED_INSTANCE_ID),
       errors={"NOT_FOUND": UNKNOWN})
def health(ctx: Ctx, id: str) -> dict[str, Any]:
    inst = get_instance(ctx, id)
    return {"instanceId": inst["id"], **safety_for(inst)}
