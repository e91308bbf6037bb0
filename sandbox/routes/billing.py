"""Billing, usage and account (read-only)."""

from __future__ import annotations

import math
from typing import Any

from .. import quotas
from ..keys import TEAM_ID, TEAM_NAME
from ..plans import PLANS, plan_item
from ..store import Ctx, loads
from ..util import query_int
from .base import RouteSpec, route

ROUTES: list[RouteSpec] = []


@route(ROUTES, "GET", "/billing/plans")
def plans(ctx: Ctx) -> list[dict[str, Any]]:
    return [plan_item(code) for code in PLANS]


@route(ROUTES, "GET", "/billing/subscription")
def subscription(ctx: Ctx) -> dict[str, Any]:
    code = quotas.plan_code(ctx.db)
    item = plan_item(code)
    acct = quotas.account(ctx.db)
    return {
        "subscription": {
            "plan": {"code": code, "name": item["name"], "limits": item["limits"], "features": item["features"]},
            "status": "active" if acct.get("subscriptionActive", True) else "inactive",
            "scheduledPlan": None, "scheduledPlanAt": None, "scheduledAction": None,
        },
        "usage": quotas.usage_block(ctx.db, ctx.user_id, ctx.now),
        "period": quotas.period_bounds(ctx.now),
    }


def _usage(ctx: Ctx) -> dict[str, Any]:
    item = plan_item(quotas.plan_code(ctx.db))
    return {
        "plan": {"code": item["code"], "name": item["name"]},
        "limits": item["limits"],
        "features": item["features"],
        "usage": quotas.usage_block(ctx.db, ctx.user_id, ctx.now),
        "period": quotas.period_bounds(ctx.now),
    }


@route(ROUTES, "GET", "/billing/usage")
def billing_usage(ctx: Ctx) -> dict[str, Any]:
    return _usage(ctx)


@route(ROUTES, "GET", "/usage")
def legacy_usage(ctx: Ctx) -> dict[str, Any]:
    return _usage(ctx)


@route(ROUTES, "GET", "/billing/payments")
def payments(ctx: Ctx) -> dict[str, Any]:
    page = query_int(ctx.query, "page", 1, 1_000_000)
    limit = query_int(ctx.query, "limit", 20, 100)
    total = ctx.db.execute("SELECT count(*) FROM payments WHERE user_id = ?", (ctx.user_id,)).fetchone()[0]
    rows = ctx.db.execute("SELECT data FROM payments WHERE user_id = ? ORDER BY json_extract(data, '$.createdAt') DESC LIMIT ? OFFSET ?",
                          (ctx.user_id, limit, (page - 1) * limit))
    return {"payments": [loads(r["data"]) for r in rows], "total": total, "page": page, "totalPages": math.ceil(total / limit)}


@route(ROUTES, "GET", "/me")
def me(ctx: Ctx) -> dict[str, Any]:
    # Shape not documented for v1; modelled on the console's /api/auth/me.
    acct = quotas.account(ctx.db)
    return {
        "id": acct["userId"], "fullName": acct["fullName"], "email": acct["email"], "phone": acct.get("phone"),
        "plan": quotas.plan_code(ctx.db), "createdAt": acct.get("createdAt"),
        "teams": [{"id": TEAM_ID, "name": TEAM_NAME, "role": "owner"}],
    }
